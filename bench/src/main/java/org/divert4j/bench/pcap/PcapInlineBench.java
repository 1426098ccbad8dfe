package org.divert4j.bench.pcap;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.divert4j.bench.BenchTools;
import org.divert4j.linux.NetDevices;
import org.divert4j.linux.NetnsThread;
import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.linux.testbed.VethPair;

/**
 * Inline throughput of the pcap backend (issue 15): traffic from a peer namespace to a host
 * namespace across a segment namespace that joins them, three ways, on the same namespaces and
 * interfaces, alternating mode by mode within each run:
 *
 * <pre>
 *   peer [eth0 10.198.X.1] ==veth== [out0] segment [in0] ==veth== [eth0 10.198.X.2] host
 * </pre>
 *
 * <ul>
 *   <li><b>divert4j</b>: a pcap inline host on out0/in0 with {@code input -j DIVERT 1} and {@code
 *       output -j DIVERT 1}: every IPv4 packet, both ways, goes to one program thread that receives
 *       batches of 64 and writes each batch back unchanged;
 *   <li><b>C pcap bridge</b>: {@code bench/c/pcap_bridge out0 in0} (libpcap, {@code pcap_next_ex}
 *       then {@code pcap_inject}, one thread per direction, handles opened as the segment opens its
 *       own);
 *   <li><b>Linux bridge</b>: {@code ip link add br0 type bridge} with out0 and in0 as its ports.
 * </ul>
 *
 * Each mode is measured with 64-byte UDP ({@code udp_blast} -> {@code udp_sink}, datagrams per
 * second that reach the sink) and one TCP stream ({@code iperf3}, the receiver's bits per second).
 * Offloads are off on every interface for every mode (TX checksumming, TSO and GSO on peer and
 * host, GRO on all four), as the pcap segment needs them ({@code pcap.offloads}): frames on the
 * wires are at most the MTU, 1500 bytes, in every mode.
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar org.divert4j.bench.pcap.PcapInlineBench \
 *     [--runs 5] [--seconds 3] [--warmup 1] [--payload 64] [--cdir bench/target/c]
 * </pre>
 *
 * Needs root, iperf3 and the programs of {@code bench/build-c.sh}. The namespaces are {@code
 * d4j-<pid>-*}; they are removed at the end, on failure too.
 */
public final class PcapInlineBench {
  static final String D4J = "divert4j";
  static final String C_BRIDGE = "C pcap bridge";
  static final String LINUX = "Linux bridge";
  private static final List<String> MODES = List.of(D4J, C_BRIDGE, LINUX);
  private static final int UDP_PORT = 9000;
  private static final int TCP_PORT = 5201;

  private final Path cdir;
  private final int runs;
  private final double seconds;
  private final double warmup;
  private final int payload;
  private final Map<String, List<Double>> udp = new LinkedHashMap<>();
  private final Map<String, List<Double>> tcp = new LinkedHashMap<>();
  private final Map<String, List<Double>> cpu = new LinkedHashMap<>();
  private Netns peer;
  private Netns segment;
  private Netns host;
  private String hostAddress;
  private String subnet;

  private PcapInlineBench(Map<String, String> o) {
    cdir = Path.of(o.getOrDefault("cdir", "bench/target/c"));
    runs = Integer.parseInt(o.getOrDefault("runs", "5"));
    seconds = Double.parseDouble(o.getOrDefault("seconds", "3"));
    warmup = Double.parseDouble(o.getOrDefault("warmup", "1"));
    payload = Integer.parseInt(o.getOrDefault("payload", "64"));
    for (String m : MODES) {
      udp.put(m, new ArrayList<>());
      tcp.put(m, new ArrayList<>());
      cpu.put(m, new ArrayList<>());
    }
  }

  /**
   * @param args see the class comment
   * @throws Exception if a measurement fails
   */
  public static void main(String[] args) throws Exception {
    Map<String, String> o =
        BenchTools.rootOptions(args, "PcapInlineBench", "network namespaces, live captures");
    if (Shell.which("iperf3").isEmpty()) {
      System.err.println("PcapInlineBench needs iperf3 (apt-get install iperf3)");
      System.exit(1);
    }
    new PcapInlineBench(o).run();
  }

