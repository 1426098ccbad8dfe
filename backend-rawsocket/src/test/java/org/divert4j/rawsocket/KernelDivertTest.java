package org.divert4j.rawsocket;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import org.divert4j.Chain;
import org.divert4j.DivertAddress;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.NoListenerPolicy;
import org.divert4j.PacketBatch;
import org.divert4j.linux.testbed.NamespaceNode;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Real traffic through real namespaces: the scenarios of the kernel backend issue. */
class KernelDivertTest {
  private TestBed bed;

  @BeforeEach
  void root() {
    Root.assumeKernel();
  }

  @AfterEach
  void cleanup() {
    if (bed != null) {
      bed.close();
    }
  }

  private TestBed bed(TestBedOptions o) throws Exception {
    bed = new RawSocketProvider().testBed(o);
    return bed;
  }

  @Test
  void perFragmentInputRuleDeliversEachFragmentAndPingSucceeds() throws Exception {
    bed(TestBedOptions.defaults());
    DivertSocket s = bed.host().bind(1234);
    bed.host().addRule(DivertRule.parse("input -p icmp -j DIVERT 1234"));
    try (Reflector r = new Reflector(s)) {
      assertTrue(bed.peer().ping(bed.hostNode().address(), 4000, Duration.ofSeconds(3)));
      List<Reflector.Seen> seen = r.seen();
      assertEquals(3, seen.size(), "one delivery per fragment of the echo request");
      assertEquals(0, seen.get(0).fragmentOffset());
      assertEquals(1480, seen.get(1).fragmentOffset());
      assertEquals(2960, seen.get(2).fragmentOffset());
      assertTrue(seen.get(0).moreFragments() && seen.get(1).moreFragments());
      assertFalse(seen.get(2).moreFragments());
      DivertAddress a = seen.get(0).address();
      assertEquals(Chain.INPUT, a.chain().orElseThrow());
      assertEquals("eth0", a.interfaceName());
      assertEquals(bed.hostNode().address(), a.interfaceAddress());
      assertTrue(r.errors().isEmpty(), () -> r.errors().toString());
    }
  }

  @Test
  void alwaysDefragmentDeliversTheWholeDatagramOnce() throws Exception {
    HostOptions h = HostOptions.builder().fragments(FragmentMode.ALWAYS_DEFRAGMENT).build();
    bed(TestBedOptions.builder().host(h).build());
    DivertSocket s = bed.host().bind(1234);
    bed.host().addRule(DivertRule.parse("input -p icmp -j DIVERT 1234"));
    try (Reflector r = new Reflector(s)) {
      assertTrue(bed.peer().ping(bed.hostNode().address(), 4000, Duration.ofSeconds(3)));
      List<Reflector.Seen> seen = r.seen();
      assertEquals(1, seen.size());
      assertEquals(4028, seen.get(0).packet().length);
      assertEquals(0, seen.get(0).fragmentOffset());
      assertFalse(seen.get(0).moreFragments());
    }
  }

  @Test
  void dropPolicyWithoutListenerDropsAndPassThroughPasses() throws Exception {
    bed(TestBedOptions.defaults());
    bed.host().addRule(DivertRule.parse("input -p icmp -j DIVERT 1234"));
    assertFalse(
        bed.peer().ping(bed.hostNode().address(), 56, Duration.ofMillis(700)),
        "S11: a DIVERT rule with no listener acts as DENY");
    assertTrue(bed.host().stats().dropped(org.divert4j.DropReason.NO_LISTENER) >= 1);
    try (var pass =
        bed.openAnotherHost(
            HostOptions.builder().noListener(NoListenerPolicy.PASS_THROUGH).build())) {
      bed.host().rules().get(0).remove();
      pass.addRule(DivertRule.parse("input -p icmp -j DIVERT 1234"));
      assertTrue(
          bed.peer().ping(bed.hostNode().address(), 56, Duration.ofSeconds(2)),
          "S12: with PASS_THROUGH the packet continues as if the rule were absent");
      assertTrue(pass.stats().passedNoListener() >= 1);
      // S13: binding starts diversion at once, closing ends it at once
      DivertSocket s = bed.host().bind(1234);
      assertFalse(bed.peer().ping(bed.hostNode().address(), 56, Duration.ofMillis(700)));
      ByteBuffer b = ByteBuffer.allocateDirect(65535);
      assertNotNull(s.receive(b, Duration.ZERO), "the echo request was diverted and held");
      s.close();
      assertTrue(bed.peer().ping(bed.hostNode().address(), 56, Duration.ofSeconds(2)));
    }
  }

