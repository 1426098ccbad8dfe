package org.divert4j.linux.testbed;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.divert4j.DivertHost;
import org.divert4j.PermissionException;
import org.divert4j.linux.Shell;

/**
 * Runs a Java program as a real unprivileged user, for tests of permission errors: the child JVM
 * runs as {@code nobody:nogroup} with no supplementary groups and empty capability sets (effective,
 * permitted, inheritable, ambient, bounding), made with {@code setpriv} from util-linux, inside a
 * network namespace the test made (entered as root with {@code nsenter} before the privileges are
 * dropped, so that nothing the child might do reaches the host's own network).
 *
 * <p>The child cannot read root's Maven repository or, often, the build tree, so {@link #prepare}
 * copies the class path into a temporary directory that {@code nobody} can read; {@link #close()}
 * deletes it. The child's {@code java.io.tmpdir} and {@code user.home} point into that directory
 * (JNR and JNA unpack their native stubs there).
 *
 * <p>Needs root (to switch users) and {@code setpriv}; {@link #available()} says whether both are
 * there. Not thread-safe; one instance per test.
 */
public final class UnprivilegedJava implements AutoCloseable {
  /** The user the child runs as. */
  public static final String USER = "nobody";

  /** Its group. */
  public static final String GROUP = "nogroup";

  private final Path dir;
  private final String classPath;

  private UnprivilegedJava(Path dir, String classPath) {
    this.dir = dir;
    this.classPath = classPath;
  }

  /**
   * @return null if children can be run here, else why not (not root, no setpriv, no nsenter, no
   *     user nobody)
   */
  public static String unavailableReason() {
    if (!Shell.isRoot()) {
      return "needs root to switch to the unprivileged user " + USER;
    }
    if (Shell.which("setpriv").isEmpty()) {
      return "setpriv (util-linux) is not installed";
    }
    if (Shell.which("nsenter").isEmpty()) {
      return "nsenter (util-linux) is not installed";
    }
    try {
      if (!Shell.run("id", "-u", USER).ok()) {
        return "there is no user " + USER;
      }
    } catch (IOException e) {
      return "cannot run id: " + e.getMessage();
    }
    return null;
  }

  /**
   * @return true if {@link #unavailableReason()} is null
   */
  public static boolean available() {
    return unavailableReason() == null;
  }

  /**
   * Copies a class path into a new directory that the unprivileged user can read.
   *
   * @param classPath the class path, e.g. {@code System.getProperty("java.class.path")}
   * @return the runner; close it to delete the copy
   * @throws IOException if the copy fails
   */
  public static UnprivilegedJava prepare(String classPath) throws IOException {
    Path dir = Files.createTempDirectory("d4j-unprivileged-");
    try {
      List<String> entries = new ArrayList<>();
      int i = 0;
      for (String e : classPath.split(File.pathSeparator)) {
        if (e.isEmpty()) {
          continue;
        }
        Path src = Path.of(e);
        if (!Files.exists(src)) {
          continue;
        }
        Path dst = dir.resolve("cp" + i++ + (Files.isDirectory(src) ? "" : ".jar"));
        copy(src, dst);
        entries.add(dst.toString());
      }
      Path tmp = Files.createDirectory(dir.resolve("tmp"));
      Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxrwxrwx"));
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
      return new UnprivilegedJava(dir, String.join(File.pathSeparator, entries));
    } catch (IOException | RuntimeException e) {
      delete(dir);
      throw e;
    }
  }

