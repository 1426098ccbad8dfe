package org.divert4j.bench.kernel;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.PacketBatch;
import org.divert4j.bench.BenchTools;
import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.Netns;

/**
 * TCP bulk throughput (issue 15): one iperf3 stream from the peer namespace to the host namespace
 * over a veth pair of MTU 1500, every packet diverted on the host's input and written back
 * unchanged; no rule, divert4j without and with {@code segmentOffload}, and the C
 * libnetfilter_queue one-verdict program without and with {@code NFQA_CFG_F_GSO}. Modes alternate
 * within each run so that the machine's load hits them alike.
 */
final class TcpBulk {
  static final String NONE = "no rule";
  static final String D4J = "divert4j";
  static final String D4J_GSO = "divert4j segmentOffload";
  static final String C_ONE = "C nfq 1 verdict/pkt";
  static final String C_GSO = "C nfq 1 verdict/pkt, F_GSO";
  private static final int PORT = 5201;
  private static final int QUEUE = 4300;
  private static final Duration WAIT = Duration.ofMillis(100);

  private final Netns peer;
  private final Netns host;
  private final String hostAddress;
  private final Path cdir;
  private final int batch;
  private final Map<String, List<Double>> gbps = new LinkedHashMap<>();
  private final Map<String, long[]> packets = new LinkedHashMap<>();

  /**
   * @param modes which modes to measure, by key: {@code none}, {@code d4j}, {@code d4j-gso}, {@code
   *     c}, {@code c-gso} (all five for the table and its targets; fewer to profile one mode)
   */
  TcpBulk(Netns peer, Netns host, String hostAddress, Path cdir, int batch, List<String> modes) {
    this.peer = peer;
    this.host = host;
    this.hostAddress = hostAddress;
    this.cdir = cdir;
    this.batch = batch;
    List<String> keys = List.of("none", "d4j", "d4j-gso", "c", "c-gso");
    List<String> names = List.of(NONE, D4J, D4J_GSO, C_ONE, C_GSO);
    for (String k : modes) {
      if (!keys.contains(k)) {
        throw new IllegalArgumentException("tcp mode " + k + ", not one of " + keys);
      }
    }
    for (int i = 0; i < keys.size(); i++) {
      if (!modes.contains(keys.get(i))) {
        continue;
      }
      String m = names.get(i);
      gbps.put(m, new ArrayList<>());
      packets.put(m, new long[4]); // packets, bytes seen by divert4j; packets, bytes allocated
    }
  }

  /** Runs every mode {@code runs} times; prints each result. */
  void measure(int runs, double seconds) throws Exception {
    if (Shell.which("iperf3").isEmpty()) {
      throw new IOException("no iperf3 (apt-get install iperf3)");
    }
    for (int r = 1; r <= runs; r++) {
      for (String m : gbps.keySet()) {
        double g = once(m, seconds);
        gbps.get(m).add(g);
        System.out.printf(Locale.ROOT, "run %d  tcp %-28s %8.2f Gbit/s%n", r, m, g);
      }
    }
  }

  /** Mean packet size divert4j saw in a mode, in bytes; NaN if it saw none. */
  private double meanPacket(String mode) {
    long[] p = packets.get(mode);
    return p[0] == 0 ? Double.NaN : (double) p[1] / p[0];
  }

  /**
   * Bytes the reader thread allocated per packet in a mode, after its first 1000 packets of each
   * run (ThreadMXBean); NaN if it saw none.
   */
  private double allocatedPerPacket(String mode) {
    long[] p = packets.get(mode);
    return p[2] == 0 ? Double.NaN : (double) p[3] / p[2];
  }

