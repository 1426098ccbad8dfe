package org.divert4j.linux;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Runs commands (for example {@code ip}, {@code iptables}, {@code ping}) and collects what they
 * print, with a timeout. Pure Java (no native code), so every backend's test bed can use it.
 *
 * <p>Stateless and thread-safe. Every method blocks until the command ends or its timeout passes; a
 * command that overruns its timeout is killed and reported as failed with exit code -1.
 */
public final class Shell {
  /** The timeout of {@link #run(String...)} and {@link #check(String...)}. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

  private Shell() {}

  /**
   * What a command did.
   *
   * @param command the command line that ran
   * @param exitCode its exit status, or -1 if it timed out and was killed
   * @param stdout what it printed on standard output
   * @param stderr what it printed on standard error
   */
  public record Result(List<String> command, int exitCode, String stdout, String stderr) {
    /**
     * @return true if the command exited with status 0
     */
    public boolean ok() {
      return exitCode == 0;
    }

    /**
     * @return a one-line description for error messages: the command, its status and its stderr
     */
    public String describe() {
      String err = stderr.isBlank() ? stdout.strip() : stderr.strip();
      return String.join(" ", command)
          + " -> "
          + (exitCode == -1 ? "timed out" : "exit " + exitCode)
          + (err.isEmpty() ? "" : ": " + err);
    }
  }

  /**
   * Runs a command with {@link #DEFAULT_TIMEOUT}.
   *
   * @param command the program and its arguments
   * @return the result, whatever the exit status
   * @throws IOException if the program cannot be started
   */
  public static Result run(String... command) throws IOException {
    return run(null, DEFAULT_TIMEOUT, Arrays.asList(command));
  }

  /**
   * Runs a command.
   *
   * @param input bytes for its standard input (UTF-8), or null for none
   * @param timeout how long it may run before it is killed
   * @param command the program and its arguments
   * @return the result, whatever the exit status
   * @throws IOException if the program cannot be started
   */
  public static Result run(String input, Duration timeout, List<String> command)
      throws IOException {
    List<String> cmd = List.copyOf(command);
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().put("LC_ALL", "C");
    Process p = pb.start();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    Thread t1 = drain(p.getInputStream(), out);
    Thread t2 = drain(p.getErrorStream(), err);
    try (OutputStream in = p.getOutputStream()) {
      if (input != null) {
        in.write(input.getBytes(StandardCharsets.UTF_8));
      }
    } catch (IOException e) {
      // the program may exit before reading its input; its status says what happened
    }
    int code;
    try {
      if (p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        code = p.exitValue();
      } else {
        p.destroyForcibly();
        p.waitFor(5, TimeUnit.SECONDS);
        code = -1;
      }
      t1.join(5000);
      t2.join(5000);
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while running " + String.join(" ", cmd), e);
    }
    return new Result(
        cmd, code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  /**
   * Runs a command and insists that it succeeds.
   *
   * @param command the program and its arguments
   * @return its standard output
   * @throws IOException if it cannot be started, fails or times out; the message has its stderr
   */
  public static String check(String... command) throws IOException {
    return check(null, DEFAULT_TIMEOUT, Arrays.asList(command));
  }

  /**
   * Runs a command and insists that it succeeds.
   *
   * @param input bytes for its standard input, or null
   * @param timeout how long it may run
   * @param command the program and its arguments
   * @return its standard output
   * @throws IOException if it cannot be started, fails or times out; the message has its stderr
   */
  public static String check(String input, Duration timeout, List<String> command)
      throws IOException {
    Result r = run(input, timeout, command);
    if (!r.ok()) {
      throw new IOException(r.describe());
    }
    return r.stdout();
  }

  /**
   * Finds a program on the {@code PATH} (and in {@code /usr/sbin} and {@code /sbin}, which a
   * non-login root shell may lack).
   *
   * @param program a program name such as {@code iptables}
   * @return its path, if found and executable
   */
  public static Optional<Path> which(String program) {
    List<String> dirs = new ArrayList<>();
    String path = System.getenv("PATH");
    if (path != null) {
      dirs.addAll(Arrays.asList(path.split(":")));
    }
    dirs.addAll(List.of("/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"));
    for (String d : dirs) {
      if (d.isEmpty()) {
        continue;
      }
      Path p = Path.of(d, program);
      if (Files.isRegularFile(p) && Files.isExecutable(p)) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }

  /**
   * @return true if this process runs with effective user id 0
   */
  public static boolean isRoot() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("Uid:")) {
          String[] f = line.substring(4).trim().split("\\s+");
          return f.length > 1 && f[1].equals("0");
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux, or /proc is not mounted
    }
    return "root".equals(System.getProperty("user.name"));
  }

  private static Thread drain(InputStream in, ByteArrayOutputStream to) {
    Thread t =
        new Thread(
            () -> {
              byte[] buf = new byte[8192];
              try (in) {
                int n;
                while ((n = in.read(buf)) > 0) {
                  synchronized (to) {
                    to.write(buf, 0, n);
                  }
                }
              } catch (IOException e) {
                // the process went away; what was read is kept
              }
            },
            "shell-drain");
    t.setDaemon(true);
    t.start();
    return t;
  }

  /**
   * The command line that runs {@code command} inside the network namespace at {@code nsPath}:
   * {@code nsenter --net=PATH -- command...} ({@code util-linux}), which unlike {@code ip netns
   * exec} leaves the mount namespace alone. When the namespace is the one this process runs in, the
   * command runs as it is: entering a namespace (setns(2)) needs CAP_SYS_ADMIN, which a service
   * holding only CAP_NET_ADMIN and CAP_NET_RAW lacks (docs/deploy.md).
   *
   * @param nsPath a namespace file such as {@code /var/run/netns/x} or {@code /proc/PID/ns/net}
   * @param command the program and its arguments
   * @return the full command line
   */
  public static List<String> inNetns(String nsPath, List<String> command) {
    if (isOwnNetns(nsPath)) {
      return List.copyOf(command);
    }
    List<String> cmd = new ArrayList<>(command.size() + 3);
    cmd.add(which("nsenter").map(Path::toString).orElse("nsenter"));
    cmd.add("--net=" + nsPath);
    cmd.add("--");
    cmd.addAll(command);
    return cmd;
  }

  /**
   * @param nsPath a namespace file
   * @return whether it names the network namespace this process runs in (same nsfs device and inode
   *     as {@code /proc/self/ns/net}); false when either cannot be read
   */
  public static boolean isOwnNetns(String nsPath) {
    try {
      Path own = Path.of("/proc/self/ns/net");
      Path other = Path.of(nsPath);
      return Files.getAttribute(own, "unix:ino").equals(Files.getAttribute(other, "unix:ino"))
          && Files.getAttribute(own, "unix:dev").equals(Files.getAttribute(other, "unix:dev"));
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }
}