  private static void copy(Path src, Path dst) throws IOException {
    if (!Files.isDirectory(src)) {
      Files.copy(src, dst, StandardCopyOption.COPY_ATTRIBUTES);
      Files.setPosixFilePermissions(dst, PosixFilePermissions.fromString("rw-r--r--"));
      return;
    }
    Files.walkFileTree(
        src,
        new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes a)
              throws IOException {
            Path t = dst.resolve(src.relativize(d).toString());
            Files.createDirectories(t);
            Files.setPosixFilePermissions(t, PosixFilePermissions.fromString("rwxr-xr-x"));
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult visitFile(Path f, BasicFileAttributes a) throws IOException {
            Path t = dst.resolve(src.relativize(f).toString());
            Files.copy(f, t, StandardCopyOption.REPLACE_EXISTING);
            Files.setPosixFilePermissions(t, PosixFilePermissions.fromString("rw-r--r--"));
            return FileVisitResult.CONTINUE;
          }
        });
  }

  /**
   * @return the directory holding the readable copy
   */
  public Path directory() {
    return dir;
  }

  /**
   * The command line that runs {@code mainClass} as {@link #USER} in the namespace.
   *
   * @param netns the namespace to run in
   * @param mainClass the main class, on the copied class path
   * @param args its arguments
   * @return the command
   */
  public List<String> command(Netns netns, String mainClass, String... args) {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new ArrayList<>();
    cmd.add(Shell.which("setpriv").map(Path::toString).orElse("setpriv"));
    cmd.addAll(
        List.of(
            "--reuid=" + USER,
            "--regid=" + GROUP,
            "--clear-groups",
            "--inh-caps=-all",
            "--ambient-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            "--",
            java,
            // jffi and JNA load native libraries (JEP 472 warns on JDK 24+ without this)
            "--enable-native-access=ALL-UNNAMED",
            "-Djava.io.tmpdir=" + dir.resolve("tmp"),
            "-Duser.home=" + dir.resolve("tmp"),
            "-Djna.tmpdir=" + dir.resolve("tmp"),
            "-cp",
            classPath,
            mainClass));
    cmd.addAll(Arrays.asList(args));
    return Shell.inNetns(netns.path().toString(), cmd);
  }

  /**
   * The command that runs a Java program as a service would run: as {@link #USER} with no groups
   * and exactly the given capabilities (permitted, inheritable, ambient, and the bounding set
   * limited to them, as systemd's {@code AmbientCapabilities=} with {@code CapabilityBoundingSet=}
   * does), inside the network namespace at {@code netnsPath} (entered as root before the switch;
   * the program itself cannot change namespaces).
   *
   * @param netnsPath the namespace's path, e.g. {@code /var/run/netns/x}
   * @param capabilities capability names as setpriv spells them, e.g. {@code net_admin}
   * @param mainClass the program's main class
   * @param args its arguments
   * @return the command line, for a {@link ProcessBuilder}
   */
  public List<String> serviceCommand(
      String netnsPath, List<String> capabilities, String mainClass, String... args) {
    return serviceCommand(netnsPath, capabilities, List.of(), mainClass, args);
  }

  /**
   * {@link #serviceCommand(String, List, String, String...)} with options for the child JVM.
   *
   * @param netnsPath the namespace's path, e.g. {@code /var/run/netns/x}
   * @param capabilities capability names as setpriv spells them, e.g. {@code net_admin}
   * @param jvmOptions options placed before the main class, e.g. {@code -Dkey=value}
   * @param mainClass the program's main class
   * @param args its arguments
   * @return the command line, for a {@link ProcessBuilder}
   */
  public List<String> serviceCommand(
      String netnsPath,
      List<String> capabilities,
      List<String> jvmOptions,
      String mainClass,
      String... args) {
    String caps = String.join(",", capabilities.stream().map(c -> "+" + c).toList());
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new ArrayList<>();
    cmd.add(Shell.which("setpriv").map(Path::toString).orElse("setpriv"));
    cmd.addAll(
        List.of(
            "--reuid=" + USER,
            "--regid=" + GROUP,
            "--clear-groups",
            "--inh-caps=-all," + caps,
            "--ambient-caps=-all," + caps,
            "--bounding-set=-all," + caps,
            "--",
            java,
            "--enable-native-access=ALL-UNNAMED",
            "-Djava.io.tmpdir=" + dir.resolve("tmp"),
            "-Duser.home=" + dir.resolve("tmp"),
            "-Djna.tmpdir=" + dir.resolve("tmp")));
    cmd.addAll(jvmOptions);
    cmd.addAll(List.of("-cp", classPath, mainClass));
    cmd.addAll(Arrays.asList(args));
    return Shell.inNetns(netnsPath, cmd);
  }

  /**
   * Runs {@code mainClass} as {@link #USER} in the namespace and waits for it.
   *
   * @param netns the namespace to run in
   * @param timeout how long it may run
   * @param mainClass the main class
   * @param args its arguments
   * @return the result, whatever its exit status
   * @throws IOException if it cannot be started
   */
  public Shell.Result run(Netns netns, Duration timeout, String mainClass, String... args)
      throws IOException {
    return Shell.run(null, timeout, command(netns, mainClass, args));
  }

  /** An operation a child program tries, for {@link #report}. */
  @FunctionalInterface
  public interface Operation {
    /**
     * @return its result; a {@link DivertHost} is closed by {@link #report}
     * @throws Exception whatever it fails with
     */
    Object call() throws Exception;
  }

  /**
   * Run in the child: tries one operation and prints one line on standard output, which {@link
   * #outcomes} reads back: {@code OP <name> -> OK <result>}, {@code OP <name> ->
   * PermissionException missing=<capabilities> | <message>}, or {@code OP <name> -> <exception
   * class> | <message>}. Never throws.
   *
   * @param name the operation's name
   * @param operation what to try
   */
  public static void report(String name, Operation operation) {
    String outcome;
    try {
      Object r = operation.call();
      if (r instanceof DivertHost h) {
        h.close();
      }
      outcome = "OK " + r;
    } catch (PermissionException e) {
      outcome = "PermissionException missing=" + e.missing() + " | " + e.getMessage();
    } catch (Throwable e) {
      outcome = e.getClass().getName() + " | " + e.getMessage();
    }
    System.out.println("OP " + name + " -> " + outcome);
    System.out.flush();
  }

  /**
   * Reads the lines {@link #report} printed.
   *
   * @param stdout the child's standard output
   * @return each operation's outcome (the text after {@code ->}), by name, in order
   */
  public static Map<String, String> outcomes(String stdout) {
    Map<String, String> ops = new LinkedHashMap<>();
    for (String line : stdout.split("\n")) {
      if (line.startsWith("OP ")) {
        String[] p = line.substring(3).split(" -> ", 2);
        ops.put(p[0], p.length > 1 ? p[1] : "");
      }
    }
    return ops;
  }

  /** Deletes the copied class path. Idempotent. */
  @Override
  public void close() {
    delete(dir);
  }

  private static void delete(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder())
          .forEach(
              p -> {
                try {
                  Files.deleteIfExists(p);
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
              });
    } catch (IOException | UncheckedIOException e) {
      // best effort: a temp directory
    }
  }
}
