package org.divert4j.bench.kernel;

import static org.divert4j.bench.kernel.UdpDivertPoint.C_BATCH;
import static org.divert4j.bench.kernel.UdpDivertPoint.C_BATCH_REPEAT;
import static org.divert4j.bench.kernel.UdpDivertPoint.C_ONE;
import static org.divert4j.bench.kernel.UdpDivertPoint.D4J;
import static org.divert4j.bench.kernel.UdpDivertPoint.NONE;
import static org.divert4j.bench.kernel.UdpDivertPoint.PORT;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.divert4j.PacketBatch;
import org.divert4j.bench.BenchTools;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.linux.testbed.VethPair;

/**
 * The kernel backend's speed next to C libnetfilter_queue programs and next to the kernel's own
 * path, all in one run on the same namespaces (issue 7). Traffic: UDP with a 64-byte payload from a
 * peer namespace over a veth pair to a host namespace:
 *
 * <pre>
 *   peer netns: udp_blast (C, sendmmsg) --veth--> host netns: [divert point] --> udp_sink (C)
 * </pre>
 *
 * <p>The divert point is one of:
 *
 * <ul>
 *   <li><b>no rule</b>: the kernel's own path;
 *   <li><b>divert4j</b>: the input rule {@code -p udp --dport 9000 -j DIVERT}; one Java thread
 *       receives a {@link PacketBatch} of {@code --batch} and writes it back unchanged;
 *   <li><b>C nfq 1 verdict/pkt</b>: an NFQUEUE rule in {@code raw PREROUTING} served by {@code
 *       nfq_one} (libnetfilter_queue: recv one message, one NF_ACCEPT verdict);
 *   <li><b>C nfq recvmmsg+batch</b>: the same rule served by {@code nfq_batch} (recvmmsg of up to
 *       64 messages, one {@code nfq_set_verdict_batch} per receive).
 * </ul>
 *
 * <p>Sections, each mode interleaved run by run: <b>throughput</b> (datagrams per second the sink
 * counts in a window after a warm-up; one sender), <b>scaling</b> (divert4j with {@code
 * parallelism(1)} and {@code parallelism(N)}, N senders with N source addresses, because {@code
 * --queue-balance} hashes addresses), <b>latency</b> ({@code udp_ping} in the peer namespace,
 * {@code udp_echo} in the host namespace: one diverted traversal per round trip; median and p99
 * RTT: {@link UdpLatency}), <b>allocation</b> (two divert4j runs, segmentOffload off and on, each
 * over at least {@code --alloc-packets} packets after a warm-up: the reflector threads' allocated
 * bytes from {@code ThreadMXBean} and a JFR recording of
 * ObjectAllocationInNewTLAB/OutsideTLAB/Sample events whose thread is a reflector: {@link
 * ReflectorAllocation}), <b>tcp</b> (iperf3 bulk, issue 15: {@link TcpBulk}), the <b>simulation</b>
 * backend (JMH {@code SimDivertBenchmark}, one fork, when run from {@code benchmarks.jar}: {@link
 * SimThroughput}), and <b>family</b> (the IPv6 row of issue 13 next to the IPv4 one: {@link
 * FamilyBench}). The divert point of the UDP sections is {@link UdpDivertPoint}. It ends with one
 * table of medians, ratios and the targets.
 *
 * <p>Usage: {@code KernelBench --cdir DIR [--runs 5] [--seconds 3] [--warmup 1] [--payload 64]
 * [--batch 64] [--parallel 2] [--pings 20000] [--alloc-packets 1000000] [--sections
 * throughput,scaling,latency,alloc,tcp,sim,family] [--tcp-modes none,d4j,d4j-gso,c,c-gso]} (fewer
 * TCP modes only to profile one; the targets need all five). Needs root. Run it with {@code
 * bench/run-all.sh} (all sections) or {@code bench/kernel-bench.sh} (throughput and scaling).
 */
public final class KernelBench {
  private final Path cdir;
  private final int runs;
  private final double seconds;
  private final double warmup;
  private final int payload;
  private final int batch;
  private final int parallel;
  private final int pings;
  private final long allocPackets;
  private final List<String> tcpModes;
  private final List<String> sections;
  private Netns peer;
  private Netns host;
  private String hostAddress;
  private String peerNet;

  private final Map<String, List<Double>> tput = new LinkedHashMap<>();
  private final Map<String, List<Double>> scale = new LinkedHashMap<>();
  private UdpLatency latency;
  private final List<ReflectorAllocation> allocations = new ArrayList<>();
  private SimThroughput sim;
  private TcpBulk tcp;
  private FamilyBench families;

