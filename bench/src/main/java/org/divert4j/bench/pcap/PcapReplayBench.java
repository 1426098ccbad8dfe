package org.divert4j.bench.pcap;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.HostOptions;
import org.divert4j.PacketBatch;
import org.divert4j.packet.Ipv4Builder;
import org.divert4j.pcap.PcapProvider;
import org.divert4j.pcap.PcapReplay;

/**
 * Savefile replay throughput: every packet of a capture is diverted to a program that writes it
 * back (receive a batch, send the batch), and what passes is written to an output capture. The same
 * capture is copied by {@code tcpdump -r in.pcap -w out.pcap} in the same run, as the baseline; the
 * medians of several runs and their ratio are printed.
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar org.divert4j.bench.pcap.PcapReplayBench \
 *     [--packets N] [--runs R] [--input FILE] [--dir DIR]
 * </pre>
 *
 * Without {@code --input}, a capture of N Ethernet/IPv4/UDP packets of 60 to 250 bytes (mixed
 * sizes, several flows) is generated. The divert4j time runs from the bind (the replay starts) to
 * the end of the replay (output flushed), in a warm JVM; tcpdump's includes its process start (a
 * few ms). One untimed warm-up replay runs first.
 */
public final class PcapReplayBench {
  private static final com.sun.management.OperatingSystemMXBean OS =
      (com.sun.management.OperatingSystemMXBean)
          java.lang.management.ManagementFactory.getOperatingSystemMXBean();

  /**
   * One timed run.
   *
   * @param pps packets per second, wall clock
   * @param cpuMicrosPerPacket CPU time per packet (all threads of the process), microseconds
   */
  record Result(double pps, double cpuMicrosPerPacket) {}

  private PcapReplayBench() {}

