package org.divert4j.bench.kernel;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.HostOptions;
import org.divert4j.PacketBatch;
import org.divert4j.rawsocket.RawSocketProvider;
import org.divert4j.testbed.linux.Netns;
import org.divert4j.testbed.linux.Shell;
import org.divert4j.testbed.linux.VethPair;

/**
 * Packets per second through a divert-and-reinject loop on the kernel backend, next to the same
 * traffic with no rule and next to a C program using libnetfilter_queue with one verdict per
 * packet, all in one run on the same namespaces.
 *
 * <pre>
 *   peer netns: udp_blast (C, sendmmsg) --veth--> host netns: [divert point] --> udp_sink (C)
 * </pre>
 *
 * Traffic: UDP with a 64-byte payload (92-byte IP packets) from the peer namespace to the host
 * namespace. The divert point is an input-chain rule ({@code -p udp --dport 9000}) served by either
 * a divert4j socket whose thread receives a batch and writes it back unchanged, or {@code nfq_one}
 * (C, libnetfilter_queue: recv one message, one NF_ACCEPT verdict). The metric is the datagrams the
 * sink receives per second in a measuring window after a warm-up. Each mode runs several times; the
 * table shows medians and ratios.
 *
 * <p>With {@code --parallel N} (N > 1) a fourth mode runs divert4j with {@code parallelism(N)} and
 * N reader threads; then every mode uses N senders with N source addresses, because {@code
 * --queue-balance} hashes addresses, so one sender would use one queue.
 *
 * <p>Usage: {@code KernelBench --cdir DIR [--runs N] [--seconds S] [--warmup S] [--payload B]
 * [--batch N] [--parallel N]}. Needs root. Run it with {@code bench/kernel-bench.sh}.
 */
public final class KernelBench {
  private static final int PORT = 9000;
  private static final int QUEUE = 4200;

  private final Path cdir;
  private final int runs;
  private final double seconds;
  private final double warmup;
  private final int payload;
  private final int batch;
  private final int parallel;
  private Netns peer;
  private Netns host;
  private String hostAddress;
  private String peerNet;

