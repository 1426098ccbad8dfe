package org.divert4j.bench.kernel;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordingFile;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.HostOptions;
import org.divert4j.PacketBatch;
import org.divert4j.bench.BenchTools;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.linux.testbed.VethPair;
import org.divert4j.rawsocket.RawSocketProvider;

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
 * RTT), <b>allocation</b> (one divert4j run over at least {@code --alloc-packets} packets after a
 * warm-up: the reflector threads' allocated bytes from {@code ThreadMXBean} and a JFR recording of
 * ObjectAllocationInNewTLAB/OutsideTLAB/Sample events whose thread is a reflector), and the
 * <b>simulation</b> backend (JMH {@code SimDivertBenchmark}, one fork, when run from {@code
 * benchmarks.jar}), and <b>family</b> (the IPv6 row of issue 13 next to the IPv4 one: {@link
 * FamilyBench}). It ends with one table of medians, ratios and the targets.
 *
 * <p>Usage: {@code KernelBench --cdir DIR [--runs 5] [--seconds 3] [--warmup 1] [--payload 64]
 * [--batch 64] [--parallel 2] [--pings 20000] [--alloc-packets 1000000] [--sections
 * throughput,scaling,latency,alloc,tcp,sim,family]}. Needs root. Run it with {@code
 * bench/run-all.sh} (all sections) or {@code bench/kernel-bench.sh} (throughput and scaling).
 */
public final class KernelBench {
  private static final int PORT = 9000;
  private static final int QUEUE = 4200;
  private static final Duration WAIT = Duration.ofMillis(100);

  private static final String NONE = "no rule";
  private static final String D4J = "divert4j";
  private static final String C_ONE = "C nfq 1 verdict/pkt";
  private static final String C_BATCH = "C nfq recvmmsg+batch";
  private static final String REPEAT = ", NF_REPEAT";
  private static final String C_ONE_REPEAT = C_ONE + REPEAT;
  private static final String C_BATCH_REPEAT = C_BATCH + REPEAT;

  private final Path cdir;
  private final int runs;
  private final double seconds;
  private final double warmup;
  private final int payload;
  private final int batch;
  private final int parallel;
  private final int pings;
  private final long allocPackets;
  private final List<String> sections;
  private Netns peer;
  private Netns host;
  private String hostAddress;
  private String peerNet;

