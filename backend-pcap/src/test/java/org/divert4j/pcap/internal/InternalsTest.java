package org.divert4j.pcap.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import org.divert4j.DivertException;
import org.divert4j.HostOptions;
import org.divert4j.Ipv4;
import org.divert4j.packet.Ipv4Builder;
import org.divert4j.packet.Ipv6Builder;
import org.junit.jupiter.api.Test;

/** The pure-Java parts of the backend: handoff ring, link layer, timestamps, properties. */
class InternalsTest {
  @Test
  void hostsDeclareWhatTheProviderDeclares() {
    // A host's capabilities decide which rules the TCK holds it to (S8's WHOLE_LOCAL_OUTPUT).
    assertEquals(new org.divert4j.pcap.PcapProvider().capabilities(), Device.CAPABILITIES);
  }

  private static final long MAC_A = 0x020000000001L;
  private static final long MAC_B = 0x020000000002L;
  private static final long MAC_R = 0x020000000099L;

  // ------------------------------------------------------------------ HandoffRing

  @Test
  void theRingHandsFramesOverInOrderAcrossTheWrap() {
    HandoffRing ring = new HandoffRing(0); // the minimum: two maximal frames
    int cap = ring.array().length;
    long produced = 0;
    long consumed = 0;
    byte[] f = new byte[5000];
    for (int round = 0; round < 200; round++) {
      int len = 1 + (round * 997) % f.length;
      Arrays.fill(f, 0, len, (byte) round);
      assertTrue(ring.reserve(len), "room at round " + round);
      System.arraycopy(f, 0, ring.array(), ring.dataOffset(), len);
      ring.publish(round);
      produced += len;
      assertTrue(ring.poll());
      assertEquals(len, ring.length());
      assertEquals(round, ring.timestamp());
      assertEquals((byte) round, ring.array()[ring.offset()]);
      assertEquals((byte) round, ring.array()[ring.offset() + len - 1]);
      ring.release();
      consumed += len;
      assertTrue(ring.isDrained());
    }
    assertEquals(produced, consumed);
    assertTrue(produced > 2L * cap, "wrapped several times");
  }

  @Test
  void aFullRingRefusesInsteadOfBlocking() {
    HandoffRing ring = new HandoffRing(0);
    int n = 0;
    while (ring.reserve(60000)) {
      ring.publish(n++);
    }
    assertTrue(n >= 2, "holds at least two maximal frames: " + n);
    assertFalse(ring.reserve(60000), "full");
    assertTrue(ring.poll());
    ring.release();
    assertTrue(ring.reserve(60000), "room again after a release");
  }

  @Test
  void theRingIsSafeBetweenTwoThreads() throws Exception {
    HandoffRing ring = new HandoffRing(1 << 18);
    int frames = 200_000;
    AtomicLong drops = new AtomicLong();
    Thread producer =
        new Thread(
            () -> {
              for (int i = 0; i < frames; i++) {
                int len = 20 + i % 1500;
                while (!ring.reserve(len)) {
                  drops.incrementAndGet();
                  Thread.onSpinWait();
                }
                ByteBuffer.wrap(ring.array()).putInt(ring.dataOffset(), i);
                ring.publish(i);
              }
            });
    producer.start();
    for (int i = 0; i < frames; i++) {
      while (!ring.poll()) {
        Thread.onSpinWait();
      }
      assertEquals(i, ring.timestamp());
      assertEquals(20 + i % 1500, ring.length());
      assertEquals(i, ByteBuffer.wrap(ring.array()).getInt(ring.offset()));
      ring.release();
    }
    producer.join();
  }

  // ------------------------------------------------------------------ LinkLayer

  private static ByteBuffer ethernet(long dst, long src, int type, ByteBuffer payload) {
    ByteBuffer f = ByteBuffer.allocate(14 + payload.remaining());
    LinkLayer.putMac(f, 0, dst);
    LinkLayer.putMac(f, 6, src);
    f.putShort(12, (short) type);
    f.put(14, payload, payload.position(), payload.remaining());
    return f;
  }

  private static ByteBuffer udp(String src, String dst) {
    return Ipv4Builder.udp(1, 2).source(src).destination(dst).identification(9).build();
  }

  @Test
  void macAddressesAreLearnedFromFramesAndWrittenBack() {
    LinkLayer l2 = new LinkLayer(LinkTypes.DLT_EN10MB);
    // A (10.0.0.1) talks to B (10.0.0.2); B's frames arrive on the other side.
    ByteBuffer ab = ethernet(MAC_B, MAC_A, 0x0800, udp("10.0.0.1", "10.0.0.2"));
    l2.learn(ab, 0, ab.limit(), LinkLayer.INBOUND);
    assertEquals(14, l2.ipv4Offset(ab, 0, ab.limit()));
    assertEquals(MAC_A, l2.sourceMac(Ipv4.parseInt("10.0.0.1"), LinkLayer.OUTBOUND));
    assertEquals(MAC_B, l2.destinationMac(Ipv4.parseInt("10.0.0.2"), LinkLayer.INBOUND));
    ByteBuffer out = ByteBuffer.allocate(100);
    assertEquals(
        14,
        l2.writeHeader(
            out, 0, Ipv4.parseInt("10.0.0.2"), Ipv4.parseInt("10.0.0.1"), LinkLayer.OUTBOUND));
    assertEquals(MAC_A, LinkLayer.mac(out, 0), "to A");
    assertEquals(MAC_B, LinkLayer.mac(out, 6), "from B (weakly learned from A's frame)");
    assertEquals(0x0800, out.getShort(12) & 0xffff);
  }