  private KernelBench(Map<String, String> o) {
    this.cdir = Path.of(o.getOrDefault("cdir", "bench/target/c"));
    this.runs = Integer.parseInt(o.getOrDefault("runs", "5"));
    this.seconds = Double.parseDouble(o.getOrDefault("seconds", "3"));
    this.warmup = Double.parseDouble(o.getOrDefault("warmup", "1"));
    this.payload = Integer.parseInt(o.getOrDefault("payload", "64"));
    this.batch = Integer.parseInt(o.getOrDefault("batch", "64"));
    this.parallel = Integer.parseInt(o.getOrDefault("parallel", "2"));
    this.pings = Integer.parseInt(o.getOrDefault("pings", "20000"));
    this.allocPackets = Long.parseLong(o.getOrDefault("alloc-packets", "1000000"));
    this.tcpModes =
        Arrays.asList(o.getOrDefault("tcp-modes", "none,d4j,d4j-gso,c,c-gso").split(","));
    this.sections =
        Arrays.asList(
            o.getOrDefault("sections", "throughput,scaling,latency,alloc,tcp,sim,family")
                .split(","));
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> o =
        BenchTools.rootOptions(args, "KernelBench", "network namespaces, NFQUEUE");
    new KernelBench(o).run();
  }

  private void run() throws Exception {
    System.out.printf(
        Locale.ROOT,
        "kernel bench: UDP payload %d B, %d runs x %.1f s (+%.1f s warm-up), batch %d,"
            + " parallel %d, %d pings, sections %s%n",
        payload,
        runs,
        seconds,
        warmup,
        batch,
        parallel,
        pings,
        String.join(",", sections));
    System.out.println("load before: " + loadAverage());
    try {
      setUp();
      if (sections.contains("throughput")) {
        for (String m : List.of(NONE, D4J, C_ONE, C_BATCH, C_BATCH_REPEAT)) {
          tput.put(m, new ArrayList<>());
        }
        for (int r = 1; r <= runs; r++) {
          for (String m : tput.keySet()) {
            double pps = measure(m, 1, 1);
            tput.get(m).add(pps);
            System.out.printf(Locale.ROOT, "run %d  %-24s %12.0f pps%n", r, m, pps);
          }
        }
      }
      if (sections.contains("scaling") && parallel > 1) {
        String n1 = D4J + " n=1";
        String nn = D4J + " n=" + parallel;
        String ref = NONE;
        for (String m : List.of(ref, n1, nn)) {
          scale.put(m, new ArrayList<>());
        }
        for (int r = 1; r <= runs; r++) {
          for (String m : scale.keySet()) {
            int lanes = m.equals(nn) ? parallel : 1;
            double pps = measure(m.startsWith(D4J) ? D4J : NONE, lanes, parallel);
            scale.get(m).add(pps);
            System.out.printf(
                Locale.ROOT, "run %d  %d senders %-16s %12.0f pps%n", r, parallel, m, pps);
          }
        }
      }
      if (sections.contains("latency")) {
        latency = new UdpLatency(peer, host, hostAddress, cdir, payload, batch, pings);
        latency.measure(runs);
      }
      if (sections.contains("alloc")) {
        for (boolean offload : new boolean[] {false, true}) {
          ReflectorAllocation a =
              new ReflectorAllocation(
                  peer,
                  host,
                  hostAddress,
                  peerNet + "1",
                  cdir,
                  payload,
                  batch,
                  allocPackets,
                  offload);
          a.measure();
          allocations.add(a);
        }
      }
      if (sections.contains("tcp")) {
        tcp = new TcpBulk(peer, host, hostAddress, cdir, batch, tcpModes);
        tcp.measure(runs, seconds);
      }
      if (sections.contains("family")) {
        families = new FamilyBench(peer, host, hostAddress, peerNet + "1", cdir, payload, batch);
        families.measure(runs, warmup, seconds);
      }
    } finally {
      if (peer != null) {
        peer.close();
      }
      if (host != null) {
        host.close();
      }
    }
    if (sections.contains("sim")) {
      sim = new SimThroughput();
      sim.measure();
    }
    System.out.println("load after: " + loadAverage());
    report();
  }

  // ------------------------------------------------------------------------------------ report

  /** Prints one mode/median/runs table of packets per second, if it has rows. */
  private void ppsTable(String title, Map<String, List<Double>> rows) {
    if (rows.isEmpty()) {
      return;
    }
    System.out.println(title);
    System.out.println();
    System.out.println("| mode | median pps | runs (pps) |");
    System.out.println("|---|---:|---|");
    for (var e : rows.entrySet()) {
      System.out.printf(
          Locale.ROOT, "| %s | %.0f | %s |%n", e.getKey(), median(e.getValue()), fmt(e.getValue()));
    }
    System.out.println();
  }