  private final Map<String, List<Double>> tput = new LinkedHashMap<>();
  private final Map<String, List<Double>> scale = new LinkedHashMap<>();
  private final Map<String, List<double[]>> lat = new LinkedHashMap<>();
  private double allocBytesPerPacket = Double.NaN;
  private long allocPacketsSeen;
  private long jfrEvents = -1;
  private double simMpps = Double.NaN;
  private TcpBulk tcp;
  private double copyMpps = Double.NaN;
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
        for (String m : List.of(NONE, D4J, C_ONE, C_ONE_REPEAT)) {
          lat.put(m, new ArrayList<>());
        }
        for (int r = 1; r <= runs; r++) {
          for (String m : lat.keySet()) {
            double[] l = latency(m);
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
      if (sections.contains("alloc")) {
        allocation();
      }
      if (sections.contains("tcp")) {
        tcp = new TcpBulk(peer, host, hostAddress, cdir, batch);
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
      sim();
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
      tcpReport();
    }
    if (families != null) {
      families.report();
    }
    ppsTable("Throughput (1 sender), datagrams/s delivered to the sink:", tput);
    ppsTable(String.format(Locale.ROOT, "Scaling (%d senders), datagrams/s:", parallel), scale);
    if (!lat.isEmpty()) {
      System.out.printf(
          Locale.ROOT, "Latency: UDP ping-pong RTT, %d rounds per run (microseconds):%n%n", pings);
      System.out.println(
          "| mode | median RTT | p99 RTT | added median | added p99 | runs (median/p99) |");
      System.out.println("|---|---:|---:|---:|---:|---|");
      double[] base = latMedians(NONE);
      for (var e : lat.entrySet()) {
        double[] m = latMedians(e.getKey());
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
          paired(dl, tput.get(C_ONE)),
          paired(dl, tput.get(C_BATCH)),
          paired(dl, tput.get(NONE)),
          paired(tput.get(C_BATCH_REPEAT), tput.get(C_BATCH)));
    }
    if (!lat.isEmpty()) {
      double[] base = latMedians(NONE);
      double[] d = latMedians(D4J);
      double[] c = latMedians(C_ONE);
      latencyRow("3a", "added latency (RTT - no rule RTT), median", d[0] - base[0], c[0] - base[0]);
      latencyRow("3b", "added latency (RTT - no rule RTT), p99", d[1] - base[1], c[1] - base[1]);
      System.out.printf(
          Locale.ROOT,
          "| | (RTT divert4j / C 1 verdict: median %.2f, p99 %.2f; C NF_REPEAT / C: median %.2f)"
              + " | | | |%n",
          d[0] / c[0],
          d[1] / c[1],
          latMedians(C_ONE_REPEAT)[0] / c[0]);
    }
    if (!Double.isNaN(allocBytesPerPacket)) {
      System.out.printf(
          Locale.ROOT,
          "| 4 | bytes allocated per packet, PacketBatch loop (%d packets; JFR TLAB events on"
              + " reflector: %d) | %.4f | 0 | %s |%n",
          allocPacketsSeen,
          jfrEvents,
          allocBytesPerPacket,
          allocBytesPerPacket < 0.01 && jfrEvents == 0 ? "yes" : "no");
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
    if (!Double.isNaN(simMpps)) {
      System.out.printf(
          Locale.ROOT,
          "| 6 | sim divert+reinject, one thread (Mpps; copy loop %.1f Mpps, ratio %.3f) | %.2f |"
              + " >= 5.0 | %s |%n",
          copyMpps,
          simMpps / copyMpps,
          simMpps,
          simMpps >= 5.0 ? "yes" : "no");
    }
  }

  /** The TCP bulk table and the issue 15 targets, as ratios of medians within this run. */
  private void tcpReport() {
    Map<String, List<Double>> r = tcp.results();
    System.out.println("TCP bulk (iperf3, one stream, peer -> host, MTU 1500), Gbit/s:");
    System.out.println();
    System.out.println(
        "| mode | median | runs | mean packet divert4j saw | bytes allocated per packet (reader) |");
    System.out.println("|---|---:|---|---:|---:|");
    for (var e : r.entrySet()) {
      double mean = tcp.meanPacket(e.getKey());
      double alloc = tcp.allocatedPerPacket(e.getKey());
      System.out.printf(
          Locale.ROOT,
          "| %s | %.2f | %s | %s | %s |%n",
          e.getKey(),
          median(e.getValue()),
          e.getValue().stream()
              .map(d -> String.format(Locale.ROOT, "%.2f", d))
              .collect(java.util.stream.Collectors.joining(", ")),
          Double.isNaN(mean) ? "" : String.format(Locale.ROOT, "%.0f B", mean),
          Double.isNaN(alloc) ? "" : String.format(Locale.ROOT, "%.3f", alloc));
    }
    System.out.println();
    double gso = median(r.get(TcpBulk.D4J_GSO));
    double plain = median(r.get(TcpBulk.D4J));
    double cGso = median(r.get(TcpBulk.C_GSO));
    double cOne = median(r.get(TcpBulk.C_ONE));
    double none = median(r.get(TcpBulk.NONE));
    System.out.println("| target | ratio | goal | met |");
    System.out.println("|---|---:|---:|---|");
    tcpRow("divert4j segmentOffload / C with F_GSO", gso / cGso, 0.9);
    tcpRow("divert4j segmentOffload / no rule", gso / none, 0.7);
    tcpRow("divert4j (no offload) / C without the flag", plain / cOne, 1.0);
    System.out.println();
  }

  private static void tcpRow(String what, double ratio, double goal) {
    System.out.printf(
        Locale.ROOT,
        "| %s | %.2fx | >= %.1fx | %s |%n",
        what,
        ratio,
        goal,
        ratio >= goal ? "yes" : "NO");
  }

  private static void row(String n, String what, double v, String goal, boolean met) {
    System.out.printf(
        Locale.ROOT, "| %s | %s | %.2f | %s | %s |%n", n, what, v, goal, met ? "yes" : "no");
  }

  /** A latency target: divert4j's added latency over C's; undefined when C's is not above 0. */
  private static void latencyRow(String n, String what, double d4j, double c) {
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

  /** The median of the run-by-run ratios a[r] / b[r] (runs of one round are measured together). */
  private static double paired(List<Double> a, List<Double> b) {
    List<Double> r = new ArrayList<>();
    for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
      if (b.get(i) > 0) {
        r.add(a.get(i) / b.get(i));
      }
    }
    return median(r);
  }

  private double[] latMedians(String m) {
    List<double[]> l = lat.get(m);
    List<Double> med = new ArrayList<>();
    List<Double> p99 = new ArrayList<>();
    for (double[] x : l) {
      med.add(x[0]);
      p99.add(x[1]);
    }
    return new double[] {median(med), median(p99)};
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

  private Process start(Netns ns, String... cmd) throws IOException {
    return BenchTools.start(cdir, ns, cmd);
  }

  private static String line(Process p) throws IOException {
    return BenchTools.line(p);
  }

  // ------------------------------------------------------------------------- divert points

  /** What serves the divert point during one measurement; closing it removes it. */
  private final class DivertPoint implements AutoCloseable {
    final List<Thread> reflectors = new ArrayList<>();
    final AtomicLong[] counts;
    final AtomicLong sendNanos = new AtomicLong(); // time in send(PacketBatch), all threads
    volatile boolean stop;
    DivertHost dh;
    Process nfq;

    DivertPoint(String mode, int lanes) throws Exception {
      counts = new AtomicLong[lanes];
      try {
        if (mode.equals(D4J)) {
          startDivert4j(lanes);
        } else if (mode.startsWith("C nfq")) {
          startC(mode.startsWith(C_ONE) ? "nfq_one" : "nfq_batch", mode.endsWith(REPEAT));
        }
      } catch (Exception e) {
        close();
        throw e;
      }
    }

    private void startDivert4j(int lanes) throws Exception {
      dh =
          new RawSocketProvider()
              .open(
                  HostOptions.builder()
                      .queueLength(8192)
                      .parallelism(lanes)
                      .property("rawsocket.netns", host.name())
                      .property("rawsocket.batch", Integer.toString(batch))
                      .build());
      DivertSocket s = dh.bind(QUEUE);
      dh.addRule(DivertRule.parse("input -p udp --dport " + PORT + " -j DIVERT " + QUEUE));
      for (int t = 0; t < lanes; t++) {
        AtomicLong count = new AtomicLong();
        counts[t] = count;
        Thread reflector =
            new Thread(
                () -> {
                  // The loop under test: nothing here allocates per packet (WAIT is a constant).
                  PacketBatch b = PacketBatch.allocate(batch, 2048, true);
                  try {
                    while (!stop) {
                      int n = s.receive(b, WAIT);
                      if (n > 0) {
                        long t0 = System.nanoTime();
                        s.send(b);
                        sendNanos.lazySet(sendNanos.get() + System.nanoTime() - t0);
                        count.lazySet(count.get() + n);
                      }
                    }
                  } catch (Exception e) {
                    if (!stop) {
                      e.printStackTrace();
                    }
                  }
                },
                "bench-reflector-" + t);
        reflector.start();
        reflectors.add(reflector);
      }
    }

    private void startC(String program, boolean repeat) throws IOException {
      List<String> rule =
          new ArrayList<>(
              List.of("iptables", "-t", "raw", "-A", "PREROUTING", "-p", "udp", "--dport"));
      rule.add(Integer.toString(PORT));
      if (repeat) {
        // a reinjected packet carries mark bit 0x1 and runs the table again: skip it
        rule.addAll(List.of("-m", "mark", "!", "--mark", "0x1/0x1"));
      }
      rule.addAll(List.of("-m", "comment", "--comment", "divert4j-bench", "-j", "NFQUEUE"));
      rule.addAll(List.of("--queue-num", Integer.toString(QUEUE)));
      host.execChecked(rule.toArray(new String[0]));
      nfq =
          repeat
              ? start(host, program, Integer.toString(QUEUE), "repeat")
              : start(host, program, Integer.toString(QUEUE));
      if (!line(nfq).equals("ready")) {
        throw new IOException(program + " did not start");
      }
    }

    long packets() {
      long n = 0;
      for (AtomicLong c : counts) {
        n += c == null ? 0 : c.get();
      }
      return n;
    }

    @Override
    public void close() throws Exception {
      stop = true;
      for (Thread r : reflectors) {
        r.join(2000);
      }
      if (dh != null) {
        dh.close();
      }
      if (nfq != null) {
        nfq.destroy();
        nfq.waitFor(5, TimeUnit.SECONDS);
      }
      if (host != null) {
        host.exec("iptables", "-t", "raw", "-F", "PREROUTING");
      }
    }
  }

  // ---------------------------------------------------------------------------- throughput

  private double measure(String mode, int lanes, int senders) throws Exception {
    try (DivertPoint dp = new DivertPoint(mode, lanes)) {
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

  // ------------------------------------------------------------------------------- latency

  /**
   * @return median RTT, p99 RTT, mean RTT (microseconds), lost
   */
  private double[] latency(String mode) throws Exception {
    try (DivertPoint dp = new DivertPoint(mode, 1)) {
      Process echo = start(host, "udp_echo", Integer.toString(PORT));
      try {
        if (!line(echo).equals("ready")) {
          throw new IOException("udp_echo did not start");
        }
        Process ping =
            start(
                peer,
                "udp_ping",
                hostAddress,
                Integer.toString(PORT),
                Integer.toString(payload),
                Integer.toString(Math.max(1000, pings / 10)),
                Integer.toString(pings));
        String result = line(ping);
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

  // ---------------------------------------------------------------------------- allocation

  /**
   * One divert4j run under a sender until the reflector has written back at least {@code
   * allocPackets} packets after a warm-up of 100,000: the reflector thread's allocated bytes
   * (HotSpot's per-thread counter, exact to the TLAB byte) over that window, and a JFR recording of
   * allocation events during it, of which the reflector's are counted and their top frames shown.
   */
  private void allocation() throws Exception {
    com.sun.management.ThreadMXBean mx =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    Path jfr = Files.createTempFile("d4j-alloc", ".jfr");
    try (DivertPoint dp = new DivertPoint(D4J, 1)) {
      long tid = dp.reflectors.get(0).getId();
      List<Process> blasts = new ArrayList<>();
      // senders run in rounds of 5 s until enough packets went through
      long startPackets = -1;
      long startBytes = 0;
      long endPackets;
      long endBytes;
      long startCpu = 0;
      long startUser = 0;
      long endCpu;
      long endUser;
      Recording rec = null;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      try {
        while (true) {
          blasts.removeIf(p -> !p.isAlive());
          if (blasts.isEmpty()) {
            blasts.add(
                start(
                    peer,
                    "udp_blast",
                    hostAddress,
                    Integer.toString(PORT),
                    Integer.toString(payload),
                    "5",
                    peerNet + "1"));
          }
          long n = dp.packets();
          if (startPackets < 0 && n >= 100_000) {
            rec = new Recording();
            rec.enable("jdk.ObjectAllocationInNewTLAB").withStackTrace();
            rec.enable("jdk.ObjectAllocationOutsideTLAB").withStackTrace();
            rec.enable("jdk.ObjectAllocationSample").withStackTrace();
            rec.enable("jdk.ExecutionSample").withPeriod(Duration.ofMillis(2));
            rec.enable("jdk.NativeMethodSample").withPeriod(Duration.ofMillis(2));
            rec.start();
            startBytes = mx.getThreadAllocatedBytes(tid);
            startCpu = mx.getThreadCpuTime(tid);
            startUser = mx.getThreadUserTime(tid);
            startPackets = dp.packets();
          }
          if (startPackets >= 0 && n - startPackets >= allocPackets) {
            endBytes = mx.getThreadAllocatedBytes(tid);
            endCpu = mx.getThreadCpuTime(tid);
            endUser = mx.getThreadUserTime(tid);
            endPackets = dp.packets();
            rec.stop();
            break;
          }
          if (System.nanoTime() > deadline) {
            throw new IOException("allocation run: only " + n + " packets in 120 s");
          }
          Thread.sleep(50);
        }
      } finally {
        for (Process b : blasts) {
          b.destroy();
          b.waitFor(5, TimeUnit.SECONDS);
        }
      }
      rec.dump(jfr);
      rec.close();
      allocPacketsSeen = endPackets - startPackets;
      allocBytesPerPacket = (endBytes - startBytes) / (double) allocPacketsSeen;
      System.out.printf(
          Locale.ROOT,
          "allocation: %d packets, %d bytes on the reflector thread = %.4f bytes/packet%n",
          allocPacketsSeen,
          endBytes - startBytes,
          allocBytesPerPacket);
      System.out.printf(
          Locale.ROOT,
          "allocation run: reflector CPU %.2f us/packet (user %.2f, system %.2f)%n",
          (endCpu - startCpu) / 1e3 / allocPacketsSeen,
          (endUser - startUser) / 1e3 / allocPacketsSeen,
          ((endCpu - startCpu) - (endUser - startUser)) / 1e3 / allocPacketsSeen);
      jfrEvents = 0;
      Map<String, Long> top = new LinkedHashMap<>();
      Map<String, Long> samples = new LinkedHashMap<>();
      for (RecordedEvent e : RecordingFile.readAllEvents(jfr)) {
        String type = e.getEventType().getName();
        var thread =
            e.hasField("sampledThread") ? e.getThread("sampledThread") : e.getThread("eventThread");
        if (thread == null
            || thread.getJavaName() == null
            || !thread.getJavaName().startsWith("bench-reflector")) {
          continue;
        }
        if (type.equals("jdk.ExecutionSample") || type.equals("jdk.NativeMethodSample")) {
          RecordedStackTrace st = e.getStackTrace();
          if (st != null && !st.getFrames().isEmpty()) {
            RecordedFrame f = st.getFrames().get(0);
            String k =
                (type.equals("jdk.NativeMethodSample") ? "native " : "java   ")
                    + f.getMethod().getType().getName()
                    + "."
                    + f.getMethod().getName();
            samples.merge(k, 1L, Long::sum);
          }
          continue;
        }
        jfrEvents++;
        RecordedStackTrace st = e.getStackTrace();
        String where = "?";
        if (st != null && !st.getFrames().isEmpty()) {
          StringBuilder sb = new StringBuilder();
          for (RecordedFrame f : st.getFrames().subList(0, Math.min(4, st.getFrames().size()))) {
            sb.append(" < ")
                .append(f.getMethod().getType().getName())
                .append('.')
                .append(f.getMethod().getName());
          }
          where = e.getEventType().getName() + " " + e.getClass("objectClass").getName() + sb;
        }
        top.merge(where, 1L, Long::sum);
      }
      System.out.printf(
          Locale.ROOT,
          "allocation: JFR (%s) has %d allocation events of the reflector thread%n",
          jfr,
          jfrEvents);
      top.forEach((k, v) -> System.out.println("  " + v + "x " + k));
      System.out.println("allocation run: JFR execution samples of the reflector (top frames):");
      samples.entrySet().stream()
          .sorted((a, b) -> Long.compare(b.getValue(), a.getValue()))
          .limit(15)
          .forEach(en -> System.out.println("  " + en.getValue() + "  " + en.getKey()));
    }
  }

  // ---------------------------------------------------------------------------- simulation

  /** Runs SimDivertBenchmark through JMH (one fork); needs the benchmarks.jar class path. */
  private void sim() {
    try {
      var opts =
          new org.openjdk.jmh.runner.options.OptionsBuilder()
              .include(org.divert4j.bench.SimDivertBenchmark.class.getName())
              .forks(1)
              .warmupIterations(3)
              .warmupTime(org.openjdk.jmh.runner.options.TimeValue.seconds(2))
              .measurementIterations(5)
              .measurementTime(org.openjdk.jmh.runner.options.TimeValue.seconds(2))
              .verbosity(org.openjdk.jmh.runner.options.VerboseMode.SILENT)
              .build();
      for (var r : new org.openjdk.jmh.runner.Runner(opts).run()) {
        String name = r.getParams().getBenchmark();
        double mpps = r.getPrimaryResult().getScore() / 1e6;
        System.out.printf(
            Locale.ROOT,
            "sim: %s %.3f Mpps (+- %.3f, 99.9%% CI, %d x 2 s after 3 x 2 s warm-up, one fork)%n",
            name.substring(name.lastIndexOf('.') + 1),
            mpps,
            r.getPrimaryResult().getScoreError() / 1e6,
            r.getPrimaryResult().getSampleCount());
        if (name.endsWith("divertAndReinject")) {
          simMpps = mpps;
        } else if (name.endsWith("copyBaseline")) {
          copyMpps = mpps;
        }
      }
    } catch (Exception | LinkageError e) {
      System.out.println("sim: JMH did not run (" + e + "); run from bench/target/benchmarks.jar");
    }
  }
}
