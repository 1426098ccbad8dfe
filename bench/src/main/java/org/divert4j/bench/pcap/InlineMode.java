package org.divert4j.bench.pcap;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.HostOptions;
import org.divert4j.PacketBatch;
import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.pcap.PcapProvider;

/**
 * What joins the segment namespace's two interfaces, out0 and in0, during one measurement of {@link
 * PcapInlineBench}: a divert4j pcap inline host with one program thread, the C program {@code
 * pcap_bridge}, or a Linux bridge. Closing it removes it.
 */
final class InlineMode implements AutoCloseable {
  private static final int BATCH = 64;
  private static final double CLOCK_TICKS = 100; // USER_HZ, as /proc reports times on Linux
  private static final com.sun.management.OperatingSystemMXBean OS =
      (com.sun.management.OperatingSystemMXBean)
          java.lang.management.ManagementFactory.getOperatingSystemMXBean();

  private final Netns segment;
  private final Path cdir;
  private final String hostAddress;
  private final String subnet;
  private final String name;
  private final AtomicLong packets = new AtomicLong();
  private final long cpuStart = OS.getProcessCpuTime();
  private volatile boolean stop;
  private DivertHost dh;
  private Thread program;
  private Process bridge;
  private boolean linuxBridge;
  private String bridgeCounts = "";
  private double cpuPerPacket = Double.NaN;

  /**
   * @param name {@link PcapInlineBench#D4J}, {@link PcapInlineBench#C_BRIDGE} or {@link
   *     PcapInlineBench#LINUX}
   * @param segment the namespace of out0 and in0
   * @param cdir where bench/build-c.sh put pcap_bridge
   * @param hostAddress the inside host's IPv4 address
   * @param subnet the first three octets of the /24, with the trailing dot
   */
  InlineMode(String name, Netns segment, Path cdir, String hostAddress, String subnet)
      throws Exception {
    this.name = name;
    this.segment = segment;
    this.cdir = cdir;
    this.hostAddress = hostAddress;
    this.subnet = subnet;
    try {
      switch (name) {
        case PcapInlineBench.D4J -> startDivert4j();
        case PcapInlineBench.C_BRIDGE -> startC();
        case PcapInlineBench.LINUX -> startLinux();
        default -> throw new IllegalArgumentException(name);
      }
    } catch (Exception e) {
      close();
      throw e;
    }
  }

  private void startDivert4j() throws Exception {
    dh =
        new PcapProvider()
            .open(
                HostOptions.builder()
                    .queueLength(8192)
                    .property(PcapProvider.NETNS, segment.name())
                    .property(PcapProvider.OUTSIDE, "out0")
                    .property(PcapProvider.INSIDE, "in0")
                    .property(PcapProvider.ADDRESS, hostAddress + "/24")
                    .property(PcapProvider.ROUTES, subnet + "0/24")
                    .build());
    DivertSocket s = dh.bind(1);
    dh.addRule(DivertRule.parse("input -j DIVERT 1"));
    dh.addRule(DivertRule.parse("output -j DIVERT 1"));
    program =
        new Thread(
            () -> {
              PacketBatch b = PacketBatch.allocate(BATCH, 2048, true);
              Duration wait = Duration.ofMillis(50);
              try {
                while (!stop) {
                  int n = s.receive(b, wait);
                  if (n > 0) {
                    s.send(b);
                    packets.lazySet(packets.get() + n);
                  }
                }
              } catch (Exception e) {
                if (!stop) {
                  e.printStackTrace();
                }
              }
            },
            "bench-pcap-program");
    program.start();
  }

  private void startC() throws IOException {
    bridge =
        new ProcessBuilder(
                Shell.inNetns(
                    segment.path().toString(),
                    List.of(cdir.resolve("pcap_bridge").toString(), "out0", "in0")))
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    if (!PcapInlineBench.line(bridge).equals("ready")) {
      throw new IOException("pcap_bridge did not start");
    }
  }

  private void startLinux() throws IOException {
    linuxBridge = true;
    segment.ip("link", "add", "br0", "type", "bridge", "forward_delay", "0");
    segment.ip("link", "set", "out0", "master", "br0");
    segment.ip("link", "set", "in0", "master", "br0");
    segment.ip("link", "set", "br0", "up");
  }

  /**
   * CPU time per frame the bridge forwarded, both ways, over the mode's life (UDP and TCP):
   * divert4j's whole JVM per packet through the program, pcap_bridge's process (utime + stime) per
   * frame it injected; NaN for the Linux bridge.
   */
  double cpuMicrosPerPacket() {
    return cpuPerPacket;
  }

  String summary() {
    if (dh != null) {
      return String.format(
          Locale.ROOT,
          "   (%,d packets through the program, %.2f us CPU/pkt)",
          packets.get(),
          cpuPerPacket);
    }
    return bridgeCounts.isEmpty()
        ? ""
        : "   (pcap_bridge: a->b, b->a, failed: " + bridgeCounts + ")";
  }

  @Override
  public void close() throws Exception {
    stop = true;
    if (program != null) {
      program.join(2000);
    }
    if (dh != null) {
      long n = packets.get();
      cpuPerPacket = n == 0 ? Double.NaN : (OS.getProcessCpuTime() - cpuStart) / 1e3 / n;
      dh.close();
    }
    if (bridge != null) {
      long ticks = processTicks(bridge.pid());
      // SIGTERM: it prints its counts and exits (Process.destroy would close its output first)
      bridge.toHandle().destroy();
      bridgeCounts = PcapInlineBench.line(bridge);
      if (!bridge.waitFor(5, TimeUnit.SECONDS)) {
        bridge.destroyForcibly();
      }
      String[] f = bridgeCounts.split("\\s+");
      if (f.length == 3 && ticks >= 0) {
        long n = Long.parseLong(f[0]) + Long.parseLong(f[1]);
        cpuPerPacket = n == 0 ? Double.NaN : ticks * 1e6 / CLOCK_TICKS / n;
      }
    }
    if (linuxBridge) {
      segment.exec("ip", "link", "del", "br0");
    }
  }

  /** utime + stime of a process from /proc/PID/stat, in clock ticks; -1 if unreadable. */
  private static long processTicks(long pid) {
    try {
      String st = Files.readString(Path.of("/proc/" + pid + "/stat"));
      // fields after the command name in parentheses; utime and stime are fields 14 and 15
      String[] f = st.substring(st.lastIndexOf(')') + 2).split(" ");
      return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }
}
