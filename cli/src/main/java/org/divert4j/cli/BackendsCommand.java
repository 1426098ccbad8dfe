package org.divert4j.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.divert4j.BackendUnavailableException;
import org.divert4j.Capability;
import org.divert4j.Divert;
import org.divert4j.spi.Availability;
import org.divert4j.spi.DivertProvider;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code divert backends}: every provider found, available or not and why. */
@Command(
    name = "backends",
    mixinStandardHelpOptions = true,
    description = {
      "List every divert backend found on the class path: whether it can be used here (and if not,"
          + " why), its priority, whether it is selected automatically, and its capabilities."
    })
final class BackendsCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    List<DivertProvider> providers = Divert.providers();
    if (providers.isEmpty()) {
      out.println("No divert backends on the class path.");
      return ExitCodes.OK;
    }
    out.printf("%-12s %-12s %8s  %s%n", "BACKEND", "STATUS", "PRIORITY", "SELECTION");
    for (DivertProvider p : providers) {
      Availability a = p.availability();
      out.printf(
          "%-12s %-12s %8s  %s%n",
          p.name(),
          a.available() ? "available" : "unavailable",
          p.priority() == Integer.MIN_VALUE ? "-" : Integer.toString(p.priority()),
          p.autoSelectable() ? "automatic" : "by name only");
      out.println("  " + p.description());
      out.println("  capabilities: " + capabilities(p));
      if (!a.available()) {
        out.println("  why unavailable: " + Main.oneLine(a.reason()));
      }
    }
    out.println();
    out.println(selection());
    return ExitCodes.OK;
  }

  private static String capabilities(DivertProvider p) {
    List<String> c = new ArrayList<>();
    for (Capability cap : p.capabilities()) {
      c.add(cap.name());
    }
    return c.isEmpty() ? "none beyond the required rules" : String.join(", ", c);
  }

  /** One line on what a program that does not name a backend gets. */
  private static String selection() {
    String requested = Divert.requestedBackend();
    try {
      DivertProvider chosen = Divert.provider();
      return "Selected when none is named: "
          + chosen.name()
          + (requested != null ? " (requested by divert.backend / DIVERT_BACKEND)" : "");
    } catch (BackendUnavailableException e) {
      return requested != null
          ? "Selected when none is named: none: " + Backends.reason(e)
          : "Selected when none is named: none (no available backend is chosen automatically;"
              + " name one with --backend, e.g. --backend sim)";
    }
  }
}
