package org.divert4j.bench.kernel;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.PacketBatch;
import org.divert4j.bench.BenchTools;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.linux.testbed.VethPair;

/**
 * The IPv6 row of issue 13 next to the IPv4 one, in the same run on the same namespaces: 64-byte
 * UDP from the peer namespace to a sink in the host namespace, diverted on the host's input and
 * written back unchanged by divert4j (rule {@code input -4|-6 -p udp --dport 9100 -j DIVERT}), next
 * to the C one-verdict program {@code nfq_one -4|-6} behind an {@code iptables} or {@code
 * ip6tables} {@code raw PREROUTING} NFQUEUE rule, and next to no rule. After one unrecorded
 * divert4j round per family (the JIT), every run measures the six modes one after the other, IPv4
 * first in odd runs and IPv6 first in even ones, so that the machine's load and order effects hit
 * both families alike. The target: the IPv6 ratio divert4j / C is within 10 % of the IPv4 ratio.
 *
 * <p>The C programs take the family as an option ({@code udp_blast -6}, {@code udp_sink -6}, {@code
 * nfq_one -6}); {@code nfq_one} checks each packet's family and fails (exit status 3) if its rule
 * queued packets of the other family.
 */
final class FamilyBench {
  private static final int PORT = 9100;
  private static final int QUEUE = 4400;
  private static final Duration WAIT = Duration.ofMillis(100);
  private static final String NONE = "no rule";
  private static final String D4J = "divert4j";
  private static final String C_ONE = "C nfq 1 verdict/pkt";
  private static final List<String> FAMILIES = List.of("IPv4", "IPv6");
  private static final String PEER6 = "fd00:c7::1";
  private static final String HOST6 = "fd00:c7::2";

  private final Netns peer;
  private final Netns host;
  private final String host4;
  private final String peer4;
  private final Path cdir;
  private final int payload;
  private final int batch;
  private final Map<String, List<Double>> pps = new LinkedHashMap<>();

  /**
   * @param peer the sender's namespace, whose {@code eth0} holds {@code peer4}
   * @param host the sink's namespace, whose {@code eth0} holds {@code host4}
   */
  FamilyBench(
      Netns peer, Netns host, String host4, String peer4, Path cdir, int payload, int batch) {
    this.peer = peer;
    this.host = host;
    this.host4 = host4;
    this.peer4 = peer4;
    this.cdir = cdir;
    this.payload = payload;
    this.batch = batch;
    for (String f : FAMILIES) {
      for (String m : List.of(NONE, D4J, C_ONE)) {
        pps.put(f + " " + m, new ArrayList<>());
      }
    }
  }

  /** Adds the IPv6 addresses, then runs every mode {@code runs} times; prints each result. */
  void measure(int runs, double warmup, double seconds) throws Exception {
    new VethPair.End(peer, "eth0").addAddress6(PEER6 + "/64");
    new VethPair.End(host, "eth0").addAddress6(HOST6 + "/64");
    // one unrecorded round of divert4j in both families first, so that no recorded run pays for
    // the JIT compiling the receive and send paths
    for (boolean six : new boolean[] {false, true}) {
      try (Point p = new Point(D4J, six)) {
        System.out.printf(
            Locale.ROOT,
            "warm-up  family %s divert4j %12.0f pps (not recorded)%n",
            six ? "IPv6" : "IPv4",
            blast(six, warmup, seconds));
      }
    }
    List<String> keys = new ArrayList<>(pps.keySet());
    for (int r = 1; r <= runs; r++) {
      // odd runs measure IPv4 first, even runs IPv6 first, so that order effects cancel
      List<String> order = new ArrayList<>(keys);
      if (r % 2 == 0) {
        order = new ArrayList<>(keys.subList(3, 6));
        order.addAll(keys.subList(0, 3));
      }
      for (String key : order) {
        boolean six = key.startsWith("IPv6");
        String mode = key.substring(5);
        double v;
        try (Point p = new Point(mode, six)) {
          v = blast(six, warmup, seconds);
        }
        pps.get(key).add(v);
        System.out.printf(Locale.ROOT, "run %d  family %-28s %12.0f pps%n", r, key, v);
      }
    }
  }

