package org.divert4j.bench.kernel;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.PacketBatch;
import org.divert4j.bench.BenchTools;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.linux.testbed.VethPair;

/**
 * Filter rows of issue 14 on the kernel backend, 64-byte UDP from {@code udp_blast} (peer
 * namespace) to {@code udp_sink} (host namespace), as {@link KernelBench}'s throughput rows, the
 * modes of one round measured one after the other and each row a ratio of medians within the run:
 *
 * <ul>
 *   <li>(a) <b>filter matches nothing</b>: rule {@code input -p udp --dport 9000 filter
 *       "udp.Payload[0] == 0x16" -j DIVERT} (a payload byte: compiled to classic BPF for xt_bpf;
 *       the blaster's payload is zeros), against <b>no rule</b>. S67: the kernel drops the rule's
 *       match itself, nothing reaches user space. Goal: at least 0.95x.
 *   <li>(b) <b>10-term filter matching everything</b> on the rule {@code input -p udp --dport 9000
 *       -j DIVERT}, against the same rule <b>without a filter</b>; both with one Java thread
 *       receiving batches and sending them back. Goal: within 5 %.
 * </ul>
 *
 * <p>Usage (root): {@code bench/filter-bench.sh [--runs 5] [--seconds 3] [--warmup 1] [--payload
 * 64] [--batch 64] [--modes a|b|all] [--perf DIR]}. {@code --modes a} measures only the two modes
 * of (a), {@code b} only those of (b). {@code --perf DIR} also records a system-wide profile
 * ({@code perf record -a -g}, 2 s from 1.5 s into the warm-up and window) during every measurement,
 * into {@code DIR/<run>-<mode>.data} (mode: none, nomatch, plain, ten).
 */
public final class KernelFilterBench {
  private static final int PORT = 9000;
  private static final int QUEUE = 4210;
  private static final Duration WAIT = Duration.ofMillis(100);

  static final String NONE = "no rule";
  static final String NO_MATCH = "rule, filter matches nothing";
  static final String PLAIN = "divert4j, no filter";
  static final String TEN = "divert4j, 10-term filter matching all";

  static final String NO_MATCH_FILTER = "udp.Payload[0] == 0x16";

  private final Path cdir;
  private final int runs;
  private final double seconds;
  private final double warmup;
  private final int payload;
  private final int batch;
  private final String modes;
  private final Path perfDir;
  private Netns peer;
  private Netns host;
  private String hostAddress;
  private String net;
  private final Map<String, List<Double>> pps = new LinkedHashMap<>();

  private KernelFilterBench(Map<String, String> o) {
    cdir = Path.of(o.getOrDefault("cdir", "bench/target/c"));
    runs = Integer.parseInt(o.getOrDefault("runs", "5"));
    seconds = Double.parseDouble(o.getOrDefault("seconds", "3"));
    warmup = Double.parseDouble(o.getOrDefault("warmup", "1"));
    payload = Integer.parseInt(o.getOrDefault("payload", "64"));
    batch = Integer.parseInt(o.getOrDefault("batch", "64"));
    modes = o.getOrDefault("modes", "all");
    perfDir = o.containsKey("perf") ? Path.of(o.get("perf")) : null;
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> o =
        BenchTools.rootOptions(args, "KernelFilterBench", "network namespaces, NFQUEUE");
    new KernelFilterBench(o).run();
  }

  /** The 10-term filter: every term holds for the blaster's datagrams to the host. */
  String tenTerms() {
    return String.join(
        " and ",
        "inbound",
        "udp",
        "udp.DstPort == " + PORT,
        "udp.SrcPort > 0",
        "ip.TTL > 0",
        "ip.DstAddr == " + net + "0/24",
        "not fragment",
        "udp.PayloadLength > 0",
        "udp.Payload[0] == 0",
        "length <= 1500");
  }

  private void run() throws Exception {
    System.out.printf(
        Locale.ROOT,
        "kernel filter bench: UDP payload %d B, %d runs x %.1f s (+%.1f s warm-up), batch %d%n",
        payload,
        runs,
        seconds,
        warmup,
        batch);
    System.out.println("load before: " + loadAverage());
    try {
      setUp();
      System.out.println("10-term filter: " + tenTerms());
      List<String> all =
          switch (modes) {
            case "a" -> List.of(NONE, NO_MATCH);
            case "b" -> List.of(PLAIN, TEN);
            case "all" -> List.of(NONE, NO_MATCH, PLAIN, TEN);
            default -> throw new IllegalArgumentException("--modes a, b or all: " + modes);
          };
      for (String m : all) {
        pps.put(m, new ArrayList<>());
      }
      if (perfDir != null) {
        java.nio.file.Files.createDirectories(perfDir);
      }
      for (int r = 1; r <= runs; r++) {
        for (String m : pps.keySet()) {
          double v = measure(m, r);
          pps.get(m).add(v);
          System.out.printf(Locale.ROOT, "run %d  %-40s %12.0f pps%n", r, m, v);
        }
      }
    } finally {
      if (peer != null) {
        peer.close();
      }
      if (host != null) {
        host.close();
      }
    }
    System.out.println("load after: " + loadAverage());
    report();
  }

