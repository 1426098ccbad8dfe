package org.divert4j.pcap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.divert4j.BackendUnavailableException;
import org.divert4j.Direction;
import org.divert4j.DivertAddress;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.Ipv4;
import org.divert4j.linux.Shell;
import org.divert4j.packet.Checksums;
import org.divert4j.pcap.Captures.Capture;
import org.divert4j.pcap.Captures.Rec;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Savefile replays of real kernel traffic: {@code ping -s 4000} across a veth in namespaces made
 * for the test, recorded with tcpdump (so every echo request and reply is three real fragments,
 * with ARP and IPv6 noise around them). Needs root to record; skips with the reason otherwise.
 */
class SavefileReplayTest {
  private static final int PORT = 4000;
  private static final Duration TIMEOUT = Duration.ofSeconds(20);

  @TempDir static Path dir;

  private static Path ethernet;
  private static String unavailable;

  @BeforeAll
  static void record() throws Exception {
    unavailable = KernelCaptures.unavailable();
    if (unavailable == null) {
      ethernet = KernelCaptures.recordPing(dir.resolve("ping.pcap"), false, 2, 4000);
    }
  }

  private static void needKernelCapture() {
    assumeTrue(unavailable == null, unavailable);
  }

  /** A program: what it does with each packet it receives. */
  interface Program {
    /**
     * @return true to write the packet back, false to drop it
     */
    boolean handle(byte[] packet, DivertAddress address);
  }

  /** Replays a capture through one rule and a program on port {@value #PORT}. */
  static List<byte[]> replay(
      Path in, Path out, HostOptions.Builder options, String rule, Program program)
      throws Exception {
    HostOptions o =
        options
            .property(PcapProvider.INPUT, in.toString())
            .property(PcapProvider.OUTPUT, out.toString())
            .build();
    List<byte[]> received = new ArrayList<>();
    try (DivertHost host = new PcapProvider().open(o)) {
      for (String r : rule.split(";")) {
        host.addRule(DivertRule.parse(r.strip()));
      }
      PcapReplay replay = PcapReplay.of(host);
      assertFalse(replay.isStarted(), "a replay waits for the first bind");
      try (DivertSocket s = host.bind(PORT)) {
        // The same replay, found from the socket (its progress, and so toString, moves on).
        assertEquals(replay, PcapReplay.of(s.host()), "found from the socket too");
        ByteBuffer buf = ByteBuffer.allocate(65535);
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (!replay.isFinished()) {
          assertTrue(System.nanoTime() < deadline, "the replay did not finish: " + replay);
          DivertAddress a = s.receive(buf.clear(), Duration.ofMillis(20));
          if (a == null) {
            continue;
          }
          buf.flip();
          byte[] p = new byte[buf.remaining()];
          buf.duplicate().get(p);
          received.add(p);
          if (program.handle(p, a)) {
            s.send(buf, a);
          } else {
            s.drop(a);
          }
        }
        assertNull(replay.failure(), "replay failure");
        assertEquals(
            Captures.read(in).records().size(), replay.packetsRead(), "every packet was read");
      }
    }
    return received;
  }

  private static HostOptions.Builder options() {
    return HostOptions.builder();
  }

  private static List<byte[]> matching(List<byte[]> packets, Predicate<byte[]> p) {
    List<byte[]> l = new ArrayList<>();
    for (byte[] b : packets) {
      if (p.test(b)) {
        l.add(b);
      }
    }
    return l;
  }

  /**
   * Compares captures as sets of (timestamp, frame), sorted by timestamp: a diverted packet is
   * written when the program writes it back, after packets that passed meanwhile.
   */
  static void assertSameRecords(List<Rec> expected, List<Rec> actual, String what) {
    expected = sorted(expected);
    actual = sorted(actual);
    assertEquals(expected.size(), actual.size(), what + ": number of packets");
    for (int i = 0; i < expected.size(); i++) {
      assertEquals(
          expected.get(i).timestampNanos(),
          actual.get(i).timestampNanos(),
          what + ": timestamp of packet " + i);
      assertArrayEquals(expected.get(i).frame(), actual.get(i).frame(), what + ": packet " + i);
    }
  }

  private static List<Rec> sorted(List<Rec> l) {
    List<Rec> s = new ArrayList<>(l);
    s.sort(
        (x, y) -> {
          int c = Long.compare(x.timestampNanos(), y.timestampNanos());
          return c != 0 ? c : java.util.Arrays.compare(x.frame(), y.frame());
        });
    return s;
  }