  private void run() throws Exception {
    System.out.printf(
        Locale.ROOT,
        "pcap inline: %d runs, %.1f s (+%.1f s warm-up) per UDP measurement, %d-byte UDP payload;"
            + " %d CPUs; %s %s%n",
        runs,
        seconds,
        warmup,
        payload,
        Runtime.getRuntime().availableProcessors(),
        System.getProperty("java.vm.name"),
        System.getProperty("java.version"));
    System.out.println("load before: " + loadAverage());
    try {
      setUp();
      try (InlineMode m = new InlineMode(D4J, segment, cdir, hostAddress, subnet)) {
        blast(); // JIT warm-up of the segment and the program loop, not counted
      }
      for (int r = 1; r <= runs; r++) {
        for (String mode : MODES) {
          InlineMode m = new InlineMode(mode, segment, cdir, hostAddress, subnet);
          double pps;
          double gbps;
          try {
            pps = blast();
            gbps = iperf();
          } finally {
            m.close();
          }
          udp.get(mode).add(pps);
          tcp.get(mode).add(gbps);
          cpu.get(mode).add(m.cpuMicrosPerPacket());
          System.out.printf(
              Locale.ROOT,
              "run %d  %-14s udp %,10.0f pps   tcp %6.2f Gbit/s%s%n",
              r,
              mode,
              pps,
              gbps,
              m.summary());
        }
      }
    } finally {
      for (Netns ns : Arrays.asList(peer, segment, host)) {
        if (ns != null) {
          ns.close();
        }
      }
    }
    System.out.println("load after: " + loadAverage());
    report();
  }

  private void report() {
    System.out.println();
    System.out.println("| mode | UDP pps (median) | TCP Gbit/s (median) | UDP runs | TCP runs |");
    System.out.println("|---|---:|---:|---|---|");
    for (String m : MODES) {
      System.out.printf(
          Locale.ROOT,
          "| %s | %,.0f | %.2f | %s | %s |%n",
          m,
          median(udp.get(m)),
          median(tcp.get(m)),
          list(udp.get(m), "%.0f"),
          list(tcp.get(m), "%.2f"));
    }
    System.out.println();
    List<Double> c = ratios(cpu.get(D4J), cpu.get(C_BRIDGE));
    System.out.printf(
        Locale.ROOT,
        "CPU per forwarded packet (UDP and TCP together), median: divert4j %.2f us (JVM process),"
            + " C pcap bridge %.2f us; divert4j / C, median of per-run ratios: %.2fx (%s)%n",
        median(cpu.get(D4J)),
        median(cpu.get(C_BRIDGE)),
        median(c),
        list(c, "%.2f"));
    for (String base : List.of(C_BRIDGE, LINUX)) {
      List<Double> u = ratios(udp.get(D4J), udp.get(base));
      List<Double> t = ratios(tcp.get(D4J), tcp.get(base));
      System.out.printf(
          Locale.ROOT,
          "divert4j / %s, median of per-run ratios: UDP %.2f (%s), TCP %.2f (%s)%n",
          base,
          median(u),
          list(u, "%.2f"),
          median(t),
          list(t, "%.2f"));
    }
    System.out.println("target: divert4j >= 0.8x the C pcap bridge");
  }

  // ------------------------------------------------------------------------------ namespaces

  private void setUp() throws IOException {
    peer = Netns.create(Netns.uniqueName("ipeer"));
    segment = Netns.create(Netns.uniqueName("iseg"));
    host = Netns.create(Netns.uniqueName("ihost"));
    subnet = "10.198." + (ProcessHandle.current().pid() % 250) + ".";
    hostAddress = subnet + "2";
    segment.sysctl("net.ipv6.conf.all.disable_ipv6", "1");
    segment.sysctl("net.ipv6.conf.default.disable_ipv6", "1");
    segment.sysctl("net.ipv4.ip_forward", "0");
    VethPair left = VethPair.create(peer, "eth0", segment, "out0", 1500);
    VethPair right = VethPair.create(segment, "in0", host, "eth0", 1500);
    left.a().addAddress(subnet + "1/24");
    right.b().addAddress(hostAddress + "/24");
    // known neighbours: no ARP in the measurement, whatever the mode
    peer.ip("neigh", "replace", hostAddress, "lladdr", mac(right.b().mac()), "dev", "eth0");
    host.ip("neigh", "replace", subnet + "1", "lladdr", mac(left.a().mac()), "dev", "eth0");
    offloadsOff(peer, "eth0", true);
    offloadsOff(host, "eth0", true);
    offloadsOff(segment, "out0", false);
    offloadsOff(segment, "in0", false);
  }

