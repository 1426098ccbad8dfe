package org.divert4j.rawsocket;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A divert program in a child JVM on this test's class path, for the crash tests: {@link #start}
 * runs it and reads its output until it prints {@code READY <host name>} (earlier lines are echoed
 * as {@code child: ...}); {@link #kill()} sends SIGKILL, so no shutdown hook and no close runs.
 * {@link #close()} kills it too, so a failing test leaves no process behind.
 */
final class HostChild implements AutoCloseable {
  private final Process process;
  private final String host;

  private HostChild(Process process, String host) {
    this.process = process;
    this.host = host;
  }

  /**
   * @param mainClass the child's main class
   * @param args its arguments
   * @return the started child; {@link #host()} is null if it ended without printing READY
   * @throws IOException if it cannot be started or read
   */
  static HostChild start(Class<?> mainClass, String... args) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("--enable-native-access=ALL-UNNAMED"); // jffi loads a library: no warning on JDK 24+
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(mainClass.getName());
    cmd.addAll(List.of(args));
    return start(cmd);
  }

  /**
   * @param cmd the whole command line of a child that prints {@code READY <host name>}
   * @return the started child, as {@link #start(Class, String...)}
   * @throws IOException if it cannot be started or read
   */
  static HostChild start(List<String> cmd) throws IOException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    try {
      BufferedReader r =
          new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
      for (String line; (line = r.readLine()) != null; ) {
        if (line.startsWith("READY ")) {
          return new HostChild(p, line.substring(6));
        }
        System.out.println("child: " + line);
      }
      return new HostChild(p, null);
    } catch (IOException | RuntimeException e) {
      p.destroyForcibly();
      throw e;
    }
  }

  /**
   * @return the name of the host the child opened, or null if it never said READY
   */
  String host() {
    return host;
  }

  long pid() {
    return process.pid();
  }

  /**
   * Kills it with SIGKILL and waits for it to end.
   *
   * @return true if it ended within 10 s
   * @throws InterruptedException if interrupted while waiting
   */
  boolean kill() throws InterruptedException {
    process.destroyForcibly();
    return process.waitFor(10, TimeUnit.SECONDS);
  }

  @Override
  public void close() {
    process.destroyForcibly();
  }
}
