package org.divert4j.tck;

import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * The settings of a TCK run, in one place (the Reactive Streams TCK's {@code TestEnvironment}).
 * Each setting is read, first found wins, from: a JUnit configuration parameter (which JUnit itself
 * falls back to a system property of the same name for), then an environment variable, then the
 * default. A value that cannot be parsed fails with the setting's name, never silently.
 *
 * <table>
 *   <caption>Settings</caption>
 *   <tr><th>parameter / system property</th><th>environment</th><th>default</th><th>meaning</th></tr>
 *   <tr><td>{@value #BACKEND}</td><td>DIVERT_TCK_BACKEND</td><td>{@code divert.backend}</td>
 *       <td>the provider to verify, by name</td></tr>
 *   <tr><td>{@value #REQUIRE_AVAILABLE}</td><td>DIVERT_TCK_REQUIRE_AVAILABLE</td><td>false</td>
 *       <td>fail instead of skip when the backend is unavailable</td></tr>
 *   <tr><td>{@value #TIMEOUT}</td><td>DIVERT_TCK_TIMEOUT</td><td>5s</td>
 *       <td>how long to wait for something that must happen (a packet, a datagram)</td></tr>
 *   <tr><td>{@value #REPORT_DIR}</td><td>DIVERT_TCK_REPORT_DIR</td><td>none</td>
 *       <td>where the report listener also writes text, JSON and JUnit XML reports</td></tr>
 * </table>
 *
 * <p>Immutable and thread-safe.
 */
public final class TckSettings {
  /** Names the backend (provider) to verify. */
  public static final String BACKEND = "divert.tck.backend";

  /** {@code true}: an unavailable backend fails every test instead of skipping it (CI sets it). */
  public static final String REQUIRE_AVAILABLE = "divert.tck.requireAvailable";

  /** How long to wait for an expected event: a duration such as {@code 5s}, {@code 500ms}. */
  public static final String TIMEOUT = "divert.tck.timeout";

  /** A directory for the report files; none are written when unset. */
  public static final String REPORT_DIR = "divert.tck.reportDir";

  /** Internal: a key into {@link ProviderRegistry}, set by {@link Tck} for a provider object. */
  static final String PROVIDER_REF = "divert.tck.providerRef";

  /** The default {@link #TIMEOUT}. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(5);

  private final String backend;
  private final boolean requireAvailable;
  private final Duration timeout;
  private final String reportDir;
  private final String providerRef;

  private TckSettings(
      String backend,
      boolean requireAvailable,
      Duration timeout,
      String reportDir,
      String providerRef) {
    this.backend = backend;
    this.requireAvailable = requireAvailable;
    this.timeout = timeout;
    this.reportDir = reportDir;
    this.providerRef = providerRef;
  }

  /**
   * Reads the settings.
   *
   * @param parameters looks up a configuration parameter (with JUnit's system property fallback);
   *     returns empty when unset
   * @param environment the environment variables
   * @return the settings
   * @throws IllegalArgumentException naming the setting whose value is bad
   */
  public static TckSettings read(
      Function<String, Optional<String>> parameters, Map<String, String> environment) {
    Function<String, String> get =
        key -> {
          Optional<String> v = parameters.apply(key).filter(s -> !s.isBlank());
          if (v.isPresent()) {
            return v.get().trim();
          }
          String env = environment.get(envName(key));
          return env == null || env.isBlank() ? null : env.trim();
        };
    String backend = get.apply(BACKEND);
    if (backend == null) {
      String fallback = System.getProperty("divert.backend", environment.get("DIVERT_BACKEND"));
      backend = fallback == null || fallback.isBlank() ? null : fallback.trim();
    }
    if (backend != null) {
      backend = backend.toLowerCase(Locale.ROOT);
    }
    String require = get.apply(REQUIRE_AVAILABLE);
    boolean requireAvailable = false;
    if (require != null) {
      if (require.equalsIgnoreCase("true")) {
        requireAvailable = true;
      } else if (!require.equalsIgnoreCase("false")) {
        throw new IllegalArgumentException(
            REQUIRE_AVAILABLE
                + " (or "
                + envName(REQUIRE_AVAILABLE)
                + ") must be true or false, not '"
                + require
                + "'");
      }
    }
    String t = get.apply(TIMEOUT);
    Duration timeout = t == null ? DEFAULT_TIMEOUT : parseDuration(TIMEOUT, t);
    return new TckSettings(
        backend, requireAvailable, timeout, get.apply(REPORT_DIR), get.apply(PROVIDER_REF));
  }

  /**
   * Reads the settings from system properties and the environment only.
   *
   * @return the settings
   */
  public static TckSettings fromSystem() {
    return read(k -> Optional.ofNullable(System.getProperty(k)), System.getenv());
  }

  /**
   * @param key a setting name such as {@code divert.tck.timeout}
   * @return its environment variable name, such as {@code DIVERT_TCK_TIMEOUT}
   */
  static String envName(String key) {
    StringBuilder sb = new StringBuilder();
    for (char c : key.toCharArray()) {
      if (c == '.') {
        sb.append('_');
      } else if (Character.isUpperCase(c)) {
        sb.append('_').append(c);
      } else {
        sb.append(Character.toUpperCase(c));
      }
    }
    return sb.toString();
  }

  static Duration parseDuration(String key, String text) {
    String s = text.trim().toLowerCase(Locale.ROOT);
    try {
      Duration d;
      if (s.startsWith("pt")) {
        d = Duration.parse(s.toUpperCase(Locale.ROOT));
      } else if (s.endsWith("ms")) {
        d = Duration.ofMillis(Long.parseLong(s.substring(0, s.length() - 2).trim()));
      } else if (s.endsWith("s")) {
        d =
            Duration.ofMillis(
                Math.round(Double.parseDouble(s.substring(0, s.length() - 1)) * 1000));
      } else {
        d = Duration.ofMillis(Long.parseLong(s));
      }
      if (!d.isNegative() && !d.isZero()) {
        return d;
      }
    } catch (RuntimeException e) {
      // reported below with the setting's name
    }
    throw new IllegalArgumentException(
        key
            + " (or "
            + envName(key)
            + ") must be a positive duration such as 5s, 500ms or PT2S, not '"
            + text
            + "'");
  }

  /**
   * @return the backend to verify, lower case, or empty if none is named
   */
  public Optional<String> backend() {
    return Optional.ofNullable(backend);
  }

  /**
   * @return true if an unavailable backend fails the run instead of skipping it
   */
  public boolean requireAvailable() {
    return requireAvailable;
  }

  /**
   * @return how long to wait for something that must happen
   */
  public Duration timeout() {
    return timeout;
  }

  /**
   * @return the directory for report files, if one is set
   */
  public Optional<String> reportDir() {
    return Optional.ofNullable(reportDir);
  }

  Optional<String> providerRef() {
    return Optional.ofNullable(providerRef);
  }

  @Override
  public String toString() {
    return BACKEND
        + "="
        + backend
        + " "
        + REQUIRE_AVAILABLE
        + "="
        + requireAvailable
        + " "
        + TIMEOUT
        + "="
        + timeout.toMillis()
        + "ms";
  }
}