  private void report() {
    System.out.println();
    System.out.println("| mode | median pps | runs (pps) |");
    System.out.println("|---|---:|---|");
    for (var e : pps.entrySet()) {
      StringBuilder sb = new StringBuilder();
      for (double d : e.getValue()) {
        sb.append(sb.length() == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.0f", d));
      }
      System.out.printf(Locale.ROOT, "| %s | %.0f | %s |%n", e.getKey(), median(e.getValue()), sb);
    }
    System.out.println();
    System.out.println("| # | target | measured | goal | met |");
    System.out.println("|---|---|---:|---|---|");
    targetRow("14a", "rule whose filter matches nothing / no rule", NO_MATCH, NONE);
    targetRow("14b", "10-term filter matching all / same rule without filter", TEN, PLAIN);
  }

  /** One row of the target table: mode {@code num} against mode {@code den}, goal 0.95. */
  private void targetRow(String id, String what, String num, String den) {
    if (!pps.containsKey(num)) {
      return;
    }
    double r = median(pps.get(num)) / median(pps.get(den));
    System.out.printf(
        Locale.ROOT,
        "| %s | %s (pps; run-by-run median %.3f) | %.3f | >= 0.95 | %s |%n",
        id,
        what,
        BenchTools.pairedRatio(pps.get(num), pps.get(den)),
        r,
        r >= 0.95 ? "yes" : "no");
  }

  // ----------------------------------------------------------------------------- test bed

  private void setUp() throws IOException {
    peer = Netns.create(Netns.uniqueName("fpeer"));
    host = Netns.create(Netns.uniqueName("fhost"));
    net = "10.198." + (ProcessHandle.current().pid() % 250) + ".";
    VethPair link = VethPair.create(peer, "eth0", host, "eth0", 1500);
    link.a().addAddress(net + "1/24");
    link.b().addAddress(net + "2/24");
    hostAddress = net + "2";
    for (Netns ns : List.of(peer, host)) {
      ns.sysctl("net.ipv4.conf.all.rp_filter", "0");
      ns.sysctl("net.ipv4.conf.eth0.rp_filter", "0");
    }
  }

  private double measure(String mode, int run) throws Exception {
    String name =
        run
            + "-"
            + (mode.equals(NONE)
                ? "none"
                : mode.equals(NO_MATCH) ? "nomatch" : mode.equals(PLAIN) ? "plain" : "ten");
    if (mode.equals(NONE)) {
      return blast(name);
    }
    String rule = "input -p udp --dport " + PORT;
    if (mode.equals(NO_MATCH)) {
      rule += " filter \"" + NO_MATCH_FILTER + "\"";
    } else if (mode.equals(TEN)) {
      rule += " filter \"" + tenTerms() + "\"";
    }
    rule += " -j DIVERT " + QUEUE;
    try (DivertHost dh = BenchTools.openKernelHost(host, batch, 1, false)) {
      DivertSocket s = dh.bind(QUEUE);
      dh.addRule(DivertRule.parse(rule));
      AtomicLong count = new AtomicLong();
      Thread reflector =
          new Thread(
              () -> {
                PacketBatch b = PacketBatch.allocate(batch, 2048, true);
                try {
                  while (!Thread.currentThread().isInterrupted()) {
                    int n = s.receive(b, WAIT);
                    if (n > 0) {
                      s.send(b);
                      count.lazySet(count.get() + n);
                    }
                  }
                } catch (Exception e) {
                  // the socket closes at the end of the measurement
                }
              },
              "filter-bench-reflector");
      reflector.start();
      try {
        double v = blast(name);
        if (mode.equals(NO_MATCH) && count.get() != 0) {
          throw new IllegalStateException(
              count.get() + " packets reached user space through a filter that matches none");
        }
        if (!mode.equals(NO_MATCH) && count.get() == 0) {
          throw new IllegalStateException("no packet was diverted in mode " + mode);
        }
        return v;
      } finally {
        reflector.interrupt();
        s.close();
        reflector.join(2000);
      }
    }
  }

  /**
   * Runs udp_blast against udp_sink; returns the sink's datagrams per second. With {@code --perf},
   * a profile of the whole machine is recorded meanwhile.
   */
  private double blast(String name) throws Exception {
    Process perf = null;
    if (perfDir != null) {
      String out = perfDir.resolve(name + ".data").toString();
      perf =
          new ProcessBuilder(
                  "sh", "-c", "sleep 1.5 && exec perf record -q -a -g -o '" + out + "' -- sleep 2")
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
    }
    try {
      return rate();
    } finally {
      if (perf != null) {
        perf.waitFor();
      }
    }
  }

  private double rate() throws Exception {
    return BenchTools.udpRate(
        cdir,
        host,
        List.of(Integer.toString(PORT), Double.toString(warmup), Double.toString(seconds)),
        peer,
        List.of(
            List.of(
                hostAddress,
                Integer.toString(PORT),
                Integer.toString(payload),
                Double.toString(warmup + seconds + 0.5),
                net + "1")));
  }

  private Process start(Netns ns, String... cmd) throws IOException {
    return BenchTools.start(cdir, ns, cmd);
  }

  private static String line(Process p) throws IOException {
    return BenchTools.line(p);
  }

  private static String loadAverage() {
    return BenchTools.loadAverage();
  }

  private static double median(List<Double> l) {
    return BenchTools.median(l, 0);
  }
}