  private void report() {
    System.out.println();
    if (tcp != null) {
      tcp.report();
    }
    if (families != null) {
      families.report();
    }
    ppsTable("Throughput (1 sender), datagrams/s delivered to the sink:", tput);
    ppsTable(String.format(Locale.ROOT, "Scaling (%d senders), datagrams/s:", parallel), scale);
    if (latency != null) {
      latency.report();
    }
    if (tput.isEmpty()
        && latency == null
        && allocations.isEmpty()
        && scale.isEmpty()
        && sim == null) {
      return; // only sections with targets of their own ran (tcp, family): no empty table
    }
    System.out.println("Targets (issue 7):");
    System.out.println();
    System.out.println("| # | target | measured | goal | met |");
    System.out.println("|---|---|---:|---|---|");
    if (!tput.isEmpty()) {
      double d = median(tput.get(D4J));
      double one = median(tput.get(C_ONE));
      double bat = median(tput.get(C_BATCH));
      double none = median(tput.get(NONE));
      row("1a", "divert4j / C nfq 1 verdict/pkt (pps)", d / one, ">= 1.0", d / one >= 1.0);
      row("1b", "divert4j / C nfq recvmmsg+batch (pps)", d / bat, ">= 0.8", d / bat >= 0.8);
      row("2", "divert4j / no rule (pps)", d / none, ">= 0.6", d / none >= 0.6);
      List<Double> dl = tput.get(D4J);
      System.out.printf(
          Locale.ROOT,
          "| | (run-by-run ratios, median: 1a %.2f, 1b %.2f, 2 %.2f; C batch NF_REPEAT / C batch"
              + " %.2f) | | | |%n",
          BenchTools.pairedRatio(dl, tput.get(C_ONE)),
          BenchTools.pairedRatio(dl, tput.get(C_BATCH)),
          BenchTools.pairedRatio(dl, tput.get(NONE)),
          BenchTools.pairedRatio(tput.get(C_BATCH_REPEAT), tput.get(C_BATCH)));
    }
    if (latency != null) {
      latency.targets();
    }
    for (ReflectorAllocation a : allocations) {
      a.targetRow();
    }
    if (!scale.isEmpty()) {
      double n1 = median(scale.get(D4J + " n=1"));
      double nn = median(scale.get(D4J + " n=" + parallel));
      double none = median(scale.get(NONE));
      System.out.printf(
          Locale.ROOT,
          "| 5 | divert4j n=%d / n=1 (pps, %d senders; n=1 %.0f, n=%d %.0f, no rule %.0f) | %.2f |"
              + " shown | %s |%n",
          parallel,
          parallel,
          n1,
          parallel,
          nn,
          none,
          nn / n1,
          "shown");
    }
    if (sim != null) {
      sim.targetRow();
    }
  }

  private static void row(String n, String what, double v, String goal, boolean met) {
    System.out.printf(
        Locale.ROOT, "| %s | %s | %.2f | %s | %s |%n", n, what, v, goal, met ? "yes" : "no");
  }

  private static String loadAverage() {
    return BenchTools.loadAverage();
  }

  private static String fmt(List<Double> l) {
    return BenchTools.list(l, "%.0f");
  }

  private static double median(List<Double> l) {
    return BenchTools.median(l, 0);
  }

  // ------------------------------------------------------------------------------ namespaces

  private void setUp() throws IOException {
    peer = Netns.create(Netns.uniqueName("bpeer"));
    host = Netns.create(Netns.uniqueName("bhost"));
    long pid = ProcessHandle.current().pid();
    String net = "10.199." + (pid % 250) + ".";
    VethPair link = VethPair.create(peer, "eth0", host, "eth0", 1500);
    link.a().addAddress(net + "1/24");
    for (int i = 1; i < parallel; i++) {
      link.a().addAddress(net + (10 + i) + "/24");
    }
    peerNet = net;
    link.b().addAddress(net + "2/24");
    hostAddress = net + "2";
    for (Netns ns : List.of(peer, host)) {
      ns.sysctl("net.ipv4.conf.all.rp_filter", "0");
      ns.sysctl("net.ipv4.conf.eth0.rp_filter", "0");
    }
  }

  // ---------------------------------------------------------------------------- throughput

  private double measure(String mode, int lanes, int senders) throws Exception {
    try (UdpDivertPoint dp = new UdpDivertPoint(mode, lanes, host, cdir, batch)) {
      return blast(senders);
    }
  }

  /** Runs the senders against the sink; returns the sink's datagrams per second. */
  private double blast(int senders) throws Exception {
    List<List<String>> blasts = new ArrayList<>();
    for (int i = 0; i < senders; i++) {
      String src = i == 0 ? peerNet + "1" : peerNet + (10 + i);
      blasts.add(
          List.of(
              hostAddress,
              Integer.toString(PORT),
              Integer.toString(payload),
              Double.toString(warmup + seconds + 0.5),
              src));
    }
    return BenchTools.udpRate(
        cdir,
        host,
        List.of(Integer.toString(PORT), Double.toString(warmup), Double.toString(seconds)),
        peer,
        blasts);
  }
}
