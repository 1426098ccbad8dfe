package org.divert4j.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.divert4j.BackendUnavailableException;
import org.divert4j.Divert;
import org.divert4j.spi.Availability;
import org.divert4j.spi.DivertProvider;

/**
 * Finds providers for the command line, turning the selection failures of {@link Divert} into one
 * line each: an unknown name is a usage error (a typo), an unavailable backend says why.
 */
final class Backends {
  private Backends() {}

  /**
   * @param name a provider name, as typed
   * @return the provider, available or not
   * @throws CliException with {@link ExitCodes#USAGE} if no provider has that name
   */
  static DivertProvider find(String name) throws CliException {
    return find(name, Divert.providers());
  }

  /**
   * @param name a provider name, as typed
   * @param all the providers to look in
   * @return the provider, available or not
   * @throws CliException with {@link ExitCodes#USAGE} if none of them has that name
   */
  static DivertProvider find(String name, List<DivertProvider> all) throws CliException {
    String wanted = name.trim().toLowerCase(Locale.ROOT);
    for (DivertProvider p : all) {
      if (p.name().equals(wanted)) {
        return p;
      }
    }
    throw CliException.usage(
        "unknown backend '"
            + name
            + "': the backends on the class path are "
            + names(all)
            + " (see 'divert backends')");
  }

  /**
   * @param name a provider name, as typed
   * @return the provider, which is available
   * @throws CliException with {@link ExitCodes#USAGE} if no provider has that name, or {@link
   *     ExitCodes#UNAVAILABLE} if it is unavailable (the message says why)
   */
  static DivertProvider available(String name) throws CliException {
    DivertProvider p = find(name);
    Availability a = p.availability();
    if (!a.available()) {
      throw new CliException(
          ExitCodes.UNAVAILABLE,
          "the " + p.name() + " backend is not available: " + a.reason(),
          a.cause());
    }
    return p;
  }

  /**
   * The provider named on the command line, else the one {@link Divert#provider()} selects ({@code
   * divert.backend}, {@code DIVERT_BACKEND}, or the best auto-selectable).
   *
   * @param name the {@code --backend} value, or null
   * @return an available provider
   * @throws CliException if none can be used
   */
  static DivertProvider select(String name) throws CliException {
    if (name != null) {
      return available(name);
    }
    String requested = Divert.requestedBackend();
    if (requested != null) {
      return available(requested);
    }
    try {
      return Divert.provider();
    } catch (BackendUnavailableException e) {
      throw new CliException(
          ExitCodes.UNAVAILABLE,
          "no backend can be selected automatically here ("
              + summary(Divert.providers())
              + "); name one with --backend, e.g. --backend sim for the simulation",
          e);
    }
  }

  /**
   * @param e a failure from a provider
   * @return its first line, without the provider list {@link Divert} appends
   */
  static String reason(BackendUnavailableException e) {
    String s = Main.firstLine(e.getMessage());
    return s.endsWith("; providers:") ? s.substring(0, s.length() - "; providers:".length()) : s;
  }

  static String names(List<DivertProvider> providers) {
    List<String> n = new ArrayList<>();
    for (DivertProvider p : providers) {
      n.add(p.name());
    }
    return n.isEmpty() ? "none" : String.join(", ", n);
  }

  /** "sim: named only; rawsocket: unavailable (needs root)". */
  private static String summary(List<DivertProvider> providers) {
    if (providers.isEmpty()) {
      return "no backends on the class path";
    }
    List<String> parts = new ArrayList<>();
    for (DivertProvider p : providers) {
      Availability a = p.availability();
      if (!a.available()) {
        parts.add(p.name() + " is unavailable: " + a.reason());
      } else if (!p.autoSelectable()) {
        parts.add(p.name() + " is never chosen automatically");
      } else {
        parts.add(p.name() + " is available");
      }
    }
    return String.join("; ", parts);
  }
}