  @Test
  void perFragmentModeDeliversEveryFragmentAndTheOutputEqualsTheInput() throws Exception {
    needKernelCapture();
    Capture input = Captures.read(ethernet);
    List<byte[]> icmp = matching(input.ipPackets(), p -> Captures.protocol(p) == 1);
    assertEquals(12, icmp.size(), "2 requests and 2 replies of 3 fragments were recorded");
    assertTrue(icmp.stream().allMatch(Captures::isFragment), "all are fragments");

    Path out = dir.resolve("per-fragment.pcap");
    List<byte[]> got =
        replay(ethernet, out, options(), "input -p icmp -j DIVERT 4000", (p, a) -> true);

    assertEquals(icmp.size(), got.size(), "the program sees every fragment (S16)");
    for (int i = 0; i < icmp.size(); i++) {
      assertArrayEquals(icmp.get(i), got.get(i), "fragment " + i + " as on the wire (S8)");
    }
    Capture output = Captures.read(out);
    assertEquals(input.linkType(), output.linkType(), "link type");
    assertSameRecords(input.records(), output.records(), "output");
  }

  @Test
  void alwaysDefragmentModeDeliversWholeDatagrams() throws Exception {
    needKernelCapture();
    Capture input = Captures.read(ethernet);
    Path out = dir.resolve("defragment.pcap");
    List<byte[]> got =
        replay(
            ethernet,
            out,
            options().fragments(FragmentMode.ALWAYS_DEFRAGMENT).property(PcapProvider.MTU, "1500"),
            "input -p icmp -j DIVERT 4000",
            (p, a) -> true);

    assertEquals(4, got.size(), "the program sees each datagram once (S21)");
    for (byte[] d : got) {
      assertFalse(Captures.isFragment(d), "whole datagram, MF 0 offset 0");
      assertEquals(4028, Captures.u16(d, 2), "total length of the whole datagram");
      assertEquals(4028, d.length);
      assertTrue(Checksums.isIpv4HeaderValid(ByteBuffer.wrap(d), 0), "valid header checksum");
    }
    // Written back over MTU 1500, each datagram is fragmented again (S23): same IP packets out.
    Capture output = Captures.read(out);
    List<byte[]> inIcmp = matching(input.ipPackets(), p -> Captures.protocol(p) == 1);
    List<byte[]> outIcmp = matching(output.ipPackets(), p -> Captures.protocol(p) == 1);
    assertEquals(inIcmp.size(), outIcmp.size(), "refragmented to the MTU");
    for (int i = 0; i < inIcmp.size(); i++) {
      assertArrayEquals(inIcmp.get(i), outIcmp.get(i), "fragment " + i);
    }
    assertSameRecords(input.nonIpRecords(), output.nonIpRecords(), "ARP and IPv6");
  }

  @Test
  void aDropRuleRemovesExactlyTheMatchingPackets() throws Exception {
    needKernelCapture();
    Capture input = Captures.read(ethernet);
    Path out = dir.resolve("dropped.pcap");
    int b = Ipv4.parseInt(KernelCaptures.B);
    List<byte[]> got =
        replay(
            ethernet,
            out,
            options(),
            "input -p icmp -s " + KernelCaptures.B + " -j DIVERT 4000",
            (p, a) -> false);
    assertEquals(6, got.size(), "the echo replies' fragments were diverted");

    List<Rec> expected = new ArrayList<>();
    for (Rec r : input.records()) {
      byte[] ip = r.ip(input.linkType());
      if (ip == null || Captures.protocol(ip) != 1 || Captures.source(ip) != b) {
        expected.add(r);
      }
    }
    assertEquals(input.records().size() - 6, expected.size());
    assertSameRecords(expected, Captures.read(out).records(), "output without the replies");
  }