  /**
   * @param args see the class comment
   * @throws Exception if a run fails
   */
  public static void main(String[] args) throws Exception {
    int packets = 1_000_000;
    int runs = 5;
    Path input = null;
    Path dir = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--packets" -> packets = Integer.parseInt(args[++i]);
        case "--runs" -> runs = Integer.parseInt(args[++i]);
        case "--input" -> input = Path.of(args[++i]);
        case "--dir" -> dir = Path.of(args[++i]);
        default -> {
          System.err.println(
              "usage: PcapReplayBench [--packets N] [--runs R] [--input FILE] [--dir DIR]");
          System.exit(64);
        }
      }
    }
    Path work =
        dir != null ? Files.createDirectories(dir) : Files.createTempDirectory("d4j-pcap-bench");
    try {
      if (input == null) {
        input = work.resolve("in.pcap");
        generate(input, packets);
      }
      long count = countPackets(input);
      System.out.printf(
          Locale.ROOT,
          "input: %s, %d packets, %.1f MB; %d runs each; %d CPUs; %s%n",
          input,
          count,
          Files.size(input) / 1e6,
          runs,
          Runtime.getRuntime().availableProcessors(),
          System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
      String tcpdump = which("tcpdump");
      replay(input, work.resolve("warmup.pcap"), count); // JIT warm-up, not timed
      passThrough(input, work.resolve("warmup.pcap"), count);
      List<Result> d4j = new ArrayList<>();
      List<Result> pass = new ArrayList<>();
      List<Result> td = new ArrayList<>();
      for (int r = 1; r <= runs; r++) {
        Result a = replay(input, work.resolve("out-divert4j.pcap"), count);
        Result c = passThrough(input, work.resolve("out-pass.pcap"), count);
        Result b =
            tcpdump == null
                ? new Result(Double.NaN, Double.NaN)
                : tcpdump(tcpdump, input, work.resolve("out-tcpdump.pcap"), count);
        d4j.add(a);
        pass.add(c);
        td.add(b);
        System.out.printf(
            Locale.ROOT,
            "run %d: divert+reinject %,9.0f pps %5.2f us CPU/pkt | no rule %,9.0f pps %5.2f us"
                + " CPU/pkt | tcpdump %,9.0f pps %5.2f us CPU/pkt%n",
            r,
            a.pps(),
            a.cpuMicrosPerPacket(),
            c.pps(),
            c.cpuMicrosPerPacket(),
            b.pps(),
            b.cpuMicrosPerPacket());
      }
      double ma = median(d4j.stream().map(Result::pps).toList());
      double mc = median(pass.stream().map(Result::pps).toList());
      double mb = median(td.stream().map(Result::pps).toList());
      double ca = median(d4j.stream().map(Result::cpuMicrosPerPacket).toList());
      double cc = median(pass.stream().map(Result::cpuMicrosPerPacket).toList());
      double cb = median(td.stream().map(Result::cpuMicrosPerPacket).toList());
      System.out.printf(
          Locale.ROOT,
          "median throughput: divert+reinject %,.0f pps, no rule %,.0f pps, tcpdump -r/-w %,.0f"
              + " pps%n",
          ma,
          mc,
          mb);
      System.out.printf(
          Locale.ROOT,
          "median CPU per packet: divert+reinject %.2f us, no rule %.2f us, tcpdump %.2f us%n",
          ca,
          cc,
          cb);
      System.out.printf(
          Locale.ROOT,
          "ratio divert4j/tcpdump: throughput %.2f (no rule %.2f); CPU per packet %.1fx (no rule"
              + " %.1fx)%n",
          ma / mb,
          mc / mb,
          ca / cb,
          cc / cb);
      if (tcpdump == null) {
        System.out.println("(tcpdump not found: no baseline)");
      }
    } finally {
      if (dir == null) {
        try (var s = Files.list(work)) {
          for (Path p : s.toList()) {
            Files.deleteIfExists(p);
          }
        }
        Files.deleteIfExists(work);
      }
    }
  }

  /** One replay with no rule: the replay path alone (read, engine, write); packets per second. */
  static Result passThrough(Path input, Path output, long count) throws Exception {
    HostOptions o =
        HostOptions.builder()
            .property(PcapProvider.INPUT, input.toString())
            .property(PcapProvider.OUTPUT, output.toString())
            .property(PcapProvider.START, "manual")
            .build();
    try (DivertHost host = new PcapProvider().open(o)) {
      PcapReplay replay = PcapReplay.of(host);
      long cpu = OS.getProcessCpuTime();
      long start = System.nanoTime();
      replay.start();
      replay.awaitFinished(Duration.ofMinutes(10));
      long ns = System.nanoTime() - start;
      cpu = OS.getProcessCpuTime() - cpu;
      if (replay.packetsWritten() != count) {
        throw new IllegalStateException("wrote " + replay.packetsWritten() + " of " + count);
      }
      return new Result(count * 1e9 / ns, cpu / 1e3 / count);
    }
  }

  /** One replay: every packet diverted and written back; returns packets per second. */
  static Result replay(Path input, Path output, long count) throws Exception {
    HostOptions o =
        HostOptions.builder()
            .property(PcapProvider.INPUT, input.toString())
            .property(PcapProvider.OUTPUT, output.toString())
            .build();
    try (DivertHost host = new PcapProvider().open(o)) {
      host.addRule(DivertRule.parse("input -j DIVERT 1"));
      PcapReplay replay = PcapReplay.of(host);
      PacketBatch batch = PacketBatch.allocate(64, 2048, false);
      long cpu = OS.getProcessCpuTime();
      long start = System.nanoTime();
      try (DivertSocket s = host.bind(1)) {
        while (!replay.isFinished()) {
          if (s.receive(batch, Duration.ofMillis(50)) > 0) {
            s.send(batch);
          }
        }
      }
      long ns = System.nanoTime() - start;
      cpu = OS.getProcessCpuTime() - cpu;
      if (replay.failure() != null) {
        throw new IllegalStateException("replay failed", replay.failure());
      }
      if (replay.packetsWritten() != count) {
        throw new IllegalStateException(
            "wrote " + replay.packetsWritten() + " of " + count + " packets: " + replay);
      }
      return new Result(count * 1e9 / ns, cpu / 1e3 / count);
    }
  }

  /**
   * {@code tcpdump -r input -w output}, run by bash so that its {@code times} reports the child's
   * CPU time; the wall clock includes the process start.
   */
  static Result tcpdump(String tcpdump, Path input, Path output, long count) throws Exception {
    String z = "root".equals(System.getProperty("user.name")) ? " -Z root" : "";
    String script =
        "'"
            + tcpdump
            + "' -r '"
            + input
            + "' -w '"
            + output
            + "'"
            + z
            + " 2>/dev/null || exit 3; times";
    long start = System.nanoTime();
    Process p =
        new ProcessBuilder("bash", "-c", script)
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
    String out =
        new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
      p.destroyForcibly();
      throw new IOException("tcpdump failed: " + script);
    }
    long ns = System.nanoTime() - start;
    // times: line 1 the shell's user/sys, line 2 its children's, e.g. "0m0.123s 0m0.045s"
    String[] lines = out.strip().split("\n");
    double cpu = 0;
    for (String t : lines[lines.length - 1].trim().split("\\s+")) {
      String[] ms = t.replace("s", "").split("m");
      cpu += Double.parseDouble(ms[0]) * 60 + Double.parseDouble(ms[1]);
    }
    return new Result(count * 1e9 / ns, cpu * 1e6 / count);
  }

  /** Writes a microsecond Ethernet pcap of UDP packets, 60 to 250 bytes, 16 flows. */
  static void generate(Path file, int n) throws IOException {
    byte[] frame = new byte[14 + 250];
    ByteBuffer f = ByteBuffer.wrap(frame);
    f.put(0, new byte[] {2, 0, 0, 0, 0, 2}); // destination 02:00:00:00:00:02
    f.put(6, new byte[] {2, 0, 0, 0, 0, 1}); // source 02:00:00:00:00:01
    f.putShort(12, (short) 0x0800);
    try (OutputStream o = new java.io.BufferedOutputStream(Files.newOutputStream(file), 1 << 20);
        DataOutputStream d = new DataOutputStream(o)) {
      d.writeInt(0xa1b2c3d4);
      d.writeShort(2);
      d.writeShort(4);
      d.writeInt(0);
      d.writeInt(0);
      d.writeInt(262144);
      d.writeInt(1);
      long t = 1_700_000_000_000_000L; // microseconds
      for (int i = 0; i < n; i++) {
        int ipLen = 46 + (i * 37) % 191; // 46..236 bytes of IP, frames 60..250
        ByteBuffer ip =
            Ipv4Builder.udp(10000 + i % 16, 53)
                .source("10.1.0." + (1 + i % 16))
                .destination("10.2.0.1")
                .identification(1 + i % 65535)
                .payload(new byte[ipLen - 28])
                .build();
        f.put(14, ip, 0, ip.remaining());
        int len = 14 + ip.remaining();
        t += 10;
        d.writeInt((int) (t / 1_000_000));
        d.writeInt((int) (t % 1_000_000));
        d.writeInt(len);
        d.writeInt(len);
        d.write(frame, 0, len);
      }
    }
  }

  /** Counts the records of a pcap file (classic format, either byte order). */
  static long countPackets(Path file) throws IOException {
    try (var in = new java.io.BufferedInputStream(Files.newInputStream(file), 1 << 20)) {
      byte[] h = in.readNBytes(24);
      int magic = ByteBuffer.wrap(h).getInt(0);
      boolean swapped = magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1;
      if (!swapped && magic != 0xa1b2c3d4 && magic != 0xa1b23c4d) {
        throw new IOException(file + " is not a classic pcap file (pcapng is not counted here)");
      }
      long n = 0;
      byte[] rec = new byte[16];
      while (in.readNBytes(rec, 0, 16) == 16) {
        ByteBuffer r = ByteBuffer.wrap(rec);
        if (swapped) {
          r.order(java.nio.ByteOrder.LITTLE_ENDIAN);
        }
        int incl = r.getInt(8);
        in.skipNBytes(incl);
        n++;
      }
      return n;
    }
  }

  static String which(String program) {
    for (String d :
        (System.getenv().getOrDefault("PATH", "") + ":/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
      if (!d.isEmpty() && Files.isExecutable(Path.of(d, program))) {
        return Path.of(d, program).toString();
      }
    }
    return null;
  }

  static double median(List<Double> xs) {
    List<Double> s = new ArrayList<>(xs);
    Collections.sort(s);
    int n = s.size();
    return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
  }
}
