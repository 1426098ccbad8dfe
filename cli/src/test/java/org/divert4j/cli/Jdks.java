package org.divert4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Finds installed JDKs the way {@code scripts/test.sh} does: this JVM if it is new enough, else a
 * directory under {@link #JVM_DIR} with a {@code bin/java} and a {@code release} file whose {@code
 * JAVA_VERSION} is of that feature release or newer (the newest wins).
 */
final class Jdks {
  static final Path JVM_DIR = Path.of("/usr/lib/jvm");

  private static final Pattern VERSION =
      Pattern.compile("(?m)^JAVA_VERSION=\"(?:1\\.)?(\\d+)[^\"]*\"");

  private Jdks() {}

  /**
   * @param feature the lowest feature release, such as 25
   * @return the home of a JDK of that release or newer, if one is installed
   */
  static Optional<Path> atLeast(int feature) throws IOException {
    if (Runtime.version().feature() >= feature) {
      return Optional.of(Path.of(System.getProperty("java.home")));
    }
    if (!Files.isDirectory(JVM_DIR)) {
      return Optional.empty();
    }
    try (Stream<Path> homes = Files.list(JVM_DIR)) {
      return homes
          .filter(h -> Files.isExecutable(h.resolve("bin/java")))
          .filter(h -> feature(h).orElse(0) >= feature)
          .max(Comparator.comparingInt((Path h) -> feature(h).orElse(0)));
    }
  }

  /** The feature release in a JDK's release file, if it has one. */
  static OptionalInt feature(Path home) {
    try {
      Matcher m = VERSION.matcher(Files.readString(home.resolve("release")));
      return m.find() ? OptionalInt.of(Integer.parseInt(m.group(1))) : OptionalInt.empty();
    } catch (IOException | RuntimeException e) {
      return OptionalInt.empty();
    }
  }
}