  @Test
  void aRuleWithoutListenerDropsExactlyTheMatchingPackets() throws Exception {
    needKernelCapture();
    Capture input = Captures.read(ethernet);
    Path out = dir.resolve("no-listener.pcap");
    HostOptions o =
        options()
            .property(PcapProvider.INPUT, ethernet.toString())
            .property(PcapProvider.OUTPUT, out.toString())
            .property(PcapProvider.START, "manual")
            .build();
    try (DivertHost host = new PcapProvider().open(o)) {
      host.addRule(DivertRule.parse("input -p icmp --icmp-type 8 -j DIVERT 4000"));
      PcapReplay replay = PcapReplay.of(host);
      replay.start();
      assertTrue(replay.awaitFinished(TIMEOUT), "finished: " + replay);
      assertEquals(2, host.stats().dropped(org.divert4j.DropReason.NO_LISTENER));
    }
    // The rule tests the ICMP type: only first fragments match (S7); the others pass.
    List<Rec> expected = new ArrayList<>();
    for (Rec r : input.records()) {
      byte[] ip = r.ip(input.linkType());
      boolean request =
          ip != null
              && Captures.protocol(ip) == 1
              && Captures.fragmentOffset(ip) == 0
              && (ip[20] & 0xff) == 8;
      if (!request) {
        expected.add(r);
      }
    }
    assertSameRecords(expected, Captures.read(out).records(), "output without first fragments");
  }

  @Test
  void localSendersTakeTheOutputChain() throws Exception {
    needKernelCapture();
    Path out = dir.resolve("local.pcap");
    List<DivertAddress> addresses = new ArrayList<>();
    List<byte[]> got =
        replay(
            ethernet,
            out,
            options().property(PcapProvider.LOCAL, KernelCaptures.A + "/32"),
            "output -p icmp -j DIVERT 4000",
            (p, a) -> addresses.add(a));
    assertEquals(6, got.size(), "the requests' fragments, sent by the local host");
    int a = Ipv4.parseInt(KernelCaptures.A);
    for (int i = 0; i < got.size(); i++) {
      assertEquals(a, Captures.source(got.get(i)), "from the local sender");
      assertEquals(Direction.OUTBOUND, addresses.get(i).direction());
    }
    assertSameRecords(Captures.read(ethernet).records(), Captures.read(out).records(), "output");
  }

  @Test
  void rawIpCapturesReplayToRawIp() throws Exception {
    needKernelCapture();
    Capture eth = Captures.read(ethernet);
    Path raw = dir.resolve("raw.pcap");
    Captures.write(raw, Captures.LINKTYPE_RAW, Captures.toRawIp(eth));
    Capture input = Captures.read(raw);
    Path out = dir.resolve("raw-out.pcap");
    List<byte[]> got = replay(raw, out, options(), "input -p icmp -j DIVERT 4000", (p, a) -> true);
    assertEquals(12, got.size());
    Capture output = Captures.read(out);
    assertEquals(input.linkType(), output.linkType(), "raw IP in, raw IP out");
    assertSameRecords(input.records(), output.records(), "raw IP output");
  }

  @Test
  void linuxCookedCapturesOfTheAnyDeviceReplay() throws Exception {
    needKernelCapture();
    Path cooked = KernelCaptures.recordPing(dir.resolve("any.pcap"), true, 1, 4000);
    Capture input = Captures.read(cooked);
    Path out = dir.resolve("any-out.pcap");
    List<DivertAddress> addresses = new ArrayList<>();
    List<byte[]> got =
        replay(
            cooked,
            out,
            options(),
            "input -p icmp -j DIVERT 4000; output -p icmp -j DIVERT 4000",
            (p, a) -> addresses.add(a));
    assertEquals(6, got.size());
    int a = Ipv4.parseInt(KernelCaptures.A);
    for (int i = 0; i < got.size(); i++) {
      // tcpdump -i any marks what the capturing host (A) sent: the request is outbound
      Direction expected =
          Captures.source(got.get(i)) == a ? Direction.OUTBOUND : Direction.INBOUND;
      assertEquals(expected, addresses.get(i).direction(), "direction of fragment " + i);
    }
    Capture output = Captures.read(out);
    assertEquals(input.linkType(), output.linkType());
    assertSameRecords(input.records(), output.records(), "cooked output");
  }