  /** The TCP bulk table and the issue 15 targets, as ratios of medians within this run. */
  void report() {
    Map<String, List<Double>> r = gbps;
    System.out.println("TCP bulk (iperf3, one stream, peer -> host, MTU 1500), Gbit/s:");
    System.out.println();
    System.out.println(
        "| mode | median | runs | mean packet divert4j saw | bytes allocated per packet (reader) |");
    System.out.println("|---|---:|---|---:|---:|");
    for (var e : r.entrySet()) {
      double mean = meanPacket(e.getKey());
      double alloc = allocatedPerPacket(e.getKey());
      System.out.printf(
          Locale.ROOT,
          "| %s | %.2f | %s | %s | %s |%n",
          e.getKey(),
          BenchTools.median(e.getValue(), 0),
          e.getValue().stream()
              .map(d -> String.format(Locale.ROOT, "%.2f", d))
              .collect(java.util.stream.Collectors.joining(", ")),
          Double.isNaN(mean) ? "" : String.format(Locale.ROOT, "%.0f B", mean),
          Double.isNaN(alloc) ? "" : String.format(Locale.ROOT, "%.3f", alloc));
    }
    System.out.println();
    if (r.size() < 5) {
      return; // a profiling run of some modes: no targets
    }
    double gso = BenchTools.median(r.get(D4J_GSO), 0);
    double plain = BenchTools.median(r.get(D4J), 0);
    double cGso = BenchTools.median(r.get(C_GSO), 0);
    double cOne = BenchTools.median(r.get(C_ONE), 0);
    double none = BenchTools.median(r.get(NONE), 0);
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

  private double once(String mode, double seconds) throws Exception {
    Process server = BenchTools.iperf3Server(host, PORT);
    try (Point p = new Point(mode)) {
      Thread.sleep(300); // the server's listen
      double bits = BenchTools.iperf3Client(peer, hostAddress, PORT, seconds, "mode " + mode);
      long[] c = packets.get(mode);
      c[0] += p.count.get();
      c[1] += p.bytes.get();
      p.stop = true;
      if (p.reflector != null) {
        p.reflector.join(2000);
      }
      c[2] += p.measured.get();
      c[3] += p.allocated.get();
      return bits / 1e9;
    } finally {
      server.destroy();
      server.waitFor(5, TimeUnit.SECONDS);
    }
  }

  /** What serves the divert point during one measurement; closing it removes it. */
  private final class Point implements AutoCloseable {
    final AtomicLong count = new AtomicLong();
    final AtomicLong bytes = new AtomicLong();
    final AtomicLong measured = new AtomicLong();
    final AtomicLong allocated = new AtomicLong();
    volatile boolean stop;
    DivertHost dh;
    Thread reflector;
    Process nfq;

    Point(String mode) throws Exception {
      try {
        if (mode.startsWith(D4J)) {
          startDivert4j(mode.equals(D4J_GSO));
        } else if (mode.startsWith("C nfq")) {
          startC(mode.equals(C_GSO));
        }
      } catch (Exception e) {
        close();
        throw e;
      }
    }

    private void startDivert4j(boolean offload) throws Exception {
      dh = BenchTools.openKernelHost(host, batch, 1, offload);
      DivertSocket s = dh.bind(QUEUE);
      dh.addRule(DivertRule.parse("input -p tcp --dport " + PORT + " -j DIVERT " + QUEUE));
      reflector =
          new Thread(
              () -> {
                // unchanged write-back; slots of 65535 bytes hold super-packets
                PacketBatch b = PacketBatch.allocate(batch);
                com.sun.management.ThreadMXBean mx =
                    (com.sun.management.ThreadMXBean)
                        java.lang.management.ManagementFactory.getThreadMXBean();
                long from = -1;
                long fromCount = 0;
                try {
                  while (!stop) {
                    if (from < 0 && count.get() >= 1000) {
                      fromCount = count.get();
                      from = mx.getCurrentThreadAllocatedBytes();
                    }
                    int n = s.receive(b, WAIT);
                    if (n > 0) {
                      long sum = 0;
                      for (int i = 0; i < n; i++) {
                        sum += b.packet(i).limit();
                      }
                      s.send(b);
                      count.lazySet(count.get() + n);
                      bytes.lazySet(bytes.get() + sum);
                    }
                  }
                } catch (Exception e) {
                  if (!stop) {
                    e.printStackTrace();
                  }
                }
                if (from >= 0) {
                  allocated.set(mx.getCurrentThreadAllocatedBytes() - from);
                  measured.set(count.get() - fromCount);
                }
              },
              "bench-tcp-reflector");
      reflector.start();
    }

    private void startC(boolean gso) throws IOException {
      BenchTools.addNfqueueRule(host, "iptables", "tcp", PORT, QUEUE);
      List<String> c = new ArrayList<>(List.of(cdir.resolve("nfq_one").toString()));
      c.add(Integer.toString(QUEUE));
      if (gso) {
        c.add("gso");
      }
      nfq =
          new ProcessBuilder(Shell.inNetns(host.path().toString(), c))
              .redirectError(ProcessBuilder.Redirect.DISCARD)
              .start();
      byte[] ready = new byte[6];
      int n = nfq.getInputStream().readNBytes(ready, 0, 6);
      if (n < 5 || !new String(ready, 0, 5, StandardCharsets.US_ASCII).equals("ready")) {
        throw new IOException("nfq_one did not start");
      }
    }

    @Override
    public void close() throws Exception {
      stop = true;
      BenchTools.closeDivertPoint(Collections.singletonList(reflector), dh, nfq, host, "iptables");
    }
  }
}
