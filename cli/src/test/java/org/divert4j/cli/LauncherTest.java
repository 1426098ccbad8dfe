package org.divert4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the {@code ./divert} launcher itself, as a user on a fresh clone would: on a copy of the
 * sources without any build output (so it must build, and this build cannot disturb the one running
 * this test), from another directory. Skipped with a reason when bash or Maven is missing.
 */
class LauncherTest {
  private static final Set<String> NOT_COPIED = Set.of(".git", "target", ".idea", ".vscode");

  /** The JDK feature release whose run must be warning-free (issue 22: the current LTS). */
  private static final int NEWER_JDK = 25;

  @TempDir static Path tmp;

  /** The clone both tests use, built by the first {@code ./divert backends} on it. */
  private static Path clone;

  private static Run firstRun;

  @Test
  void buildsOnFirstUseThenRunsFromAnyDirectory() throws Exception {
    Path clone = builtClone();
    Run first = firstRun;
    assertEquals(0, first.status, first::toString);
    assertTrue(first.err.contains("divert: building (first run, ~1 min)"), first::toString);
    assertTrue(first.out.contains("\nsim          available"), first::toString);
    assertTrue(Files.isRegularFile(clone.resolve("cli/target/divert.classpath")), first::toString);
    // No JVM warning (JDK 24+ warns about jffi's and JNA's native libraries without the launcher's
    // --enable-native-access).
    assertNoWarning(first);

    Path elsewhere = Files.createDirectories(tmp.resolve("elsewhere"));
    Run second = run(elsewhere, null, clone.resolve("divert").toString(), "backends");
    assertEquals(0, second.status, second::toString);
    assertFalse(second.err.contains("building"), "no rebuild when nothing changed\n" + second);
    assertEquals(first.out, second.out);

    Run bad =
        run(elsewhere, null, clone.resolve("divert").toString(), "demo", "--backend", "nosuch");
    assertEquals(ExitCodes.USAGE, bad.status, bad::toString);
    assertEquals(
        "divert demo: unknown backend 'nosuch': the backends on the class path are "
            + Backends.names(org.divert4j.Divert.providers())
            + " (see 'divert backends')\n",
        bad.err);
  }

  /**
   * On JDK 25 (JAVA_HOME pointing at one under {@link Jdks#JVM_DIR}), {@code ./divert backends}
   * loads both backends' native libraries and prints no {@code WARNING:} line.
   */
  @Test
  void backendsPrintsNoWarningOnJdk25() throws Exception {
    Optional<Path> jdk = Jdks.atLeast(NEWER_JDK);
    assumeTrue(
        jdk.isPresent(),
        "no JDK "
            + NEWER_JDK
            + " or newer under "
            + Jdks.JVM_DIR
            + " (nor is this JVM one), so the launcher's run on it is not checked");
    Path clone = builtClone();
    Run r = run(tmp, jdk.get(), clone.resolve("divert").toString(), "backends");
    assertEquals(0, r.status, r::toString);
    assertTrue(r.out.contains("\nsim          available"), r::toString);
    assertTrue(r.out.contains("\nrawsocket "), r::toString);
    assertNoWarning(r);
  }

  private static void assertNoWarning(Run r) {
    for (String line : (r.out + r.err).split("\n")) {
      assertFalse(line.startsWith("WARNING:"), () -> "a JVM warning in\n" + r);
    }
  }

  /** Copies the sources once and runs {@code ./divert backends} on the copy, which builds it. */
  private static synchronized Path builtClone() throws Exception {
    if (clone == null) {
      Path root = Path.of("").toAbsolutePath().getParent();
      assumeTrue(Files.isExecutable(root.resolve("divert")), "no ./divert launcher at " + root);
      assumeTrue(onPath("bash"), "bash is not installed");
      assumeTrue(onPath("mvn"), "Maven (mvn) is not on the PATH, so the launcher cannot build");
      Path c = tmp.resolve("clone");
      copySources(root, c);
      Path elsewhere = Files.createDirectories(tmp.resolve("elsewhere"));
      firstRun = run(elsewhere, null, c.resolve("divert").toString(), "backends");
      clone = c;
    }
    return clone;
  }

  private record Run(int status, String out, String err) {
    @Override
    public String toString() {
      return "exit " + status + "\n--- stdout\n" + out + "--- stderr\n" + err;
    }
  }

  /**
   * @param javaHome the JAVA_HOME to run with, or null for the environment's
   */
  private static Run run(Path dir, Path javaHome, String... command) throws Exception {
    Path out = Files.createTempFile("divert-out", ".txt");
    Path err = Files.createTempFile("divert-err", ".txt");
    try {
      ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile());
      pb.environment().remove("DIVERT_BACKEND");
      pb.environment().remove("DIVERT_JAVA_OPTS");
      if (javaHome != null) {
        pb.environment().put("JAVA_HOME", javaHome.toString());
      }
      pb.redirectOutput(out.toFile()).redirectError(err.toFile());
      Process p = pb.start();
      if (!p.waitFor(10, TimeUnit.MINUTES)) {
        p.destroyForcibly();
        throw new AssertionError("the launcher did not finish in 10 minutes");
      }
      return new Run(
          p.exitValue(),
          Files.readString(out, StandardCharsets.UTF_8),
          Files.readString(err, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  private static boolean onPath(String program) {
    String path = System.getenv("PATH");
    if (path == null) {
      return false;
    }
    for (String dir : path.split(File.pathSeparator)) {
      if (Files.isExecutable(Path.of(dir, program))) {
        return true;
      }
    }
    return false;
  }

  /** Copies the source tree the way a clone has it: no .git, no build output. */
  private static void copySources(Path from, Path to) throws IOException {
    Files.walkFileTree(
        from,
        new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs)
              throws IOException {
            if (!dir.equals(from) && NOT_COPIED.contains(dir.getFileName().toString())) {
              return FileVisitResult.SKIP_SUBTREE;
            }
            Files.createDirectories(to.resolve(from.relativize(dir).toString()));
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
              throws IOException {
            Files.copy(
                file,
                to.resolve(from.relativize(file).toString()),
                StandardCopyOption.COPY_ATTRIBUTES);
            return FileVisitResult.CONTINUE;
          }
        });
  }
}