  @Test
  void aRouterMacIsUsedForRemoteAddresses() {
    LinkLayer l2 = new LinkLayer(LinkTypes.DLT_EN10MB);
    // The host (A) sends to a remote address through its router R.
    ByteBuffer f = ethernet(MAC_R, MAC_A, 0x0800, udp("10.0.0.1", "198.51.100.7"));
    l2.learn(f, 0, f.limit(), LinkLayer.OUTBOUND);
    assertEquals(MAC_R, l2.destinationMac(Ipv4.parseInt("198.51.100.7"), LinkLayer.OUTBOUND));
    // An unknown destination falls back to the last frame's in that direction.
    assertEquals(MAC_R, l2.destinationMac(Ipv4.parseInt("198.51.100.8"), LinkLayer.OUTBOUND));
    assertEquals(LinkLayer.BROADCAST, l2.destinationMac(-1, LinkLayer.OUTBOUND));
    assertEquals(
        0x01005e000001L,
        l2.destinationMac(Ipv4.parseInt("224.0.0.1"), LinkLayer.OUTBOUND),
        "IPv4 multicast MAC");
    // Nothing seen inbound yet: broadcast, and the interface's own MAC as source.
    assertEquals(
        LinkLayer.BROADCAST, l2.destinationMac(Ipv4.parseInt("10.0.0.9"), LinkLayer.INBOUND));
    l2.ownMac(LinkLayer.INBOUND, 0x0200000000ffL);
    assertEquals(0x0200000000ffL, l2.sourceMac(Ipv4.parseInt("10.0.0.77"), LinkLayer.INBOUND));
  }

  @Test
  void arpSendersAreLearnedAndArpIsNotIpv4() {
    LinkLayer l2 = new LinkLayer(LinkTypes.DLT_EN10MB);
    ByteBuffer arp = ByteBuffer.allocate(28);
    arp.putShort(0, (short) 1).putShort(2, (short) 0x0800).put(4, (byte) 6).put(5, (byte) 4);
    arp.putShort(6, (short) 2);
    LinkLayer.putMac(arp, 8, MAC_B);
    arp.putInt(14, Ipv4.parseInt("10.0.0.2"));
    ByteBuffer f = ethernet(MAC_A, MAC_B, 0x0806, arp);
    assertEquals(-1, l2.ipv4Offset(f, 0, f.limit()));
    l2.learn(f, 0, f.limit(), LinkLayer.OUTBOUND);
    assertEquals(MAC_B, l2.get(Ipv4.parseInt("10.0.0.2")));
  }

  @Test
  void linkTypesWithoutMacsHaveNoHeader() {
    LinkLayer raw = new LinkLayer(LinkTypes.DLT_RAW);
    ByteBuffer p = udp("10.0.0.1", "10.0.0.2");
    assertEquals(0, raw.ipv4Offset(p, 0, p.limit()));
    assertEquals(0, raw.writeHeader(ByteBuffer.allocate(4), 0, 1, 2, LinkLayer.INBOUND));
    assertFalse(LinkTypes.supported(105), "802.11 is not supported");
    assertThrows(IllegalArgumentException.class, () -> new LinkLayer(105));
  }

  @Test
  void cookedHeadersKeepThePacketTypeAndTellOutgoingFrames() {
    LinkLayer l2 = new LinkLayer(LinkTypes.DLT_LINUX_SLL2);
    ByteBuffer ip = udp("10.0.0.1", "10.0.0.2");
    ByteBuffer f = ByteBuffer.allocate(20 + ip.remaining());
    f.putShort(0, (short) 0x0800).putInt(4, 3).putShort(8, (short) 1);
    f.put(10, (byte) 4).put(11, (byte) 6);
    LinkLayer.putMac(f, 12, MAC_A);
    f.put(20, ip, 0, ip.remaining());
    assertEquals(20, l2.ipv4Offset(f, 0, f.limit()));
    assertTrue(l2.outgoing(f, 0, f.limit()));
    l2.learn(f, 0, f.limit(), LinkLayer.OUTBOUND);
    ByteBuffer out = ByteBuffer.allocate(64);
    assertEquals(20, l2.writeHeader(out, 0, Ipv4.parseInt("10.0.0.1"), 0, LinkLayer.OUTBOUND));
    byte[] a = new byte[20];
    byte[] b = new byte[20];
    f.get(0, a);
    out.get(0, b);
    assertArrayEquals(a, b, "the same cooked header as captured");
  }