  /** Prints the table and the issue 13 target. */
  void report() {
    System.out.println("Families (1 sender, 64-byte UDP, same run), datagrams/s to the sink:");
    System.out.println();
    System.out.println("| family | mode | median pps | runs (pps) |");
    System.out.println("|---|---|---:|---|");
    for (var e : pps.entrySet()) {
      System.out.printf(
          Locale.ROOT,
          "| %s | %s | %.0f | %s |%n",
          e.getKey().substring(0, 4),
          e.getKey().substring(5),
          median(e.getValue()),
          fmt(e.getValue()));
    }
    System.out.println();
    double r4 = ratio("IPv4");
    double r6 = ratio("IPv6");
    double off = r6 / r4 - 1;
    System.out.println("| target (issue 13) | IPv4 | IPv6 | IPv6 / IPv4 | goal | met |");
    System.out.println("|---|---:|---:|---:|---|---|");
    System.out.printf(
        Locale.ROOT,
        "| divert4j / C nfq 1 verdict/pkt (ratio of medians) | %.2f | %.2f | %.3f | within 10 %%"
            + " | %s |%n",
        r4,
        r6,
        r6 / r4,
        Math.abs(off) <= 0.10
            ? "yes"
            : "NO (" + String.format(Locale.ROOT, "%+.1f %%", off * 100) + ")");
    System.out.printf(
        Locale.ROOT,
        "| divert4j / C, run-by-run ratios, median | %.2f | %.2f | %.3f | | |%n",
        paired("IPv4"),
        paired("IPv6"),
        paired("IPv6") / paired("IPv4"));
    System.out.printf(
        Locale.ROOT,
        "| divert4j / no rule (ratio of medians) | %.2f | %.2f | %.3f | | |%n",
        median(pps.get("IPv4 " + D4J)) / median(pps.get("IPv4 " + NONE)),
        median(pps.get("IPv6 " + D4J)) / median(pps.get("IPv6 " + NONE)),
        (median(pps.get("IPv6 " + D4J)) / median(pps.get("IPv6 " + NONE)))
            / (median(pps.get("IPv4 " + D4J)) / median(pps.get("IPv4 " + NONE))));
    System.out.println();
  }

  private double ratio(String family) {
    return median(pps.get(family + " " + D4J)) / median(pps.get(family + " " + C_ONE));
  }

  private double paired(String family) {
    List<Double> a = pps.get(family + " " + D4J);
    List<Double> b = pps.get(family + " " + C_ONE);
    List<Double> r = new ArrayList<>();
    for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
      if (b.get(i) > 0) {
        r.add(a.get(i) / b.get(i));
      }
    }
    return median(r);
  }

  /** Runs one sender against the sink; returns the sink's datagrams per second. */
  private double blast(boolean six, double warmup, double seconds) throws Exception {
    String fam = six ? "-6" : "-4";
    return BenchTools.udpRate(
        cdir,
        host,
        List.of(fam, Integer.toString(PORT), Double.toString(warmup), Double.toString(seconds)),
        peer,
        List.of(
            List.of(
                fam,
                six ? HOST6 : host4,
                Integer.toString(PORT),
                Integer.toString(payload),
                Double.toString(warmup + seconds + 0.5),
                six ? PEER6 : peer4)));
  }

  private Process start(Netns ns, String... cmd) throws IOException {
    return BenchTools.start(cdir, ns, cmd);
  }

  private static String line(Process p) throws IOException {
    return BenchTools.line(p);
  }

  private static String fmt(List<Double> l) {
    return BenchTools.list(l, "%.0f");
  }

  private static double median(List<Double> l) {
    return BenchTools.median(l, 0);
  }

  /**
   * The divert point of one measurement: divert4j, the C program or nothing; closing removes it.
   */
  private final class Point implements AutoCloseable {
    private final boolean six;
    private volatile boolean stop;
    private DivertHost dh;
    private Thread reflector;
    private Process nfq;

    Point(String mode, boolean six) throws Exception {
      this.six = six;
      try {
        if (mode.equals(D4J)) {
          startDivert4j();
        } else if (mode.equals(C_ONE)) {
          startC();
        }
      } catch (Exception e) {
        close();
        throw e;
      }
    }

    private void startDivert4j() throws Exception {
      dh = BenchTools.openKernelHost(host, batch, 1, false);
      DivertSocket s = dh.bind(QUEUE);
      dh.addRule(
          DivertRule.parse(
              "input " + (six ? "-6" : "-4") + " -p udp --dport " + PORT + " -j DIVERT " + QUEUE));
      reflector =
          new Thread(
              () -> {
                // the same loop as KernelBench's: receive a batch, write it back unchanged
                PacketBatch b = PacketBatch.allocate(batch, 2048, true);
                try {
                  while (!stop) {
                    if (s.receive(b, WAIT) > 0) {
                      s.send(b);
                    }
                  }
                } catch (Exception e) {
                  if (!stop) {
                    e.printStackTrace();
                  }
                }
              },
              "bench-family-reflector");
      reflector.start();
    }

    private void startC() throws IOException {
      BenchTools.addNfqueueRule(host, six ? "ip6tables" : "iptables", "udp", PORT, QUEUE);
      nfq = start(host, "nfq_one", six ? "-6" : "-4", Integer.toString(QUEUE));
      if (!line(nfq).equals("ready")) {
        throw new IOException("nfq_one did not start");
      }
    }

    @Override
    public void close() throws Exception {
      stop = true;
      String iptables = six ? "ip6tables" : "iptables";
      boolean ended =
          BenchTools.closeDivertPoint(
              Collections.singletonList(reflector), dh, nfq, nfq == null ? null : host, iptables);
      if (ended && nfq.exitValue() == 3) {
        throw new IOException("the " + iptables + " rule queued packets of the other family");
      }
    }
  }
}