  @Test
  void passThroughLaterRulesInTheSameChainStillApply() throws Exception {
    HostOptions h = HostOptions.builder().noListener(NoListenerPolicy.PASS_THROUGH).build();
    bed(TestBedOptions.builder().host(h).build());
    bed.host().addRule(DivertRule.parse("input -p icmp -j DIVERT 1000"));
    bed.host().addRule(DivertRule.parse("input -p icmp -j DIVERT 2000"));
    DivertSocket s = bed.host().bind(2000);
    try (Reflector r = new Reflector(s)) {
      assertTrue(bed.peer().ping(bed.hostNode().address(), 56, Duration.ofSeconds(2)));
      assertEquals(1, r.seen().size(), "S12 (SHOULD): the second rule still diverts");
    }
  }

  /** A UDP/IP packet from {@code src} to {@code dst}, {@code total} bytes, checksums valid. */
  static ByteBuffer udp(
      java.net.Inet4Address src, java.net.Inet4Address dst, int total, int id, boolean df) {
    ByteBuffer b = ByteBuffer.allocate(total);
    b.put(0, (byte) 0x45);
    b.putShort(2, (short) total);
    b.putShort(4, (short) id);
    b.putShort(6, (short) (df ? 0x4000 : 0));
    b.put(8, (byte) 64);
    b.put(9, (byte) 17);
    b.put(12, src.getAddress());
    b.put(16, dst.getAddress());
    b.putShort(20, (short) 40000);
    b.putShort(22, (short) 9999);
    b.putShort(24, (short) (total - 20));
    for (int i = 28; i < total; i++) {
      b.put(i, (byte) 'x');
    }
    b.putShort(26, (short) 0); // no UDP checksum
    return b;
  }

  /** An ICMP echo request from {@code src} to {@code dst}. */
  static ByteBuffer echo(java.net.Inet4Address src, java.net.Inet4Address dst, int id, int seq) {
    ByteBuffer b = ByteBuffer.allocate(28 + 8);
    b.put(0, (byte) 0x45);
    b.putShort(2, (short) 36);
    b.put(8, (byte) 64);
    b.put(9, (byte) 1);
    b.put(12, src.getAddress());
    b.put(16, dst.getAddress());
    b.put(20, (byte) 8);
    b.putShort(24, (short) id);
    b.putShort(26, (short) seq);
    long sum = 0;
    for (int i = 20; i < 36; i += 2) {
      sum += b.getShort(i) & 0xffff;
    }
    while ((sum >> 16) != 0) {
      sum = (sum & 0xffff) + (sum >> 16);
    }
    b.putShort(22, (short) ~sum);
    return b;
  }

  static boolean isUdpTo(byte[] p, int port) {
    return p.length >= 28 && (p[9] & 0xff) == 17 && ((p[22] & 0xff) << 8 | (p[23] & 0xff)) == port;
  }