  // ------------------------------------------------------------------ TimestampTable

  @Test
  void timestampsFollowPacketsByTheirIdentity() {
    TimestampTable t = new TimestampTable();
    ByteBuffer p =
        Ipv4Builder.udp(1, 2).source("1.1.1.1").destination("2.2.2.2").identification(7).build();
    t.remember(p, 42);
    assertEquals(42, t.lookup(p));
    ByteBuffer other =
        Ipv4Builder.udp(1, 2).source("1.1.1.1").destination("2.2.2.2").identification(8).build();
    assertEquals(-1, t.lookup(other));
    // A fragment of a remembered datagram maps to the datagram's latest timestamp.
    ByteBuffer frag = p.duplicate();
    ByteBuffer copy = ByteBuffer.allocate(frag.remaining()).put(frag).flip();
    copy.putShort(6, (short) 0x2000);
    t.remember(copy, 50);
    assertEquals(50, t.lookup(copy));
    assertEquals(42, t.lookup(p), "exact entries win");
    copy.putShort(6, (short) 0x0010);
    assertEquals(50, t.lookup(copy), "an unseen piece of the datagram: its latest timestamp");
  }

  @Test
  void identicalPacketsLeaveWithTheirOwnTimestampsInInputOrder() {
    // Two identical IPv6 packets (a listener report sent twice: IPv6 has no Identification)
    // and two identical IPv4 ones: each written packet takes the oldest untaken timestamp.
    ByteBuffer v6 = Ipv6Builder.udp(5353, 5353).source("fe80::1").destination("ff02::fb").build();
    ByteBuffer v4 =
        Ipv4Builder.udp(1, 2).source("1.1.1.1").destination("2.2.2.2").identification(0).build();
    TimestampTable t = new TimestampTable();
    t.remember(v6, 100);
    t.remember(v4, 150);
    t.remember(v6, 200);
    t.remember(v4, 250);
    assertEquals(100, t.lookup(v6));
    assertEquals(200, t.lookup(v6));
    assertEquals(200, t.lookup(v6), "written a third time: the newest again");
    assertEquals(150, t.lookup(v4));
    assertEquals(250, t.lookup(v4));
  }

  @Test
  void aFullSetReplacesTakenEntriesBeforeWaitingOnes() {
    ByteBuffer p =
        Ipv4Builder.udp(1, 2).source("1.1.1.1").destination("2.2.2.2").identification(9).build();
    TimestampTable t = new TimestampTable();
    for (int i = 1; i <= TimestampTable.WAYS; i++) {
      t.remember(p, i);
    }
    assertEquals(1, t.lookup(p), "the oldest first");
    t.remember(p, 99); // replaces the taken entry, not a waiting one
    for (int i = 2; i <= TimestampTable.WAYS; i++) {
      assertEquals(i, t.lookup(p));
    }
    assertEquals(99, t.lookup(p));
    t.remember(p, 100); // the set is full of taken entries
    t.remember(p, 101);
    assertEquals(100, t.lookup(p));
    assertEquals(101, t.lookup(p));
  }

  // ------------------------------------------------------------------ HostConfig

  @Test
  void propertiesAreCheckedAndNamed() throws DivertException {
    HostConfig c =
        HostConfig.parse(
            HostOptions.builder()
                .property("pcap.outside", "a")
                .property("pcap.inside", "b")
                .property("pcap.address", "10.1.2.3/24")
                .property("pcap.routes", "10.1.2.0/24, 192.168.0.0/16")
                .build());
    assertEquals(Ipv4.parseInt("10.1.2.3"), c.address);
    assertEquals(24, c.prefixLength);
    assertTrue(HostConfig.matches(c.routes, Ipv4.parseInt("192.168.9.9")));
    assertFalse(HostConfig.matches(c.routes, Ipv4.parseInt("203.0.113.9")));
    assertFalse(c.savefile());
    DivertException e =
        assertThrows(
            DivertException.class,
            () ->
                HostConfig.parse(
                    HostOptions.builder()
                        .property("pcap.input", "in.pcap")
                        .property("pcap.output", "out.pcap")
                        .property("pcap.mtu", "70000")
                        .build()));
    assertTrue(e.getMessage().contains("pcap.mtu"), e.getMessage());
    e =
        assertThrows(
            DivertException.class,
            () ->
                HostConfig.parse(
                    HostOptions.builder()
                        .property("pcap.input", "in.pcap")
                        .property("pcap.output", "out.pcap")
                        .property("pcap.start", "later")
                        .build()));
    assertTrue(e.getMessage().contains("pcap.start"), e.getMessage());
    e =
        assertThrows(
            DivertException.class,
            () ->
                HostConfig.parse(
                    HostOptions.builder()
                        .property("pcap.outside", "a")
                        .property("pcap.inside", "b")
                        .property("pcap.routes", "10.0.0.0/33")
                        .build()));
    assertTrue(e.getMessage().contains("pcap.routes"), e.getMessage());
  }
}