  @Test
  void closeOnEndEndsTheReceiveLoop() throws Exception {
    needKernelCapture();
    Path out = dir.resolve("close-on-end.pcap");
    HostOptions o =
        options()
            .property(PcapProvider.INPUT, ethernet.toString())
            .property(PcapProvider.OUTPUT, out.toString())
            .property(PcapProvider.CLOSE_ON_END, "true")
            .build();
    int n = 0;
    DivertHost host = new PcapProvider().open(o);
    host.addRule(DivertRule.parse("input -j DIVERT 4000"));
    DivertSocket s = host.bind(PORT);
    ByteBuffer buf = ByteBuffer.allocate(65535);
    try {
      while (true) {
        DivertAddress a = s.receive(buf.clear());
        s.send(buf.flip(), a);
        n++;
      }
    } catch (DivertClosedException e) {
      // the end of the replay
    }
    assertFalse(host.isOpen(), "the host closed itself");
    long ipv6 =
        Captures.read(ethernet).records().stream()
            .filter(r -> r.frame().length > 14 && r.frame()[12] == (byte) 0x86)
            .filter(r -> r.frame()[13] == (byte) 0xdd)
            .count();
    assertEquals(
        Captures.read(ethernet).ipPackets().size() + ipv6, n, "a rule without family: both (S54)");
    assertSameRecords(
        Captures.read(ethernet).records(), Captures.read(out).records(), "complete output");
  }

  @Test
  void theOutputIsReadableByTshark() throws Exception {
    needKernelCapture();
    assumeTrue(Shell.which("tshark").isPresent(), "tshark is not installed");
    Path out = dir.resolve("tshark.pcap");
    replay(ethernet, out, options(), "input -p icmp -j DIVERT 4000", (p, a) -> true);
    Shell.Result r =
        Shell.run(
            null,
            Duration.ofSeconds(60),
            List.of(
                "tshark",
                "-n",
                "-r",
                out.toString(),
                "-Y",
                "icmp",
                "-T",
                "fields",
                "-e",
                "icmp.type"));
    assertTrue(r.ok(), r.describe());
    List<String> types = r.stdout().lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
    assertEquals(List.of("8", "0", "8", "0"), types, "tshark reassembles two pings: " + r.stdout());
  }