  @Test
  void injectionAboveTheMtuIsRefusedWithTheMtu() throws Exception {
    bed(TestBedOptions.builder().peerMtu(1400).build());
    DivertSocket s = bed.host().bind(1234);
    try (var cap = bed.peer().capture()) {
      var src = bed.hostNode().address();
      var dst = bed.peer().address();
      s.send(udp(src, dst, 1400, 1, true));
      org.divert4j.PacketTooLargeException e =
          assertThrows(
              org.divert4j.PacketTooLargeException.class,
              () -> s.send(udp(src, dst, 1401, 2, true)));
      assertEquals(1400, e.mtu(), "S27/S28: the error carries the egress MTU");
      assertEquals(1401, e.length());
      List<byte[]> got = cap.await(p -> isUdpTo(p, 9999), 2, Duration.ofMillis(500));
      assertEquals(1, got.size(), "the MTU-sized packet was sent, the larger one was not");
      assertEquals(1400, got.get(0).length);
      assertTrue(got.get(0)[4] != 0 || got.get(0)[5] != 0, "S39: a zero ID with DF is filled in");
    }
  }

  @Test
  void reinjectedPacketsAreNotDivertedAgainAndTheTrafficFlows() throws Exception {
    bed(TestBedOptions.defaults());
    DivertSocket s = bed.host().bind(1234);
    bed.host().addRule(DivertRule.parse("output -p icmp -j DIVERT 1234"));
    try (Reflector r = new Reflector(s)) {
      for (int i = 0; i < 3; i++) {
        assertTrue(bed.peer().ping(bed.hostNode().address(), 56, Duration.ofSeconds(2)));
      }
      Thread.sleep(bed.settleTime().toMillis());
      assertEquals(3, r.seen().size(), "S43: each echo reply is seen once");
    }
  }

  @Test
  void injectedPacketsSkipTheirOwnPortOnly() throws Exception {
    injectedPacketsSkip(4322, 1);
  }

  /**
   * Ports whose injector slots are the same (1 + port mod 7: 1234 and 4321 both 3) skip each
   * other's injections too, which S45 allows; the packet still crosses the wire once.
   */
  @Test
  void portsThatShareAnInjectorSlotSkipEachOthersInjections() throws Exception {
    injectedPacketsSkip(4321, 0);
  }

  private void injectedPacketsSkip(int other, int seenByOther) throws Exception {
    bed(TestBedOptions.defaults());
    DivertSocket p = bed.host().bind(1234);
    DivertSocket q = bed.host().bind(other);
    bed.host().addRule(DivertRule.parse("output -p icmp -j DIVERT 1234"));
    bed.host().addRule(DivertRule.parse("output -p icmp -j DIVERT " + other));
    try (Reflector rq = new Reflector(q);
        var cap = bed.peer().capture()) {
      p.send(echo(bed.hostNode().address(), bed.peer().address(), 7, 1));
      List<Reflector.Seen> atQ = rq.await(1, Duration.ofSeconds(seenByOther == 0 ? 1 : 2));
      assertEquals(seenByOther, atQ.size(), "S45: other ports may receive an injected packet");
      assertNull(
          p.receive(ByteBuffer.allocate(65535), Duration.ofMillis(300)),
          "S45: never back to the injecting port");
      assertEquals(1, cap.await(b -> b[9] == 1 && b[20] == 8, 1, Duration.ofSeconds(1)).size());
    }
  }

  @Test
  void forwardedPacketContinuesAfterTheRuleThatDivertedIt() throws Exception {
    bed(TestBedOptions.builder().farPeer(true).build());
    var far = bed.farPeer().orElseThrow();
    DivertSocket p1 = bed.host().bind(1001);
    DivertSocket p3 = bed.host().bind(1003);
    DivertSocket p2 = bed.host().bind(1002);
    DivertSocket pf = bed.host().bind(1004);
    bed.host().addRule(DivertRule.parse("input -p icmp --icmp-type 8 -j DIVERT 1001"));
    bed.host().addRule(DivertRule.parse("input -p icmp --icmp-type 8 -j DIVERT 1003"));
    bed.host().addRule(DivertRule.parse("forward -p icmp --icmp-type 8 -j DIVERT 1004"));
    bed.host().addRule(DivertRule.parse("output -p icmp --icmp-type 8 -j DIVERT 1002"));
    try (Reflector r1 = new Reflector(p1);
        Reflector r3 = new Reflector(p3);
        Reflector rf = new Reflector(pf);
        Reflector r2 = new Reflector(p2)) {
      assertTrue(bed.peer().ping(far.address(), 56, Duration.ofSeconds(3)));
      Thread.sleep(bed.settleTime().toMillis());
      assertEquals(1, r1.seen().size(), "input rule 1");
      assertEquals(1, r3.seen().size(), "S44: a later rule of the same chain");
      assertEquals(1, rf.seen().size(), "S4: the forward chain");
      assertEquals(1, r2.seen().size(), "S44: a later chain");
      assertEquals(Chain.FORWARD, rf.seen().get(0).address().chain().orElseThrow());
      assertEquals(Chain.OUTPUT, r2.seen().get(0).address().chain().orElseThrow());
    }
  }

