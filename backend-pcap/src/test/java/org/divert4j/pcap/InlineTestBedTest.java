package org.divert4j.pcap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import org.divert4j.Chain;
import org.divert4j.Direction;
import org.divert4j.DivertAddress;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.NetInterface;
import org.divert4j.PacketTooLargeException;
import org.divert4j.PermissionException;
import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.spi.Availability;
import org.divert4j.testbed.Datagram;
import org.divert4j.testbed.PacketCapture;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The inline segment in the namespace test bed ({@code peer | bridge | host}): traffic crosses it,
 * is diverted both ways, and the test bed leaves nothing behind. Needs root; skips with the reason
 * otherwise. The TCK checks the rest of the semantics.
 */
class InlineTestBedTest {
  private static final Duration T = Duration.ofSeconds(5);
  private final PcapProvider provider = new PcapProvider();

  @BeforeEach
  void needRoot() {
    Availability a = provider.availability();
    assumeTrue(Shell.isRoot(), "the pcap test bed needs root (network namespaces)");
    assumeTrue(a.available(), "the pcap backend is unavailable: " + a.reason());
  }

  @AfterEach
  void nothingLeftBehind() throws Exception {
    String mine = "d4jp-" + ProcessHandle.current().pid() + "-";
    for (String n : Netns.list()) {
      assertFalse(n.startsWith(mine) && !n.contains("-cap-"), "namespace left behind: " + n);
    }
  }

  @Test
  void trafficCrossesTheSegmentBothWays() throws Exception {
    try (TestBed bed = provider.testBed(TestBedOptions.defaults())) {
      assertTrue(bed.peer().ping(bed.hostNode().address(), 56, T), "peer pings host");
      assertTrue(bed.hostNode().ping(bed.peer().address(), 56, T), "host pings peer");
      assertTrue(bed.peer().ping(bed.hostNode().address(), 4000, T), "fragmented ping");
      try (UdpEndpoint e = bed.hostNode().openUdp(7000)) {
        byte[] data = new byte[3000];
        data[2999] = 42;
        bed.peer().sendUdp(bed.hostNode().address(), 7001, 7000, data);
        Datagram d = e.receive(T);
        assertNotNull(d, "the datagram crossed: " + bed);
        assertArrayEquals(data, d.payload());
      }
    }
  }

  @Test
  void packetsAreDivertedOnInputAndOutputAndWrittenBack() throws Exception {
    try (TestBed bed = provider.testBed(TestBedOptions.defaults());
        UdpEndpoint atHost = bed.hostNode().openUdp(7000);
        UdpEndpoint atPeer = bed.peer().openUdp(7000)) {
      bed.host().addRule(DivertRule.parse("input -p udp --dport 7000 -j DIVERT 4100"));
      bed.host().addRule(DivertRule.parse("output -p udp --dport 7000 -j DIVERT 4100"));
      try (DivertSocket s = bed.host().bind(4100)) {
        ByteBuffer buf = ByteBuffer.allocate(65535);
        bed.peer().sendUdp(bed.hostNode().address(), 7001, 7000, new byte[] {1, 2, 3});
        DivertAddress in = s.receive(buf.clear(), T);
        assertNotNull(in, "diverted on input");
        assertEquals(Chain.INPUT, in.chain().orElseThrow());
        NetInterface outside = bed.host().interfaces().get(0);
        assertEquals(outside.name(), in.interfaceName());
        assertEquals(bed.hostNode().address(), in.interfaceAddress());
        assertNull(atHost.receive(Duration.ofMillis(200)), "held, not delivered");
        s.send(buf.flip(), in);
        assertNotNull(atHost.receive(T), "written back: delivered");

        bed.hostNode().sendUdp(bed.peer().address(), 7001, 7000, new byte[] {4, 5, 6});
        DivertAddress out = s.receive(buf.clear(), T);
        assertNotNull(out, "diverted on output");
        assertEquals(Direction.OUTBOUND, out.direction());
        s.send(buf.flip(), out);
        assertNotNull(atPeer.receive(T), "written back: delivered to the peer");
        assertEquals(2, s.stats().reinjected());
        assertEquals(0, s.stats().dropped(DropReason.CAPTURE));
      }
    }
  }

