package org.divert4j.junit;

import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.junit.jupiter.api.extension.ExtensionConfigurationException;

/**
 * What {@link DivertExtension} reads: the backend to open and whether an unavailable one fails.
 * Each setting is a JUnit configuration parameter (JUnit falls back to the system property of the
 * same name), else an environment variable, else the default. Immutable.
 *
 * @param backend the provider name, lower case
 * @param requireAvailable true if an unavailable backend fails the test instead of skipping it
 */
record ExtensionSettings(String backend, boolean requireAvailable) {
  static ExtensionSettings read(
      Function<String, Optional<String>> parameters, Map<String, String> environment) {
    String backend =
        value(parameters, environment, DivertExtension.BACKEND_PROPERTY, "DIVERT_BACKEND")
            .orElse(DivertExtension.DEFAULT_BACKEND)
            .toLowerCase(Locale.ROOT);
    Optional<String> require =
        value(
            parameters,
            environment,
            DivertExtension.REQUIRE_AVAILABLE_PROPERTY,
            "DIVERT_TCK_REQUIRE_AVAILABLE");
    boolean requireAvailable = false;
    if (require.isPresent()) {
      String r = require.get();
      if (r.equalsIgnoreCase("true")) {
        requireAvailable = true;
      } else if (!r.equalsIgnoreCase("false")) {
        throw new ExtensionConfigurationException(
            DivertExtension.REQUIRE_AVAILABLE_PROPERTY
                + " (or DIVERT_TCK_REQUIRE_AVAILABLE) must be true or false, not '"
                + r
                + "'");
      }
    }
    return new ExtensionSettings(backend, requireAvailable);
  }

  private static Optional<String> value(
      Function<String, Optional<String>> parameters,
      Map<String, String> environment,
      String key,
      String env) {
    Optional<String> v = parameters.apply(key).map(String::trim).filter(s -> !s.isEmpty());
    if (v.isPresent()) {
      return v;
    }
    return Optional.ofNullable(environment.get(env)).map(String::trim).filter(s -> !s.isEmpty());
  }
}