  private KernelBench(Map<String, String> o) {
    this.cdir = Path.of(o.getOrDefault("cdir", "bench/target/c"));
    this.runs = Integer.parseInt(o.getOrDefault("runs", "5"));
    this.seconds = Double.parseDouble(o.getOrDefault("seconds", "3"));
    this.warmup = Double.parseDouble(o.getOrDefault("warmup", "1"));
    this.payload = Integer.parseInt(o.getOrDefault("payload", "64"));
    this.batch = Integer.parseInt(o.getOrDefault("batch", "64"));
    this.parallel = Integer.parseInt(o.getOrDefault("parallel", "1"));
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> o = new LinkedHashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (!args[i].startsWith("--")) {
        throw new IllegalArgumentException("unexpected " + args[i]);
      }
      o.put(args[i].substring(2), args[i + 1]);
    }
    if (!Shell.isRoot()) {
      System.err.println("KernelBench needs root (network namespaces, NFQUEUE)");
      System.exit(1);
    }
    new KernelBench(o).run();
  }

  private void run() throws Exception {
    Map<String, List<Double>> results = new LinkedHashMap<>();
    String[] modes =
        parallel > 1
            ? new String[] {"no rule", "divert4j", "C nfq 1 verdict/pkt", "divert4j x" + parallel}
            : new String[] {"no rule", "divert4j", "C nfq 1 verdict/pkt"};
    for (String m : modes) {
      results.put(m, new ArrayList<>());
    }
    try {
      setUp();
      System.out.printf(
          Locale.ROOT,
          "kernel bench: UDP payload %d B, %d runs x %.1f s (+%.1f s warm-up), batch %d,"
              + " %d sender(s)%n",
          payload,
          runs,
          seconds,
          warmup,
          batch,
          parallel);
      for (int r = 1; r <= runs; r++) {
        for (String m : modes) {
          double pps = measure(m);
          results.get(m).add(pps);
          System.out.printf(Locale.ROOT, "run %d  %-22s %12.0f pps%n", r, m, pps);
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
    double none = median(results.get(modes[0]));
    double d4j = median(results.get(modes[1]));
    double c = median(results.get(modes[2]));
    System.out.println();
    System.out.println("| mode | median pps | runs (pps) |");
    System.out.println("|---|---:|---|");
    for (String m : modes) {
      System.out.printf(
          Locale.ROOT, "| %s | %.0f | %s |%n", m, median(results.get(m)), fmt(results.get(m)));
    }
    System.out.println();
    System.out.printf(Locale.ROOT, "divert4j / no rule            = %.2f%n", d4j / none);
    System.out.printf(Locale.ROOT, "divert4j / C nfq 1 verdict/pkt = %.2f%n", d4j / c);
    System.out.printf(Locale.ROOT, "C nfq 1 verdict/pkt / no rule = %.2f%n", c / none);
    if (parallel > 1) {
      double p = median(results.get(modes[3]));
      System.out.printf(Locale.ROOT, "divert4j x%d / divert4j       = %.2f%n", parallel, p / d4j);
      System.out.printf(Locale.ROOT, "divert4j x%d / no rule        = %.2f%n", parallel, p / none);
    }
  }

  private static String fmt(List<Double> l) {
    StringBuilder sb = new StringBuilder();
    for (double d : l) {
      sb.append(sb.length() == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.0f", d));
    }
    return sb.toString();
  }

  private static double median(List<Double> l) {
    double[] a = l.stream().mapToDouble(Double::doubleValue).toArray();
    Arrays.sort(a);
    return a.length == 0
        ? 0
        : a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
  }

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
    List<String> c = new ArrayList<>();
    c.add(cdir.resolve(cmd[0]).toString());
    c.addAll(Arrays.asList(cmd).subList(1, cmd.length));
    return new ProcessBuilder(Netns.inside(ns.path().toString(), c))
        .redirectError(ProcessBuilder.Redirect.INHERIT)
        .start();
  }

  private static String line(Process p) throws IOException {
    BufferedReader r =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    String l = r.readLine();
    return l == null ? "" : l.trim();
  }

  private double measure(String mode) throws Exception {
    DivertHost dh = null;
    List<Thread> reflectors = new ArrayList<>();
    Process nfq = null;
    boolean[] stop = {false};
    try {
      if (mode.startsWith("divert4j")) {
        int lanes = mode.equals("divert4j") ? 1 : parallel;
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
          Thread reflector =
              new Thread(
                  () -> {
                    PacketBatch b = PacketBatch.allocate(batch, 2048, true);
                    try {
                      while (!stop[0]) {
                        if (s.receive(b, Duration.ofMillis(100)) > 0) {
                          s.send(b);
                        }
                      }
                    } catch (Exception e) {
                      if (!stop[0]) {
                        e.printStackTrace();
                      }
                    }
                  },
                  "bench-reflector-" + t);
          reflector.start();
          reflectors.add(reflector);
        }
      } else if (mode.startsWith("C nfq")) {
        host.execChecked(
            "iptables",
            "-t",
            "raw",
            "-A",
            "PREROUTING",
            "-p",
            "udp",
            "--dport",
            Integer.toString(PORT),
            "-m",
            "comment",
            "--comment",
            "divert4j-bench",
            "-j",
            "NFQUEUE",
            "--queue-num",
            Integer.toString(QUEUE));
        nfq = start(host, "nfq_one", Integer.toString(QUEUE));
        if (!line(nfq).equals("ready")) {
          throw new IOException("nfq_one did not start");
        }
      }
      Process sink =
          start(
              host,
              "udp_sink",
              Integer.toString(PORT),
              Double.toString(warmup),
              Double.toString(seconds));
      if (!line(sink).equals("ready")) {
        throw new IOException("udp_sink did not start");
      }
      List<Process> blasts = new ArrayList<>();
      for (int i = 0; i < parallel; i++) {
        String src = i == 0 ? peerNet + "1" : peerNet + (10 + i);
        blasts.add(
            start(
                peer,
                "udp_blast",
                hostAddress,
                Integer.toString(PORT),
                Integer.toString(payload),
                Double.toString(warmup + seconds + 0.5),
                src));
      }
      String result = line(sink);
      sink.waitFor(30, TimeUnit.SECONDS);
      for (Process b : blasts) {
        b.waitFor(30, TimeUnit.SECONDS);
      }
      String[] f = result.split("\\s+");
      if (f.length < 2 || Double.parseDouble(f[1]) == 0) {
        return 0;
      }
      return Long.parseLong(f[0]) / Double.parseDouble(f[1]);
    } finally {
      stop[0] = true;
      for (Thread r : reflectors) {
        r.join(2000);
      }
      if (dh != null) {
        dh.close();
      }
      if (nfq != null) {
        nfq.destroy();
        nfq.waitFor(5, TimeUnit.SECONDS);
        host.exec("iptables", "-t", "raw", "-F", "PREROUTING");
      }
    }
  }
}