  @Test
  void outboundDatagramsAboveTheMtuAreDeliveredAsFragments() throws Exception {
    bed(TestBedOptions.defaults());
    DivertSocket s = bed.host().bind(1234);
    bed.host().addRule(DivertRule.parse("output -p udp -j DIVERT 1234"));
    try (Reflector r = new Reflector(s);
        var ep = bed.peer().openUdp(9999)) {
      byte[] payload = new byte[4000];
      for (int i = 0; i < payload.length; i++) {
        payload[i] = (byte) (i * 7);
      }
      bed.hostNode().sendUdp(bed.peer().address(), 5555, 9999, payload);
      var d = ep.receive(Duration.ofSeconds(3));
      System.out.println("S19 seen " + r.seen().size() + " errors " + r.errors());
      assertNotNull(d, "S17/S19: the fragments written back reach the peer whole");
      assertTrue(java.util.Arrays.equals(payload, d.payload()));
      List<Reflector.Seen> seen = r.seen();
      assertEquals(3, seen.size(), "S19: delivered as its fragments");
      for (Reflector.Seen x : seen) {
        assertTrue(x.packet().length <= 1500);
      }
      assertEquals(2960, seen.get(2).fragmentOffset());
    }
  }

  @Test
  void inboundInjectionReachesTheHostStack() throws Exception {
    bed(TestBedOptions.defaults());
    DivertSocket s = bed.host().bind(1234);
    try (var cap = bed.peer().capture()) {
      var host = bed.hostNode().address();
      s.send(echo(bed.peer().address(), host, 99, 1), DivertAddress.inbound(host));
      List<byte[]> replies = cap.await(b -> b[9] == 1 && b[20] == 0, 1, Duration.ofSeconds(2));
      assertEquals(1, replies.size(), "S33: the host's stack answered the injected echo request");
      assertThrows(
          org.divert4j.AddressNotAvailableException.class,
          () ->
              s.send(
                  echo(bed.peer().address(), host, 99, 2),
                  DivertAddress.inbound(org.divert4j.Ipv4.parse("192.0.2.77"))),
          "S36");
      assertThrows(
          org.divert4j.NoRouteException.class,
          () -> s.send(echo(host, org.divert4j.Ipv4.parse("203.0.113.9"), 1, 1)),
          "S49");
      assertThrows(
          org.divert4j.MalformedPacketException.class,
          () -> s.send(ByteBuffer.allocate(19)),
          "S47");
    }
  }

  @Test
  void portsAreExclusive() throws Exception {
    bed(TestBedOptions.defaults());
    bed.host().bind(1234);
    assertThrows(org.divert4j.PortInUseException.class, () -> bed.host().bind(1234));
    try (var other = bed.openAnotherHost(HostOptions.defaults())) {
      assertThrows(org.divert4j.PortInUseException.class, () -> other.bind(1234));
      assertThrows(IllegalArgumentException.class, () -> other.bind(0));
      assertThrows(IllegalArgumentException.class, () -> other.bind(65536));
    }
  }

