package org.divert4j;

import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import org.divert4j.spi.Availability;
import org.divert4j.spi.DivertProvider;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;

/**
 * The entry point: finds backends and opens hosts.
 *
 * <pre>{@code
 * try (DivertHost host = Divert.open(HostOptions.defaults());
 *      DivertSocket socket = host.bind(1234)) {
 *   host.addRule(DivertRule.parse("input -p icmp -j DIVERT 1234"));
 *   ByteBuffer buf = ByteBuffer.allocateDirect(65535);
 *   DivertAddress from = socket.receive(buf.clear());
 *   socket.send(buf.flip(), from);               // write it back unchanged
 * }
 * }</pre>
 *
 * <p><b>Selection.</b> The system property {@value #BACKEND_PROPERTY}, or else the environment
 * variable {@value #BACKEND_ENV}, names a provider; a named provider that is missing or unavailable
 * fails with every provider's reason. Otherwise the available, auto-selectable provider with the
 * highest priority wins. The simulation ({@code sim}) is never auto-selected.
 *
 * <p>Thread-safe; discovery runs on each call (providers cache their own availability).
 */
public final class Divert {
  /** The system property that names the backend to use. */
  public static final String BACKEND_PROPERTY = "divert.backend";

  /** The environment variable that names the backend to use, if the property is not set. */
  public static final String BACKEND_ENV = "DIVERT_BACKEND";

  private Divert() {}

  /**
   * Every provider found, in descending priority. A provider that cannot even be loaded (say its
   * class needs a missing library) is listed as unavailable with the loading error, instead of
   * breaking discovery.
   *
   * @return the providers
   */
  public static List<DivertProvider> providers() {
    List<DivertProvider> found = new ArrayList<>();
    ClassLoader loader = Divert.class.getClassLoader();
    Iterator<DivertProvider> it = ServiceLoader.load(DivertProvider.class, loader).iterator();
    while (true) {
      try {
        if (!it.hasNext()) {
          break;
        }
        found.add(it.next());
      } catch (ServiceConfigurationError | LinkageError e) {
        found.add(new UnloadableProvider(e));
      }
    }
    found.sort(Comparator.comparingInt(DivertProvider::priority).reversed());
    return found;
  }

  /**
   * The provider selection names: {@value #BACKEND_PROPERTY}, else {@value #BACKEND_ENV}, else
   * null.
   *
   * @return the requested backend name, or null if none is requested
   */
  public static String requestedBackend() {
    String name = System.getProperty(BACKEND_PROPERTY);
    if (name == null || name.isBlank()) {
      name = System.getenv(BACKEND_ENV);
    }
    return name == null || name.isBlank() ? null : name.trim().toLowerCase(Locale.ROOT);
  }

  /**
   * Selects a provider as described in the class comment.
   *
   * @return the provider to use
   * @throws BackendUnavailableException if the requested provider is missing or unavailable, or
   *     none is available; the message lists every provider with its reason
   */
  public static DivertProvider provider() throws BackendUnavailableException {
    return select(providers(), requestedBackend());
  }

  /**
   * The named provider, if it is available. Three ways to ask, one for each kind of caller:
   *
   * <ul>
   *   <li>this method, for programs that handle a missing backend as one more I/O failure: the
   *       checked {@link BackendUnavailableException} says why, listing every provider;
   *   <li>{@link #requireProvider(String)}, for tests and set-up code where a missing backend is a
   *       configuration error, such as a {@code TckSuite} subclass's {@code provider()}: the same
   *       failure, unchecked;
   *   <li>{@link #findProvider(String)}, for code that chooses what to do without the backend (fall
   *       back to another, leave a feature out): an {@link Optional}, without the reason.
   * </ul>
   *
   * <p>Runs discovery on each call; thread-safe.
   *
   * @param name a provider name, e.g. {@code sim}; case and surrounding blanks do not matter
   * @return the provider
   * @throws BackendUnavailableException if it is missing or unavailable; the message lists every
   *     provider with its reason
   */
  public static DivertProvider provider(String name) throws BackendUnavailableException {
    return select(providers(), normalize(name));
  }

  /**
   * The named provider, or an unchecked failure: {@link #provider(String)} for tests and set-up
   * code, where a missing backend is a configuration error to report, not a condition to handle.
   *
   * <pre>{@code
   * class SimTckTest extends TckSuite {
   *   public DivertProvider provider() {
   *     return Divert.requireProvider("sim");
   *   }
   * }
   * }</pre>
   *
   * <p>Runs discovery on each call; thread-safe.
   *
   * @param name a provider name, e.g. {@code sim}; case and surrounding blanks do not matter
   * @return the provider, available
   * @throws UncheckedIOException if it is missing or unavailable, with the message of {@link
   *     #provider(String)} (every provider with its reason) and its {@link
   *     BackendUnavailableException} as the cause
   */
  public static DivertProvider requireProvider(String name) {
    try {
      return provider(name);
    } catch (BackendUnavailableException e) {
      throw new UncheckedIOException(e.getMessage(), e);
    }
  }