  @Test
  void theOutsideMtuIsEnforcedAndInboundDeliveriesAreFragmented() throws Exception {
    try (TestBed bed = provider.testBed(TestBedOptions.builder().peerMtu(1280).build());
        PacketCapture wire = bed.hostNode().capture();
        UdpEndpoint atHost = bed.hostNode().openUdp(7000);
        DivertSocket s = bed.host().bind(4100)) {
      assertEquals(1280, bed.host().interfaces().get(0).mtu(), "read from the system");
      byte[] big = udp(bed, 1281, bed.hostNode().address(), bed.peer().address());
      PacketTooLargeException e =
          assertThrows(PacketTooLargeException.class, () -> s.send(ByteBuffer.wrap(big)));
      assertEquals(1280, e.mtu());
      byte[] inbound = udp(bed, 5000, bed.peer().address(), bed.hostNode().address());
      s.send(ByteBuffer.wrap(inbound), DivertAddress.inbound(bed.hostNode().address()));
      Datagram d = atHost.receive(T);
      assertNotNull(d, "a 5000-byte datagram injected inbound arrives (S53)");
      List<byte[]> frags = wire.await(p -> p.length > 1000, 4, T);
      assertTrue(frags.stream().allMatch(p -> p.length <= 1280), "fragmented to the inside MTU");
    }
  }

  @Test
  void anUnprivilegedOpenNamesTheMissingCapability() throws Exception {
    try (TestBed bed = provider.testBed(TestBedOptions.defaults())) {
      PermissionException e =
          assertThrows(PermissionException.class, () -> bed.openUnprivileged(bed.options().host()));
      assertEquals(List.of("CAP_NET_RAW"), e.missing());
      assertTrue(e.getMessage().contains("CAP_NET_RAW"), e.getMessage());
      assertTrue(bed.peer().ping(bed.hostNode().address(), 56, T), "the bed still works");
    }
  }

  /**
   * A frame the segment cannot send is counted as TRANSMIT in host statistics, not lost: the inside
   * MTU is lowered after the segment read it, so a 1428-byte datagram passes the engine and {@code
   * pcap_inject} refuses it on in0 (EMSGSIZE: larger than the egress MTU).
   */
  @Test
  void aFrameLargerThanTheEgressMtuIsCountedAsATransmitDrop() throws Exception {
    try (org.divert4j.pcap.testbed.PcapTestBed bed =
            org.divert4j.pcap.testbed.PcapTestBed.create(TestBedOptions.defaults());
        UdpEndpoint atHost = bed.hostNode().openUdp(7000)) {
      assertEquals(0, bed.host().stats().dropped(DropReason.TRANSMIT));
      bed.segmentNamespace().ip("link", "set", "in0", "mtu", "1280");
      bed.peer().sendUdp(bed.hostNode().address(), 7001, 7000, new byte[1400]);
      assertNull(atHost.receive(Duration.ofMillis(500)), "too large for the wire to the host");
      long deadline = System.nanoTime() + T.toNanos();
      while (bed.host().stats().dropped(DropReason.TRANSMIT) == 0 && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertEquals(1, bed.host().stats().dropped(DropReason.TRANSMIT), bed.toString());
      bed.peer().sendUdp(bed.hostNode().address(), 7001, 7000, new byte[100]);
      assertNotNull(atHost.receive(T), "a datagram that fits still crosses");
      assertEquals(1, bed.host().stats().dropped(DropReason.TRANSMIT));
    }
  }

  @Test
  void closeIsIdempotentAndRemovesTheNamespaces() throws Exception {
    TestBed bed = provider.testBed(TestBedOptions.defaults());
    String hostNs = ((org.divert4j.pcap.internal.PcapHost) bed.host()).toString();
    bed.close();
    bed.close();
    String mine = "d4jp-" + ProcessHandle.current().pid() + "-";
    for (String n : Netns.list()) {
      assertFalse(n.startsWith(mine) && !n.contains("-cap-"), n + " after close of " + hostNs);
    }
  }

  private static byte[] udp(
      TestBed bed, int size, java.net.Inet4Address src, java.net.Inet4Address dst) {
    ByteBuffer b =
        org.divert4j.packet.Ipv4Builder.udp(7001, 7000)
            .source(org.divert4j.Ipv4.toInt(src))
            .destination(org.divert4j.Ipv4.toInt(dst))
            .identification(77)
            .payload(new byte[size - 28])
            .build();
    byte[] a = new byte[b.remaining()];
    b.get(a);
    return a;
  }
}