  @Test
  void sharedRulesAndClosedSockets() throws Exception {
    bed(TestBedOptions.defaults());
    var other = bed.openAnotherHost(HostOptions.defaults());
    other.addRule(DivertRule.parse("input -p icmp -j DIVERT 1234"));
    DivertSocket s = bed.host().bind(1234);
    try (Reflector r = new Reflector(s)) {
      assertTrue(bed.peer().ping(bed.hostNode().address(), 56, Duration.ofSeconds(2)));
      assertEquals(1, r.seen().size(), "S3: a rule of one handle, a socket of another");
      assertEquals(other.rules().get(0).id(), r.seen().get(0).address().ruleId());
    }
    s.close();
    assertThrows(
        org.divert4j.DivertClosedException.class, () -> s.receive(ByteBuffer.allocate(65535)));
    assertFalse(s.isOpen());
  }

  @Test
  void closeWakesABlockedReceiverAndDropsHeldPackets() throws Exception {
    bed(TestBedOptions.defaults());
    DivertSocket s = bed.host().bind(1234);
    bed.host().addRule(DivertRule.parse("input -p icmp -j DIVERT 1234"));
    Thread t =
        new Thread(
            () -> {
              try {
                Thread.sleep(300);
              } catch (InterruptedException e) {
                return;
              }
              s.close();
            });
    long t0 = System.nanoTime();
    t.start();
    assertThrows(
        org.divert4j.DivertClosedException.class, () -> s.receive(ByteBuffer.allocate(65535)));
    assertTrue(System.nanoTime() - t0 < 2_000_000_000L, "S51: woken promptly");
    DivertSocket s2 = bed.host().bind(1234);
    var reply =
        new Thread(
            () -> {
              try {
                bed.peer().ping(bed.hostNode().address(), 56, Duration.ofMillis(800));
              } catch (Exception e) {
                // measured below
              }
            });
    reply.start();
    ByteBuffer b = ByteBuffer.allocateDirect(65535);
    assertNotNull(s2.receive(b, Duration.ofSeconds(2)));
    s2.close(); // S14: the held echo request is dropped
    reply.join();
    assertTrue(s2.stats().dropped(org.divert4j.DropReason.CLOSED) >= 1);
  }

  @Test
  void theLargestPacketIsDeliveredWholeThoughNfqueueCopiesAtMost65531Bytes() throws Exception {
    bed(TestBedOptions.builder().peerMtu(65535).build());
    DivertSocket s = bed.host().bind(1234);
    bed.host().addRule(DivertRule.parse("input -p udp --dport 7000 -j DIVERT 1234"));
    try (var ep = bed.hostNode().openUdp(7000)) {
      byte[] data = new byte[65535 - 28];
      for (int i = 0; i < data.length; i++) {
        data[i] = (byte) (i * 13 + 1);
      }
      bed.peer().sendUdp(bed.hostNode().address(), 5000, 7000, data);
      org.divert4j.BufferTooSmallException e =
          assertThrows(
              org.divert4j.BufferTooSmallException.class,
              () -> s.receive(ByteBuffer.allocate(1500), Duration.ofSeconds(3)));
      assertEquals(65535, e.required());
      ByteBuffer b = ByteBuffer.allocate(65535);
      DivertAddress a = s.receive(b, Duration.ofSeconds(1));
      assertNotNull(a);
      b.flip();
      assertEquals(65535, b.remaining());
      byte[] got = new byte[data.length];
      b.get(28, got);
      assertTrue(java.util.Arrays.equals(data, got), "S8: the tail beyond 65531 bytes is there");
      s.send(b, a);
      var d = ep.receive(Duration.ofSeconds(2));
      assertNotNull(d);
      assertTrue(java.util.Arrays.equals(data, d.payload()));
    }
  }