  /** TX checksumming, TSO and GSO off on a sender; GRO off everywhere (as PcapTestBed does). */
  private static void offloadsOff(Netns ns, String device, boolean sender) throws IOException {
    try (NetnsThread t = NetnsThread.open(ns.path().toString(), "bench-offloads")) {
      t.run(
          () -> {
            if (sender) {
              NetDevices.ethtoolOff(device, NetDevices.ETHTOOL_STXCSUM);
              NetDevices.ethtoolOff(device, NetDevices.ETHTOOL_STSO);
              NetDevices.ethtoolOff(device, NetDevices.ETHTOOL_SGSO);
            }
            NetDevices.ethtoolOff(device, NetDevices.ETHTOOL_SGRO);
            return null;
          });
    }
  }

  private static String mac(byte[] m) {
    StringBuilder sb = new StringBuilder();
    for (byte x : m) {
      sb.append(sb.length() == 0 ? "" : ":").append(String.format("%02x", x & 0xff));
    }
    return sb.toString();
  }

  // ----------------------------------------------------------------------------- measuring

  /** udp_blast in the peer to udp_sink in the host; returns the sink's datagrams per second. */
  private double blast() throws Exception {
    Process sink =
        start(
            host,
            "udp_sink",
            Integer.toString(UDP_PORT),
            Double.toString(warmup),
            Double.toString(seconds));
    Process blaster = null;
    try {
      if (!line(sink).equals("ready")) {
        throw new IOException("udp_sink did not start");
      }
      blaster =
          start(
              peer,
              "udp_blast",
              hostAddress,
              Integer.toString(UDP_PORT),
              Integer.toString(payload),
              Double.toString(warmup + seconds + 0.5),
              subnet + "1");
      String result = line(sink);
      blaster.waitFor(30, TimeUnit.SECONDS);
      String[] f = result.split("\\s+");
      if (f.length < 2 || Double.parseDouble(f[1]) == 0) {
        return 0;
      }
      return Long.parseLong(f[0]) / Double.parseDouble(f[1]);
    } finally {
      sink.destroyForcibly();
      if (blaster != null) {
        blaster.destroyForcibly();
      }
    }
  }

  /** One iperf3 TCP stream, peer to host; returns the receiver's Gbit/s. */
  private double iperf() throws Exception {
    Process server = BenchTools.iperf3Server(host, TCP_PORT);
    try {
      Thread.sleep(300); // the server's listen
      return BenchTools.iperf3Client(peer, hostAddress, TCP_PORT, seconds, "the inline bench")
          / 1e9;
    } finally {
      server.destroy();
      server.waitFor(5, TimeUnit.SECONDS);
    }
  }

  private Process start(Netns ns, String... cmd) throws IOException {
    return BenchTools.start(cdir, ns, cmd);
  }

  static String line(Process p) throws IOException {
    return BenchTools.line(p);
  }

  // ---------------------------------------------------------------------------------- util

  private static List<Double> ratios(List<Double> a, List<Double> b) {
    List<Double> r = new ArrayList<>();
    for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
      r.add(b.get(i) == 0 ? Double.NaN : a.get(i) / b.get(i));
    }
    return r;
  }

  private static double median(List<Double> l) {
    return BenchTools.median(l, Double.NaN);
  }

  private static String list(List<Double> l, String format) {
    return BenchTools.list(l, format);
  }

  private static String loadAverage() {
    return BenchTools.loadAverage();
  }
}