  /**
   * The named provider if it is on the class path and available, else empty: for code that decides
   * what to do without it. It does not say why a provider is missing; when the reason matters (a
   * test that skips itself should print it), use {@link #provider(String)} or {@link #providers()}.
   *
   * <p>Runs discovery on each call; thread-safe; never throws for a missing provider.
   *
   * @param name a provider name, e.g. {@code sim}; case and surrounding blanks do not matter
   * @return the available provider, or empty
   */
  public static Optional<DivertProvider> findProvider(String name) {
    String wanted = normalize(name);
    for (DivertProvider p : providers()) {
      if (p.name().equals(wanted) && p.availability().available()) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }

  private static String normalize(String name) {
    return Objects.requireNonNull(name, "name").trim().toLowerCase(Locale.ROOT);
  }

  /**
   * Opens a host with default options on the selected provider.
   *
   * @return the host; the caller closes it
   * @throws DivertException as {@link DivertProvider#open(HostOptions)}, or if no provider is
   *     available
   */
  public static DivertHost open() throws DivertException {
    return open(HostOptions.defaults());
  }

  /**
   * Opens a host on the selected provider.
   *
   * @param options host options
   * @return the host; the caller closes it
   * @throws PermissionException if the named backend needs privileges this process lacks (S46)
   * @throws DivertException as {@link DivertProvider#open(HostOptions)}, or if no provider is
   *     available
   */
  public static DivertHost open(HostOptions options) throws DivertException {
    return open(providers(), requestedBackend(), p -> p.open(options));
  }

  /**
   * Opens a test bed on the selected provider.
   *
   * @param options test bed options
   * @return the test bed; the caller closes it
   * @throws DivertException as {@link DivertProvider#testBed(TestBedOptions)}, or if no provider is
   *     available
   */
  public static TestBed testBed(TestBedOptions options) throws DivertException {
    return open(providers(), requestedBackend(), p -> p.testBed(options));
  }

  /** What {@link #open(HostOptions)} and {@link #testBed(TestBedOptions)} do with a provider. */
  @FunctionalInterface
  interface Opening<T> {
    T apply(DivertProvider provider) throws DivertException;
  }

  /**
   * Opens on the selected provider. A provider named by the selection but unavailable is still
   * asked to open: its availability is a summary, while its own open reports the typed reason, so
   * that a missing privilege surfaces as a {@link PermissionException} naming the capabilities
   * (S46), and an unavailable provider that can still do what is asked (pcap's savefile replay
   * needs no privilege) does it. Any other failure of that attempt is reported as the selection's
   * {@link BackendUnavailableException}, listing every provider, with the attempt suppressed.
   */
  static <T> T open(List<DivertProvider> providers, String requested, Opening<T> opening)
      throws DivertException {
    if (requested != null) {
      for (DivertProvider p : providers) {
        if (p.name().equals(requested) && !p.availability().available()) {
          try {
            return opening.apply(p);
          } catch (PermissionException e) {
            throw e;
          } catch (DivertException | RuntimeException e) {
            try {
              select(providers, requested);
            } catch (BackendUnavailableException u) {
              u.addSuppressed(e);
              throw u;
            }
            throw e;
          }
        }
      }
    }
    return opening.apply(select(providers, requested));
  }

  static DivertProvider select(List<DivertProvider> providers, String requested)
      throws BackendUnavailableException {
    if (requested != null) {
      for (DivertProvider p : providers) {
        if (p.name().equals(requested)) {
          Availability a = p.availability();
          if (a.available()) {
            return p;
          }
          throw new BackendUnavailableException(
              "divert backend '"
                  + requested
                  + "' is unavailable: "
                  + a.reason()
                  + describe(providers),
              a.cause());
        }
      }
      throw new BackendUnavailableException(
          "divert backend '"
              + requested
              + "' was not found (selected by "
              + BACKEND_PROPERTY
              + " or "
              + BACKEND_ENV
              + "); add its jar to the class path"
              + describe(providers),
          null);
    }
    DivertProvider best = null;
    for (DivertProvider p : providers) {
      if (p.autoSelectable()
          && p.availability().available()
          && (best == null || p.priority() > best.priority())) {
        best = p;
      }
    }
    if (best == null) {
      throw new BackendUnavailableException(
          "no divert backend is available to select automatically"
              + " (name one with -D"
              + BACKEND_PROPERTY
              + "=NAME or "
              + BACKEND_ENV
              + "=NAME; the simulation 'sim' is never chosen automatically)"
              + describe(providers),
          null);
    }
    return best;
  }

  private static String describe(List<DivertProvider> providers) {
    if (providers.isEmpty()) {
      return "; no providers were found on the class path";
    }
    StringBuilder sb = new StringBuilder("; providers:");
    for (DivertProvider p : providers) {
      sb.append("\n  ").append(p.name()).append(" (priority ").append(p.priority());
      sb.append(p.autoSelectable() ? "" : ", named only").append("): ");
      sb.append(p.availability());
    }
    return sb.toString();
  }

  /** Stands for a provider whose class could not be loaded or instantiated. */
  private static final class UnloadableProvider implements DivertProvider {
    private final String name;
    private final Availability availability;

    UnloadableProvider(Throwable error) {
      String message = String.valueOf(error.getMessage());
      String n = message;
      int p = message.indexOf("Provider ");
      if (p >= 0) {
        n = message.substring(p + 9).split("\\s+")[0];
      }
      this.name = "unloadable:" + n;
      Throwable root = error;
      while (root.getCause() != null) {
        root = root.getCause();
      }
      this.availability =
          Availability.unavailable(
              "the provider could not be loaded: " + root + " (is a dependency missing?)", error);
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public String description() {
      return "a provider that failed to load";
    }

    @Override
    public int priority() {
      return Integer.MIN_VALUE;
    }

    @Override
    public boolean autoSelectable() {
      return false;
    }

    @Override
    public Availability availability() {
      return availability;
    }

    @Override
    public Set<Capability> capabilities() {
      return Set.of();
    }

    @Override
    public DivertHost open(HostOptions options) throws DivertException {
      throw new BackendUnavailableException(availability.reason(), availability.cause());
    }

    @Override
    public TestBed testBed(TestBedOptions options) throws DivertException {
      throw new BackendUnavailableException(availability.reason(), availability.cause());
    }
  }
}