  /**
   * The jumbo tap listens only on loopback while no other interface can carry a 65532-byte packet
   * (JumboTap#scope). A link whose MTU reaches 65535 after the host opened costs its first largest
   * packet, which is counted (NO_BUFFER) and never delivered truncated; the tap then listens on
   * every interface, and the next one arrives whole.
   */
  @Test
  void aLinkThatReachesTheLargestMtuAfterOpenLosesOnlyItsFirstLargestPacket() throws Exception {
    bed(TestBedOptions.builder().build()); // eth0 has MTU 1500 when the host opens
    DivertSocket s = bed.host().bind(1234);
    bed.host().addRule(DivertRule.parse("input -p udp --dport 7000 -j DIVERT 1234"));
    ((NamespaceNode) bed.peer()).netns().ip("link", "set", "eth0", "mtu", "65535");
    ((NamespaceNode) bed.hostNode()).netns().ip("link", "set", "eth0", "mtu", "65535");
    byte[] data = new byte[65535 - 28];
    for (int i = 0; i < data.length; i++) {
      data[i] = (byte) (i * 7 + 3);
    }
    ByteBuffer b = ByteBuffer.allocate(65535);
    bed.peer().sendUdp(bed.hostNode().address(), 5000, 7000, data);
    assertNull(
        s.receive(b, Duration.ofSeconds(2)),
        "the first 65535-byte packet through a link the tap did not listen on is not delivered");
    assertEquals(1, s.stats().dropped(org.divert4j.DropReason.NO_BUFFER), "and it is counted");
    bed.peer().sendUdp(bed.hostNode().address(), 5000, 7000, data);
    DivertAddress a = s.receive(b, Duration.ofSeconds(3));
    assertNotNull(a, "the tap listens on every interface since the miss");
    b.flip();
    assertEquals(65535, b.remaining());
    byte[] got = new byte[data.length];
    b.get(28, got);
    assertTrue(java.util.Arrays.equals(data, got), "S8: whole, tail included");
  }

  @Test
  void heldPacketsExpireAfterTheHoldTimeout() throws Exception {
    HostOptions h = HostOptions.builder().holdTimeout(Duration.ofMillis(300)).build();
    bed(TestBedOptions.builder().host(h).build());
    DivertSocket s = bed.host().bind(1234);
    bed.host().addRule(DivertRule.parse("input -p icmp -j DIVERT 1234"));
    Thread ping =
        new Thread(
            () -> {
              try {
                bed.peer().ping(bed.hostNode().address(), 56, Duration.ofSeconds(2));
              } catch (Exception e) {
                // measured through the socket
              }
            });
    ping.start();
    ByteBuffer b = ByteBuffer.allocate(65535);
    DivertAddress a = s.receive(b, Duration.ofSeconds(2));
    assertNotNull(a);
    assertEquals(1, s.stats().held());
    Thread.sleep(800);
    assertEquals(0, s.stats().held());
    assertEquals(1, s.stats().dropped(org.divert4j.DropReason.HOLD_EXPIRED));
    // writing an expired packet back injects a new one (its ticket is stale), inbound
    b.flip();
    s.send(b, a);
    assertEquals(1, s.stats().injected());
    ping.join();
  }

  @Test
  void eachInterfaceHasItsOwnMtu() throws Exception {
    bed(TestBedOptions.builder().peerMtu(1500).farPeerMtu(1300).farPeer(true).build());
    DivertSocket s = bed.host().bind(1234);
    var host = bed.hostNode().address();
    var far = bed.farPeer().orElseThrow().address();
    s.send(udp(host, bed.peer().address(), 1500, 5, true));
    org.divert4j.PacketTooLargeException e =
        assertThrows(
            org.divert4j.PacketTooLargeException.class,
            () -> s.send(udp(host, far, 1301, 6, true)));
    assertEquals(1300, e.mtu(), "S30: the MTU of the interface the route picks");
    s.send(udp(host, far, 1300, 7, true));
  }

