package org.divert4j.bench.kernel;

import static org.divert4j.bench.kernel.UdpDivertPoint.C_ONE;
import static org.divert4j.bench.kernel.UdpDivertPoint.C_ONE_REPEAT;
import static org.divert4j.bench.kernel.UdpDivertPoint.D4J;
import static org.divert4j.bench.kernel.UdpDivertPoint.NONE;
import static org.divert4j.bench.kernel.UdpDivertPoint.PORT;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.divert4j.bench.BenchTools;
import org.divert4j.linux.testbed.Netns;

/**
 * {@link KernelBench}'s latency section: {@code udp_ping} in the peer namespace against {@code
 * udp_echo} in the host namespace, one diverted traversal per round trip, with no rule, divert4j,
 * and the C one-verdict program without and with NF_REPEAT; median and p99 RTT per run, and the
 * issue 7 targets 3a and 3b (divert4j's added latency over C's).
 */
final class UdpLatency {
  private final Netns peer;
  private final Netns host;
  private final String hostAddress;
  private final Path cdir;
  private final int payload;
  private final int batch;
  private final int pings;
  private final Map<String, List<double[]>> lat = new LinkedHashMap<>();

  UdpLatency(
      Netns peer, Netns host, String hostAddress, Path cdir, int payload, int batch, int pings) {
    this.peer = peer;
    this.host = host;
    this.hostAddress = hostAddress;
    this.cdir = cdir;
    this.payload = payload;
    this.batch = batch;
    this.pings = pings;
    for (String m : List.of(NONE, D4J, C_ONE, C_ONE_REPEAT)) {
      lat.put(m, new ArrayList<>());
    }
  }

  /** Runs every mode {@code runs} times, interleaved; prints each result. */
  void measure(int runs) throws Exception {
    for (int r = 1; r <= runs; r++) {
      for (String m : lat.keySet()) {
        double[] l = once(m);
        lat.get(m).add(l);
        System.out.printf(
            Locale.ROOT,
            "run %d  latency %-22s RTT median %8.1f us  p99 %8.1f us  lost %.0f%n",
            r,
            m,
            l[0],
            l[1],
            l[3]);
      }
    }
  }

  /**
   * @return median RTT, p99 RTT, mean RTT (microseconds), lost
   */
  private double[] once(String mode) throws Exception {
    try (UdpDivertPoint dp = new UdpDivertPoint(mode, 1, host, cdir, batch)) {
      Process echo = BenchTools.start(cdir, host, "udp_echo", Integer.toString(PORT));
      try {
        if (!BenchTools.line(echo).equals("ready")) {
          throw new IOException("udp_echo did not start");
        }
        Process ping =
            BenchTools.start(
                cdir,
                peer,
                "udp_ping",
                hostAddress,
                Integer.toString(PORT),
                Integer.toString(payload),
                Integer.toString(Math.max(1000, pings / 10)),
                Integer.toString(pings));
        String result = BenchTools.line(ping);
        ping.waitFor(60, TimeUnit.SECONDS);
        if (!dp.reflectors.isEmpty()) {
          var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
          long tid = dp.reflectors.get(0).getId();
          long n = dp.packets();
          System.out.printf(
              Locale.ROOT,
              "  reflector: %d packets, thread CPU %.2f us/packet, send(PacketBatch) %.2f us/call%n",
              n,
              mx.getThreadCpuTime(tid) / 1e3 / n,
              dp.sendNanos.get() / 1e3 / n);
        }
        String[] f = result.split("\\s+");
        if (f.length < 4) {
          throw new IOException("udp_ping printed '" + result + "'");
        }
        return new double[] {
          Double.parseDouble(f[0]),
          Double.parseDouble(f[1]),
          Double.parseDouble(f[2]),
          Double.parseDouble(f[3])
        };
      } finally {
        echo.destroy();
        echo.waitFor(5, TimeUnit.SECONDS);
      }
    }
  }

  /** Prints the RTT table: per mode the medians, what each adds over no rule, and the runs. */
  void report() {
    System.out.printf(
        Locale.ROOT, "Latency: UDP ping-pong RTT, %d rounds per run (microseconds):%n%n", pings);
    System.out.println(
        "| mode | median RTT | p99 RTT | added median | added p99 | runs (median/p99) |");
    System.out.println("|---|---:|---:|---:|---:|---|");
    double[] base = medians(NONE);
    for (var e : lat.entrySet()) {
      double[] m = medians(e.getKey());
      StringBuilder sb = new StringBuilder();
      for (double[] l : e.getValue()) {
        sb.append(sb.length() == 0 ? "" : ", ")
            .append(String.format(Locale.ROOT, "%.0f/%.0f", l[0], l[1]));
      }
      System.out.printf(
          Locale.ROOT,
          "| %s | %.1f | %.1f | %.1f | %.1f | %s |%n",
          e.getKey(),
          m[0],
          m[1],
          m[0] - base[0],
          m[1] - base[1],
          sb);
    }
    System.out.println();
  }

  /** Prints the rows of targets 3a and 3b for {@link KernelBench}'s target table. */
  void targets() {
    double[] base = medians(NONE);
    double[] d = medians(D4J);
    double[] c = medians(C_ONE);
    targetRow("3a", "added latency (RTT - no rule RTT), median", d[0] - base[0], c[0] - base[0]);
    targetRow("3b", "added latency (RTT - no rule RTT), p99", d[1] - base[1], c[1] - base[1]);
    System.out.printf(
        Locale.ROOT,
        "| | (RTT divert4j / C 1 verdict: median %.2f, p99 %.2f; C NF_REPEAT / C: median %.2f)"
            + " | | | |%n",
        d[0] / c[0],
        d[1] / c[1],
        medians(C_ONE_REPEAT)[0] / c[0]);
  }

  /** A latency target: divert4j's added latency over C's; undefined when C's is not above 0. */
  private static void targetRow(String n, String what, double d4j, double c) {
    if (c <= 0 || d4j < 0) {
      System.out.printf(
          Locale.ROOT,
          "| %s | %s, divert4j / C 1 verdict (%.1f / %.1f us) | n/a | <= 1.2 | no: no-rule RTT"
              + " too noisy in this run |%n",
          n,
          what,
          d4j,
          c);
      return;
    }
    double r = d4j / c;
    System.out.printf(
        Locale.ROOT,
        "| %s | %s, divert4j / C 1 verdict (%.1f / %.1f us) | %.2f | <= 1.2 | %s |%n",
        n,
        what,
        d4j,
        c,
        r,
        r <= 1.2 ? "yes" : "no");
  }

  /** The medians over the runs of a mode's median RTT and p99 RTT. */
  private double[] medians(String m) {
    List<Double> med = new ArrayList<>();
    List<Double> p99 = new ArrayList<>();
    for (double[] x : lat.get(m)) {
      med.add(x[0]);
      p99.add(x[1]);
    }
    return new double[] {BenchTools.median(med, 0), BenchTools.median(p99, 0)};
  }
}
