package org.divert4j.tck.reliability;

import java.io.IOException;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Process-level probes (file descriptors, resident memory, heap after GC, direct buffers) and the
 * figures a reliability test reports: one line per test on standard output, starting with {@code
 * RELIABILITY}, and appended to {@code target/reliability/<backend>.txt} (the module directory is
 * the working directory of Surefire), which {@code scripts/reliability-long.sh} summarises.
 */
public final class Figures {
  /** The system property that selects the long versions: {@code divert.reliability=long}. */
  public static final String SWITCH = "divert.reliability";

  private final String backend;
  private final String test;
  private final Map<String, Object> values = new LinkedHashMap<>();

  /**
   * @param backend the backend's name
   * @param test the test's name
   */
  public Figures(String backend, String test) {
    this.backend = backend;
    this.test = test;
  }

  /**
   * @return true when {@code -Ddivert.reliability=long}: run the long versions
   */
  public static boolean isLong() {
    return "long".equalsIgnoreCase(System.getProperty(SWITCH, "short"));
  }

  /**
   * @param shortValue the CI value
   * @param longValue the value of the long run
   * @return one of them, by {@link #isLong()}
   */
  public static int pick(int shortValue, int longValue) {
    return isLong() ? longValue : shortValue;
  }

  /**
   * @param key a name
   * @param value its value
   * @return this
   */
  public Figures put(String key, Object value) {
    values.put(key, value);
    return this;
  }

  /** Prints the figures and appends them to the backend's report file. */
  public void report() {
    StringBuilder sb = new StringBuilder("RELIABILITY ").append(backend).append(' ').append(test);
    sb.append(" mode=").append(isLong() ? "long" : "short");
    values.forEach((k, v) -> sb.append(' ').append(k).append('=').append(v));
    String line = sb.toString();
    System.out.println(line);
    try {
      Path dir = Path.of("target", "reliability");
      Files.createDirectories(dir);
      Files.writeString(
          dir.resolve(backend + ".txt"),
          line + "\n",
          StandardCharsets.UTF_8,
          StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
    } catch (IOException e) {
      System.out.println("RELIABILITY report file not written: " + e);
    }
  }

  /**
   * @return the number of this process's open file descriptors (entries of /proc/self/fd, not
   *     counting the one used to list them), or -1 where /proc is missing
   */
  public static int openFds() {
    Path fd = Path.of("/proc/self/fd");
    if (!Files.isDirectory(fd)) {
      return -1;
    }
    try (Stream<Path> s = Files.list(fd)) {
      return (int) s.count() - 1;
    } catch (IOException e) {
      return -1;
    }
  }

  /**
   * @return this process's open file descriptors as {@code "<fd> -> <target>"} (what /proc/self/fd
   *     links to: a path, {@code socket:[inode]}, {@code pipe:[inode]}, ...), for the message of a
   *     leak; empty where /proc is missing
   */
  public static java.util.Set<String> openFdTargets() {
    java.util.Set<String> out = new java.util.TreeSet<>();
    Path fd = Path.of("/proc/self/fd");
    try (Stream<Path> s = Files.list(fd)) {
      s.forEach(
          f -> {
            try {
              out.add(f.getFileName() + " -> " + Files.readSymbolicLink(f));
            } catch (IOException e) {
              // closed meanwhile (the descriptor of the listing itself)
            }
          });
    } catch (IOException e) {
      return out;
    }
    return out;
  }

  /**
   * @return the process's resident set size in KiB (VmRSS), or -1 where /proc is missing
   */
  public static long rssKiB() {
    try {
      for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (l.startsWith("VmRSS:")) {
          return Long.parseLong(l.replaceAll("[^0-9]", ""));
        }
      }
    } catch (IOException | RuntimeException e) {
      // fall through
    }
    return -1;
  }

  /**
   * Runs the garbage collector (a few rounds, so that cleaners of direct buffers run) and returns
   * the heap in use.
   *
   * @return heap bytes in use after GC
   */
  public static long heapAfterGc() {
    for (int i = 0; i < 3; i++) {
      System.gc();
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  /**
   * @return heap bytes in use now, without GC
   */
  public static long heapNow() {
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  /**
   * @return bytes of direct and mapped NIO buffers in use
   */
  public static long nioBuffers() {
    long sum = 0;
    for (BufferPoolMXBean b : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
      sum += b.getMemoryUsed();
    }
    return sum;
  }

  /**
   * @return live threads of this JVM
   */
  public static int threads() {
    return ManagementFactory.getThreadMXBean().getThreadCount();
  }

  /**
   * @param bytes a byte count
   * @return it in MiB with one decimal
   */
  public static String mib(long bytes) {
    return String.format(java.util.Locale.ROOT, "%.1fMiB", bytes / 1048576.0);
  }

  /**
   * @param d a duration
   * @return it in milliseconds with one decimal
   */
  public static String ms(Duration d) {
    return String.format(java.util.Locale.ROOT, "%.1fms", d.toNanos() / 1e6);
  }
}
