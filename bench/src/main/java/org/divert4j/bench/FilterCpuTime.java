package org.divert4j.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import org.divert4j.Direction;
import org.divert4j.filter.Filter;
import org.divert4j.filter.FilterContext;

/**
 * {@link FilterBenchmark}'s 10-term and 1-term filters timed by the thread's CPU time instead of
 * the wall clock: on a machine shared with other work, JMH's wall-clock average also counts the
 * time the benchmark thread waits for a core, and this count does not (cache and frequency effects
 * of the sharing remain). Prints, for each packet kind and filter, the median of 7 rounds of CPU
 * nanoseconds per evaluation after a warm-up, and the wall-clock figure of the same rounds.
 *
 * <p>Usage: {@code java -cp bench/target/benchmarks.jar org.divert4j.bench.FilterCpuTime}.
 */
public final class FilterCpuTime {
  private static final int ROUNDS = 7;
  private static final long CALLS = 20_000_000;

  private FilterCpuTime() {}

  public static void main(String[] args) throws Exception {
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    FilterContext c = new FilterContext().set(Direction.INBOUND, false, 2);
    System.out.println("load before: " + Files.readString(Path.of("/proc/loadavg")).trim());
    System.out.println("| packet | filter | CPU ns/packet (median of 7) | wall ns/packet |");
    System.out.println("|---|---|---:|---:|");
    for (String kind : new String[] {"udp4", "tcp4", "udp6", "tcp6"}) {
      ByteBuffer p = FilterBenchmark.packet(kind);
      String l4 = kind.substring(0, 3);
      String[][] filters = {
        {"10 terms", FilterBenchmark.tenTerms(kind)},
        {"1 term", l4 + ".DstPort == " + (l4.equals("udp") ? "53" : "443")}
      };
      for (String[] f : filters) {
        Filter filter = Filter.parse(f[1]);
        long sink = 0;
        for (int w = 0; w < 3; w++) {
          sink += loop(filter, p, c, CALLS);
        }
        double[] cpu = new double[ROUNDS];
        double[] wall = new double[ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
          long t0 = mx.getCurrentThreadCpuTime();
          long w0 = System.nanoTime();
          sink += loop(filter, p, c, CALLS);
          wall[r] = (System.nanoTime() - w0) / (double) CALLS;
          cpu[r] = (mx.getCurrentThreadCpuTime() - t0) / (double) CALLS;
        }
        if (sink != CALLS * (3 + ROUNDS)) {
          throw new IllegalStateException("the filter did not accept the packet: " + f[1]);
        }
        Arrays.sort(cpu);
        Arrays.sort(wall);
        System.out.printf(
            Locale.ROOT,
            "| %s | %s | %.1f | %.1f |%n",
            kind,
            f[0],
            cpu[ROUNDS / 2],
            wall[ROUNDS / 2]);
      }
    }
    System.out.println("load after: " + Files.readString(Path.of("/proc/loadavg")).trim());
  }

  private static long loop(Filter f, ByteBuffer p, FilterContext c, long calls) {
    long n = 0;
    for (long i = 0; i < calls; i++) {
      if (f.matches(p, c)) {
        n++;
      }
    }
    return n;
  }
}