  @Test
  void aFullQueueDropsAndCountsOrFailsOpen() throws Exception {
    HostOptions h = HostOptions.builder().queueLength(2).build();
    bed(TestBedOptions.builder().host(h).build());
    DivertSocket s = bed.host().bind(1234);
    bed.host().addRule(DivertRule.parse("input -p udp --dport 7000 -j DIVERT 1234"));
    for (int i = 0; i < 10; i++) {
      bed.peer().sendUdp(bed.hostNode().address(), 5000, 7000, new byte[] {(byte) i});
    }
    Thread.sleep(bed.settleTime().toMillis());
    assertEquals(8, s.stats().dropped(org.divert4j.DropReason.QUEUE_FULL), "S15, S50");
    s.close();
    try (var open =
            bed.openAnotherHost(HostOptions.builder().queueLength(2).failOpen(true).build());
        var ep = bed.hostNode().openUdp(7000)) {
      DivertSocket f = open.bind(1234);
      for (int i = 0; i < 10; i++) {
        bed.peer().sendUdp(bed.hostNode().address(), 5000, 7000, new byte[] {(byte) i});
      }
      int got = 0;
      while (ep.receive(Duration.ofMillis(300)) != null) {
        got++;
      }
      assertEquals(8, got, "S15: with failOpen the excess continues undiverted");
      assertEquals(8, f.stats().failOpenAccepted());
      assertEquals(2, f.stats().held() + (long) f.receive(PacketBatch.allocate(4), Duration.ZERO));
    }
  }

  /** A batch reused for a longer packet than its slot last held (a bug: IndexOutOfBounds). */
  @Test
  void aReusedBatchTakesALongerPacketThanItsSlotHeldBefore() throws Exception {
    bed(TestBedOptions.defaults());
    DivertSocket s = bed.host().bind(1234);
    bed.host().addRule(DivertRule.parse("input -p udp --dport 7000 -j DIVERT 1234"));
    PacketBatch batch = PacketBatch.allocate(4);
    try (var ep = bed.hostNode().openUdp(7000)) {
      for (int size : new int[] {10, 500}) {
        bed.peer().sendUdp(bed.hostNode().address(), 5000, 7000, new byte[size]);
        assertEquals(1, s.receive(batch, Duration.ofSeconds(3)));
        assertEquals(28 + size, batch.packet(0).remaining());
        assertEquals(1, s.send(batch));
        assertEquals(size, ep.receive(Duration.ofSeconds(3)).payload().length);
      }
    }
  }

  @Test
  void batchesFlowInBothDirections() throws Exception {
    bed(TestBedOptions.defaults());
    DivertSocket s = bed.host().bind(1234);
    bed.host().addRule(DivertRule.parse("input -p udp --dport 7000 -j DIVERT 1234"));
    int n = 2000;
    try (Reflector r = new Reflector(s);
        var ep = bed.hostNode().openUdp(7000)) {
      Thread sender =
          new Thread(
              () -> {
                try {
                  for (int i = 0; i < n; i++) {
                    bed.peer().sendUdp(bed.hostNode().address(), 5000, 7000, new byte[64]);
                    if (i % 100 == 99) {
                      // At most 100 in flight: this test is about batches, not overload (the
                      // reliability tests count overload drops); on a loaded machine an unpaced
                      // blast overflows the sink's receive buffer.
                      r.await(i + 1, Duration.ofSeconds(10));
                    }
                  }
                } catch (Exception e) {
                  throw new RuntimeException(e);
                }
              });
      sender.start();
      int got = 0;
      while (ep.receive(Duration.ofSeconds(2)) != null) {
        got++;
      }
      sender.join();
      assertEquals(n, r.seen().size());
      assertEquals(n, got, "every reinjected datagram arrives once");
      assertTrue(r.errors().isEmpty(), () -> r.errors().toString());
      assertEquals(0, s.stats().held());
    }
  }

