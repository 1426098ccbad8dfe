package org.divert4j.bench.kernel;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordingFile;
import org.divert4j.bench.BenchTools;
import org.divert4j.linux.testbed.Netns;

/**
 * {@link KernelBench}'s allocation section: the bytes divert4j's reflector thread allocates per
 * packet in the {@code PacketBatch} receive-and-send loop (issue 7 target 4: none), by HotSpot's
 * per-thread counter and by a JFR recording of allocation events, with the reflector's CPU time and
 * its top sampled frames.
 */
final class ReflectorAllocation {
  private final Netns peer;
  private final Netns host;
  private final String hostAddress;
  private final String source;
  private final Path cdir;
  private final int payload;
  private final int batch;
  private final long allocPackets;
  private final boolean offload;
  private double bytesPerPacket = Double.NaN;
  private long packetsSeen;
  private long jfrEvents = -1;

  /**
   * @param source the sender's address in the peer namespace
   * @param allocPackets how many packets the measured window holds at least
   * @param offload whether the host has {@code segmentOffload} on
   */
  ReflectorAllocation(
      Netns peer,
      Netns host,
      String hostAddress,
      String source,
      Path cdir,
      int payload,
      int batch,
      long allocPackets,
      boolean offload) {
    this.peer = peer;
    this.host = host;
    this.hostAddress = hostAddress;
    this.source = source;
    this.cdir = cdir;
    this.payload = payload;
    this.batch = batch;
    this.allocPackets = allocPackets;
    this.offload = offload;
  }

  /**
   * One divert4j run under a sender until the reflector has written back at least {@code
   * allocPackets} packets after a warm-up of 100,000: the reflector thread's allocated bytes
   * (HotSpot's per-thread counter, exact to the TLAB byte) over that window, and a JFR recording of
   * allocation events during it, of which the reflector's are counted and their top frames shown.
   */
  void measure() throws Exception {
    com.sun.management.ThreadMXBean mx =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    Path jfr = Files.createTempFile("d4j-alloc", ".jfr");
    try (UdpDivertPoint dp =
        new UdpDivertPoint(UdpDivertPoint.D4J, 1, host, cdir, batch, offload)) {
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
                BenchTools.start(
                    cdir,
                    peer,
                    "udp_blast",
                    hostAddress,
                    Integer.toString(UdpDivertPoint.PORT),
                    Integer.toString(payload),
                    "5",
                    source));
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
      packetsSeen = endPackets - startPackets;
      bytesPerPacket = (endBytes - startBytes) / (double) packetsSeen;
      System.out.printf(
          Locale.ROOT,
          "allocation%s: %d packets, %d bytes on the reflector thread = %.4f bytes/packet%n",
          mode(),
          packetsSeen,
          endBytes - startBytes,
          bytesPerPacket);
      System.out.printf(
          Locale.ROOT,
          "allocation run%s: reflector CPU %.2f us/packet (user %.2f, system %.2f)%n",
          mode(),
          (endCpu - startCpu) / 1e3 / packetsSeen,
          (endUser - startUser) / 1e3 / packetsSeen,
          ((endCpu - startCpu) - (endUser - startUser)) / 1e3 / packetsSeen);
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
          "allocation%s: JFR (%s) has %d allocation events of the reflector thread%n",
          mode(),
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

  /** Prints target 4's row for {@link KernelBench}'s target table, if the run completed. */
  void targetRow() {
    if (Double.isNaN(bytesPerPacket)) {
      return;
    }
    System.out.printf(
        Locale.ROOT,
        "| 4 | bytes allocated per packet, PacketBatch loop%s (%d packets; JFR TLAB events on"
            + " reflector: %d) | %.4f | 0 | %s |%n",
        mode(),
        packetsSeen,
        jfrEvents,
        bytesPerPacket,
        // One object per packet would be 16 bytes or more per packet; less than one byte per packet
        // over a million packets is what the receive path allocates over time (the interface
        // table's refresh, at most once a second), which JFR's events then show by stack.
        bytesPerPacket < 1.0 && jfrEvents == 0 ? "yes" : "no");
  }

  private String mode() {
    return offload ? ", segmentOffload" : "";
  }
}