  @Test
  void aSyntheticCaptureReplaysWithoutPrivileges() throws Exception {
    // Runs everywhere libpcap loads: a savefile replay needs no capture privileges.
    List<Rec> recs = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      ByteBuffer ip =
          org.divert4j.packet.Ipv4Builder.udp(5000 + i % 2, 53)
              .source("192.168.7.1")
              .destination("192.168.7.2")
              .identification(100 + i)
              .payload(("datagram " + i).getBytes(StandardCharsets.US_ASCII))
              .build();
      byte[] b = new byte[ip.remaining()];
      ip.get(b);
      recs.add(new Rec(1_700_000_000_000_000_000L + i * 1_000_000L, b));
    }
    Path in = dir.resolve("synthetic.pcap");
    Captures.write(in, Captures.LINKTYPE_RAW, recs);
    Path out = dir.resolve("synthetic-out.pcap");
    List<byte[]> got;
    try {
      got = replay(in, out, options(), "input -p udp --sport 5001 -j DIVERT 4000", (p, a) -> false);
    } catch (BackendUnavailableException e) {
      assumeTrue(false, "libpcap is not available: " + e.getMessage());
      return;
    }
    assertEquals(25, got.size(), "half the datagrams match the rule");
    Capture output = Captures.read(out);
    assertEquals(25, output.records().size(), "the other half passed");
    for (int i = 0; i < 25; i++) {
      assertEquals(recs.get(2 * i).timestampNanos(), output.records().get(i).timestampNanos());
      assertArrayEquals(recs.get(2 * i).frame(), output.records().get(i).frame());
    }
    assertTrue(Files.size(out) > 24);
  }

  @Test
  void aShortQueueMakesTheReplayWaitAndLosesNothing() throws Exception {
    // Lossless replay: with a queue of 3 the replay waits for the program rather than overflow
    // it (a QUEUE_FULL drop, or fail-open, would show here as a missing packet).
    List<Rec> recs = new ArrayList<>();
    for (int i = 0; i < 400; i++) {
      ByteBuffer ip =
          org.divert4j.packet.Ipv4Builder.udp(6000, 53)
              .source("192.168.8.1")
              .destination("192.168.8.2")
              .identification(1 + i)
              .payload(("packet " + i).getBytes(StandardCharsets.US_ASCII))
              .build();
      byte[] b = new byte[ip.remaining()];
      ip.get(b);
      recs.add(new Rec(1_700_000_000_000_000_000L + i * 1_000L, b));
    }
    Path in = dir.resolve("short-queue.pcap");
    Captures.write(in, Captures.LINKTYPE_RAW, recs);
    Path out = dir.resolve("short-queue-out.pcap");
    List<byte[]> got;
    try {
      got = replay(in, out, options().queueLength(3), "input -j DIVERT 4000", (p, a) -> true);
    } catch (BackendUnavailableException e) {
      assumeTrue(false, "libpcap is not available: " + e.getMessage());
      return;
    }
    assertEquals(400, got.size(), "every packet reached the program");
    Capture output = Captures.read(out);
    assertEquals(400, output.records().size(), "every packet was written back");
    for (int i = 0; i < 400; i++) {
      assertArrayEquals(recs.get(i).frame(), output.records().get(i).frame(), "packet " + i);
    }
  }

  @Test
  void theReplayThreadAllocatesNothingPerPacket() throws Exception {
    java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
    assumeTrue(
        mx instanceof com.sun.management.ThreadMXBean t && t.isThreadAllocatedMemorySupported(),
        "this JVM cannot count allocated bytes per thread");
    com.sun.management.ThreadMXBean bean = (com.sun.management.ThreadMXBean) mx;
    int n = 300_000;
    List<Rec> recs = new ArrayList<>(n);
    byte[] frame = new byte[14 + 60];
    ByteBuffer f = ByteBuffer.wrap(frame);
    f.putShort(12, (short) 0x0800);
    ByteBuffer ip =
        org.divert4j.packet.Ipv4Builder.udp(5000, 53)
            .source("192.168.7.1")
            .destination("192.168.7.2")
            .identification(1)
            .payload(new byte[32])
            .build();
    f.put(14, ip, 0, ip.remaining());
    for (int i = 0; i < n; i++) {
      recs.add(new Rec(1_700_000_000_000_000_000L + i * 1000L, frame));
    }
    Path in = dir.resolve("alloc.pcap");
    Captures.write(in, Captures.DLT_EN10MB, recs);
    recs.clear();
    HostOptions o =
        options()
            .property(PcapProvider.INPUT, in.toString())
            .property(PcapProvider.OUTPUT, dir.resolve("alloc-out.pcap").toString())
            .property(PcapProvider.START, "manual")
            .build();
    try (DivertHost host = new PcapProvider().open(o)) {
      host.addRule(DivertRule.parse("input -j DIVERT 4000"));
      PcapReplay replay = PcapReplay.of(host);
      org.divert4j.PacketBatch batch = org.divert4j.PacketBatch.allocate(64, 2048, false);
      long[] sample = new long[2];
      long[] atRead = new long[2];
      try (DivertSocket s = host.bind(PORT)) {
        // Started by hand after the bind, so the replay thread exists from here on; and since a
        // replay waits for the program when a queue is full, it cannot finish (nor its thread
        // end) before this loop has received everything: both samples are always taken, while
        // the thread is alive. No "too fast to sample" any more.
        replay.start();
        Thread replayThread = null;
        for (Thread t : Thread.getAllStackTraces().keySet()) {
          if (t.getName().startsWith("d4j-pcap-replay-")) {
            replayThread = t;
          }
        }
        assertTrue(replayThread != null, "the replay thread runs once started");
        while (!replay.isFinished()) {
          if (s.receive(batch, Duration.ofMillis(20)) > 0) {
            s.send(batch);
          }
          long read = replay.packetsRead();
          int k = sample[0] == 0 ? 0 : 1;
          if (replayThread != null && read > (k == 0 ? 100_000 : 250_000) && sample[k] == 0) {
            sample[k] = bean.getThreadAllocatedBytes(replayThread.getId());
            atRead[k] = read;
          }
        }
      }
      assertTrue(
          sample[0] > 0 && sample[1] > 0,
          "both samples are taken while the replay waits for this loop: "
              + java.util.Arrays.toString(atRead));
      double perPacket = (double) (sample[1] - sample[0]) / (atRead[1] - atRead[0]);
      System.out.println("replay thread: " + perPacket + " bytes allocated per packet");
      assertTrue(perPacket < 4, "replay thread allocates " + perPacket + " bytes per packet");
    }
  }

  @Test
  void badPropertiesAreNamed() {
    PcapProvider p = new PcapProvider();
    var e =
        assertThrows(
            org.divert4j.DivertException.class,
            () -> p.open(HostOptions.builder().property(PcapProvider.INPUT, "x.pcap").build()));
    assertTrue(e.getMessage().contains(PcapProvider.OUTPUT), e.getMessage());
    e =
        assertThrows(
            org.divert4j.DivertException.class,
            () -> p.open(HostOptions.builder().property(PcapProvider.OUTSIDE, "eth9").build()));
    assertTrue(e.getMessage().contains(PcapProvider.INSIDE), e.getMessage());
  }
}