  @Test
  void parallelismSpreadsAPortOverQueuesAndOneReaderStillSeesThemAll() throws Exception {
    HostOptions h = HostOptions.builder().parallelism(2).build();
    bed(TestBedOptions.builder().host(h).build());
    DivertSocket s = bed.host().bind(1234);
    assertThrows(
        org.divert4j.PortInUseException.class,
        () -> bed.host().bind(1235),
        "queue 1235 belongs to port 1234's second lane");
    bed.host().addRule(DivertRule.parse("input -p udp --dport 9999 -j DIVERT 1234"));
    byte[] peer = bed.peer().address().getAddress();
    try (var ep = bed.hostNode().openUdp(9999)) {
      for (int round = 0; round < 2; round++) {
        int readers = round + 1;
        java.util.List<Reflector> rs = new java.util.ArrayList<>();
        for (int i = 0; i < readers; i++) {
          rs.add(new Reflector(s));
        }
        int sent = 0;
        for (int src = 10; src < 26; src++) {
          peer[3] = (byte) src; // queue-balance hashes addresses: spread the sources
          ByteBuffer p =
              udp(
                  (java.net.Inet4Address) java.net.InetAddress.getByAddress(peer),
                  bed.hostNode().address(),
                  92,
                  src,
                  false);
          org.divert4j.packet.Checksums.fillIpv4Header(p, 0);
          bed.peer().sendRaw(p);
          sent++;
        }
        int got = 0;
        while (ep.receive(Duration.ofMillis(500)) != null) {
          got++;
        }
        int seen = 0;
        for (Reflector r : rs) {
          seen += r.seen().size();
          r.close();
          assertTrue(r.errors().isEmpty(), () -> r.errors().toString());
        }
        assertEquals(sent, seen, readers + " reader(s) see every packet");
        assertEquals(sent, got, "every packet written back arrives");
      }
      // both queues got packets (id_sequence, the 8th column, counts the ids each queue gave)
      String proc =
          org.divert4j.linux.Shell.check(
              null,
              Duration.ofSeconds(10),
              org.divert4j.linux.Shell.inNetns(
                  "/var/run/netns/" + bed.host().options().property("rawsocket.netns", ""),
                  List.of("cat", "/proc/net/netfilter/nfnetlink_queue")));
      int used = 0;
      for (String line : proc.trim().split("\n")) {
        String[] f = line.trim().split("\\s+");
        if ((f[0].equals("1234") || f[0].equals("1235")) && Long.parseLong(f[7]) > 0) {
          used++;
        }
      }
      assertEquals(2, used, "--queue-balance used both queues: " + proc);
    }
  }

  @Test
  void socketBufferOverflowIsCountedAndNeverEndsTheReceiveLoop() throws Exception {
    HostOptions h =
        HostOptions.builder()
            .queueLength(65535)
            .property("rawsocket.rcvbuf", "65536")
            .property("rawsocket.batch", "4")
            .build();
    bed(TestBedOptions.builder().host(h).build());
    DivertSocket s = bed.host().bind(1234);
    bed.host().addRule(DivertRule.parse("input -p udp --dport 7000 -j DIVERT 1234"));
    byte[] big = new byte[1400];
    for (int i = 0; i < 300; i++) {
      bed.peer().sendUdp(bed.hostNode().address(), 5000, 7000, big);
    }
    Thread.sleep(bed.settleTime().toMillis());
    PacketBatch b = PacketBatch.allocate(64);
    int got = 0;
    int n;
    while ((n = s.receive(b, Duration.ofMillis(300))) > 0) {
      got += n;
      s.send(b);
    }
    long lost = s.stats().dropped(org.divert4j.DropReason.NO_BUFFER);
    assertTrue(lost > 0, "S50: the overflow is counted: " + s.stats());
    assertEquals(300, got + lost, "every packet is either delivered or counted");
    // and the socket keeps working
    bed.peer().sendUdp(bed.hostNode().address(), 5000, 7000, new byte[10]);
    assertEquals(1, s.receive(b, Duration.ofSeconds(2)));
  }
}
