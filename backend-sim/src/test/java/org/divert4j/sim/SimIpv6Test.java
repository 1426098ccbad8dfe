package org.divert4j.sim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.AddressNotAvailableException;
import org.divert4j.Capability;
import org.divert4j.Chain;
import org.divert4j.DivertAddress;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.IpFamily;
import org.divert4j.Ipv6Addresses;
import org.divert4j.MalformedPacketException;
import org.divert4j.NetInterface;
import org.divert4j.NoRouteException;
import org.divert4j.PacketBatch;
import org.divert4j.PacketTooLargeException;
import org.divert4j.packet.Defect;
import org.divert4j.packet.Ipv6Builder;
import org.divert4j.packet.Ipv6View;
import org.divert4j.testbed.Datagram;
import org.divert4j.testbed.PacketCapture;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.Test;

/** The simulation and the shared engine with IPv6 (SEMANTICS.md section K). */
class SimIpv6Test {
  private static final Duration NOW = Duration.ZERO;
  private static final InetAddress HOST6 = Ipv6Addresses.parse("fd00:1::1");
  private static final InetAddress PEER6 = Ipv6Addresses.parse("fd00:1::2");
  private static final InetAddress FAR6 = Ipv6Addresses.parse("fd00:2::2");

  private static TestBed bed(FragmentMode mode, boolean far) throws Exception {
    return new SimProvider()
        .testBed(
            TestBedOptions.builder()
                .host(HostOptions.builder().fragments(mode).build())
                .farPeer(far)
                .farPeerMtu(1400)
                .build());
  }

  private static byte[] pattern(int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) (i * 13 + 1);
    }
    return b;
  }

  @Test
  void everyInterfaceHasBothFamiliesAndALinkLocalAddressLast() throws Exception {
    try (TestBed bed = bed(FragmentMode.PER_FRAGMENT, true)) {
      assertTrue(bed.capabilities().contains(Capability.IPV6));
      assertEquals(HOST6, bed.hostNode().address(IpFamily.IPV6).orElseThrow());
      assertEquals(PEER6, bed.peer().address(IpFamily.IPV6).orElseThrow());
      assertEquals(FAR6, bed.farPeer().orElseThrow().address(IpFamily.IPV6).orElseThrow());
      NetInterface eth0 = bed.host().interfaces().get(1);
      assertEquals("eth0", eth0.name());
      assertEquals("[10.0.1.1/24, fd00:1::1/64, fe80::1:2/64]", eth0.addresses().toString());
      NetInterface eth1 = bed.host().interfaces().get(2);
      assertEquals("[10.0.2.1/24, fd00:2::1/64, fe80::1:3/64]", eth1.addresses().toString());
      assertTrue(bed.host().interfaces().get(0).hasAddress(Ipv6Addresses.parse("::1")));
    }
  }

  @Test
  void ping6CrossesLinksAndTheForwardingHost() throws Exception {
    try (TestBed bed = bed(FragmentMode.PER_FRAGMENT, true)) {
      assertTrue(bed.peer().ping(HOST6, 56, NOW));
      assertTrue(bed.hostNode().ping(PEER6, 56, NOW));
      assertTrue(bed.peer().ping(FAR6, 56, NOW), "routed through the host");
      assertTrue(bed.peer().ping(scoped("fe80::1:2", 2), 56, NOW), "link-local");
      assertFalse(bed.peer().ping(Ipv6Addresses.parse("fd00:1::99"), 56, NOW), "nobody");
    }
  }

  @Test
  void udp6IsDivertedOnInputWithTheInterfacesIpv6AddressAndWrittenBack() throws Exception {
    try (TestBed bed = bed(FragmentMode.PER_FRAGMENT, false);
        UdpEndpoint sink = bed.hostNode().openUdp(9000);
        DivertSocket s = bed.host().bind(7000)) {
      bed.host().addRule(DivertRule.parse("input -6 -p udp --dport 9000 -j DIVERT 7000"));
      bed.peer().sendUdp(HOST6, 1234, 9000, pattern(100));
      ByteBuffer buf = ByteBuffer.allocate(70000);
      DivertAddress a = s.receive(buf, NOW);
      assertNotNull(a);
      assertEquals(Chain.INPUT, a.chain().orElseThrow());
      assertEquals("eth0", a.interfaceName());
      assertEquals(HOST6, a.interfaceAddress(), "S55: the interface's first IPv6 address");
      assertEquals(IpFamily.IPV6, a.interfaceFamily());
      assertNull(sink.receive(NOW), "taken out of the stack");
      buf.flip();
      assertEquals(6, (buf.get(0) & 0xff) >>> 4);
      s.send(buf, a);
      Datagram d = sink.receive(NOW);
      assertNotNull(d);
      assertEquals(PEER6, d.source());
      assertArrayEquals(pattern(100), d.payload());
    }
  }

  @Test
  void batchesRecordTheIpv6InterfaceAddress() throws Exception {
    try (TestBed bed = bed(FragmentMode.PER_FRAGMENT, false);
        UdpEndpoint sink = bed.hostNode().openUdp(9000);
        DivertSocket s = bed.host().bind(7000)) {
      bed.host().addRule(DivertRule.parse("input -p udp --dport 9000 -j DIVERT 7000"));
      bed.peer().sendUdp(HOST6, 1234, 9000, pattern(10));
      bed.peer().sendUdp(bed.hostNode().address(), 1234, 9000, pattern(11));
      PacketBatch batch = PacketBatch.allocate(4);
      assertEquals(2, s.receive(batch, NOW));
      assertEquals(HOST6, batch.interfaceAddress6(0));
      assertEquals(0, batch.interfaceAddressBits(0));
      assertNull(batch.interfaceAddress6(1));
      assertEquals(bed.hostNode().address(), batch.address(1).interfaceAddress());
      assertEquals(2, s.send(batch));
      assertEquals(10, sink.receive(NOW).payload().length);
      assertEquals(11, sink.receive(NOW).payload().length);
    }
  }

  @Test
  void icmpv6EchoRepliesAreDivertedOnOutputAndWrittenBack() throws Exception {
    try (TestBed bed = bed(FragmentMode.PER_FRAGMENT, false);
        DivertSocket s = bed.host().bind(7001)) {
      bed.host().addRule(DivertRule.parse("output -p icmpv6 --icmpv6-type 129 -j DIVERT 7001"));
      Thread echo =
          new Thread(
              () -> {
                try {
                  ByteBuffer buf = ByteBuffer.allocate(2048);
                  DivertAddress a = s.receive(buf, Duration.ofSeconds(10));
                  if (a != null) {
                    assertEquals(Chain.OUTPUT, a.chain().orElseThrow());
                    assertNull(a.interfaceAddress6(), "S6: no interface address outbound");
                    buf.flip();
                    s.send(buf, a);
                  }
                } catch (Exception e) {
                  throw new AssertionError(e);
                }
              });
      echo.start();
      assertTrue(bed.peer().ping(HOST6, 56, Duration.ofSeconds(10)));
      echo.join();
      assertEquals(1, s.stats().received());
    }
  }

  @Test
  void injectionDirectionFollowsS60() throws Exception {
    try (TestBed bed = bed(FragmentMode.PER_FRAGMENT, false);
        UdpEndpoint hostSink = bed.hostNode().openUdp(9000);
        UdpEndpoint peerSink = bed.peer().openUdp(9000);
        DivertSocket s = bed.host().bind(7000)) {
      ByteBuffer toHost =
          Ipv6Builder.udp(5, 9000).source("fd00:1::2").destination("fd00:1::1").build();
      s.send(toHost.duplicate(), DivertAddress.inbound(HOST6));
      assertNotNull(hostSink.receive(NOW), "a local interface address injects inbound");
      s.send(toHost.duplicate(), DivertAddress.inbound(Ipv6Addresses.parse("fe80::1:2")));
      assertNotNull(hostSink.receive(NOW), "so does its link-local address");
      assertThrows(
          AddressNotAvailableException.class,
          () ->
              s.send(toHost.duplicate(), DivertAddress.inbound(Ipv6Addresses.parse("fd00:9::1"))));
      ByteBuffer toPeer =
          Ipv6Builder.udp(5, 9000).source("fd00:1::1").destination("fd00:1::2").build();
      s.send(toPeer.duplicate(), DivertAddress.inbound(Ipv6Addresses.ANY));
      assertNotNull(peerSink.receive(NOW), ":: injects outbound, routed by the destination");
      ByteBuffer linkLocal =
          Ipv6Builder.udp(5, 9000).source("fe80::1:2").destination("fe80::2:2").build();
      NoRouteException e =
          assertThrows(
              NoRouteException.class, () -> s.send(linkLocal.duplicate(), DivertAddress.OUTBOUND));
      assertEquals(Ipv6Addresses.parse("fe80::2:2"), e.destination());
    }
  }

  @Test
  void aLinkLocalDestinationLeavesByTheInterfaceOfItsDivertAddress() throws Exception {
    try (TestBed bed = bed(FragmentMode.PER_FRAGMENT, true);
        UdpEndpoint peerSink = bed.peer().openUdp(9000);
        DivertSocket s = bed.host().bind(7000)) {
      bed.host().addRule(DivertRule.parse("output -6 -p udp -j DIVERT 7000"));
      bed.hostNode().sendUdp(scoped("fe80::2:2", 2), 5, 9000, pattern(20));
      ByteBuffer buf = ByteBuffer.allocate(2048);
      DivertAddress a = s.receive(buf, NOW);
      assertNotNull(a);
      buf.flip();
      s.send(buf, a);
      Datagram d = peerSink.receive(NOW);
      assertNotNull(d, "out of eth0, where the packet was diverted");
      assertEquals(Ipv6Addresses.parse("fe80::1:2"), d.source());
    }
  }

  @Test
  void sendsAreFixedUpOnlyInThePayloadLength() throws Exception {
    try (TestBed bed = bed(FragmentMode.PER_FRAGMENT, false);
        PacketCapture wire = bed.peer().capture();
        DivertSocket s = bed.host().bind(7000)) {
      ByteBuffer p =
          Ipv6Builder.udp(5, 9000)
              .source("fd00:1::1")
              .destination("fd00:1::2")
              .hopLimit(7)
              .trafficClass(0x28)
              .flowLabel(0x12345)
              .payload(pattern(30))
              .build();
      byte[] expected = p.array().clone();
      p.putShort(4, (short) 999); // S61: replaced by the bytes written minus 40
      s.send(p, DivertAddress.OUTBOUND);
      List<byte[]> frames = wire.packets();
      assertEquals(1, frames.size());
      assertArrayEquals(expected, frames.get(0));
    }
  }

  @Test
  void malformedIpv6IsRefusedNamingTheDefectAndTheSocketKeepsWorking() throws Exception {
    try (TestBed bed = bed(FragmentMode.PER_FRAGMENT, false);
        UdpEndpoint peerSink = bed.peer().openUdp(9000);
        DivertSocket s = bed.host().bind(7000)) {
      ByteBuffer shortOne = ByteBuffer.allocate(30);
      shortOne.put(0, (byte) 0x60);
      MalformedPacketException e =
          assertThrows(
              MalformedPacketException.class, () -> s.send(shortOne, DivertAddress.OUTBOUND));
      assertEquals(Defect.IPV6_TOO_SHORT, e.defect());
      ByteBuffer pastEnd =
          Ipv6Builder.raw(Ipv6View.NEXT_HOP_BY_HOP)
              .source("fd00:1::1")
              .destination("fd00:1::2")
              .payload(new byte[] {17, 5})
              .build();
      e =
          assertThrows(
              MalformedPacketException.class, () -> s.send(pastEnd, DivertAddress.OUTBOUND));
      assertEquals(Defect.EXTENSION_HEADER_PAST_END, e.defect());
      s.send(
          Ipv6Builder.udp(5, 9000).source("fd00:1::1").destination("fd00:1::2").build(),
          DivertAddress.OUTBOUND);
      assertNotNull(peerSink.receive(NOW));
    }
  }

  @Test
  void perFragmentRefusesAnyIpv6PacketOverTheMtuWithTheMtu() throws Exception {
    try (TestBed bed = bed(FragmentMode.PER_FRAGMENT, false);
        UdpEndpoint peerSink = bed.peer().openUdp(9000);
        DivertSocket s = bed.host().bind(7000)) {
      int mtu = bed.host().interfaces().get(1).mtu();
      ByteBuffer fits = udpToPeer(mtu - 48);
      assertEquals(mtu, fits.remaining());
      s.send(fits, DivertAddress.OUTBOUND);
      assertNotNull(peerSink.receive(NOW), "S28: exactly the MTU is sent");
      PacketTooLargeException e =
          assertThrows(
              PacketTooLargeException.class,
              () -> s.send(udpToPeer(mtu - 47), DivertAddress.OUTBOUND));
      assertEquals(mtu, e.mtu());
      assertNull(peerSink.receive(NOW));
    }
  }

  @Test
  void alwaysDefragmentFragmentsAnInjectedDatagramWithANewIdentification() throws Exception {
    try (TestBed bed = bed(FragmentMode.ALWAYS_DEFRAGMENT, false);
        UdpEndpoint peerSink = bed.peer().openUdp(9000);
        PacketCapture wire = bed.peer().capture();
        DivertSocket s = bed.host().bind(7000)) {
      s.send(udpToPeer(3000), DivertAddress.OUTBOUND);
      Datagram d = peerSink.receive(NOW);
      assertNotNull(d);
      assertArrayEquals(pattern(3000), d.payload());
      List<byte[]> frames = wire.packets();
      assertEquals(3, frames.size());
      Ipv6View v = new Ipv6View();
      for (byte[] f : frames) {
        v.wrap(ByteBuffer.wrap(f));
        assertTrue(f.length <= 1500);
        assertTrue(v.hasFragmentHeader());
        assertNotEquals(0, v.fragmentIdentification());
      }
    }
  }

  @Test
  void perFragmentDeliversEachIpv6FragmentUnchangedAndTheyArriveWhole() throws Exception {
    try (TestBed bed = bed(FragmentMode.PER_FRAGMENT, false);
        UdpEndpoint sink = bed.hostNode().openUdp(9000);
        PacketCapture wire = bed.hostNode().capture();
        DivertSocket s = bed.host().bind(7000)) {
      bed.host().addRule(DivertRule.parse("input -6 -j DIVERT 7000"));
      bed.peer().sendUdp(HOST6, 1234, 9000, pattern(3000));
      List<byte[]> onWire = wire.packets();
      assertEquals(3, onWire.size(), "S57: the peer's stack fragmented it");
      List<ByteBuffer> got = new ArrayList<>();
      List<DivertAddress> addresses = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        ByteBuffer b = ByteBuffer.allocate(2048);
        addresses.add(s.receive(b, NOW));
        b.flip();
        assertArrayEquals(onWire.get(i), bytes(b), "S57: unchanged");
        got.add(b);
      }
      assertNull(s.receive(ByteBuffer.allocate(2048), NOW));
      assertNull(sink.receive(NOW));
      for (int i = 0; i < 3; i++) {
        s.send(got.get(i), addresses.get(i));
      }
      Datagram d = sink.receive(NOW);
      assertNotNull(d, "S17: written back unchanged, the datagram arrives whole");
      assertArrayEquals(pattern(3000), d.payload());
    }
  }

  @Test
  void perFragmentTheOutputChainSeesTheFragmentsTheHostMade() throws Exception {
    try (TestBed bed = bed(FragmentMode.PER_FRAGMENT, false);
        UdpEndpoint peerSink = bed.peer().openUdp(9000);
        DivertSocket s = bed.host().bind(7000)) {
      bed.host().addRule(DivertRule.parse("output -6 -j DIVERT 7000"));
      bed.hostNode().sendUdp(PEER6, 1234, 9000, pattern(3000));
      Ipv6View v = new Ipv6View();
      for (int i = 0; i < 3; i++) {
        ByteBuffer b = ByteBuffer.allocate(4096);
        DivertAddress a = s.receive(b, NOW);
        assertNotNull(a);
        b.flip();
        assertTrue(b.remaining() <= 1500, "S19, S57: at most the MTU");
        assertTrue(v.wrap(b).hasFragmentHeader());
        s.send(b, a);
      }
      assertArrayEquals(pattern(3000), peerSink.receive(NOW).payload());
    }
  }

  @Test
  void alwaysDefragmentDeliversOneWholeDatagramAndRefragmentsItWrittenBack() throws Exception {
    try (TestBed bed = bed(FragmentMode.ALWAYS_DEFRAGMENT, true);
        UdpEndpoint farSink = bed.farPeer().orElseThrow().openUdp(9000);
        DivertSocket s = bed.host().bind(7000)) {
      bed.host().addRule(DivertRule.parse("forward -6 -p udp --dport 9000 -j DIVERT 7000"));
      bed.peer().sendUdp(FAR6, 1234, 9000, pattern(3000));
      ByteBuffer b = ByteBuffer.allocate(70000);
      DivertAddress a = s.receive(b, NOW);
      assertNotNull(a);
      assertNull(s.receive(ByteBuffer.allocate(70000), NOW), "S58: exactly once");
      b.flip();
      Ipv6View v = new Ipv6View().wrap(b);
      assertFalse(v.hasFragmentHeader(), "S58: no Fragment header");
      assertEquals(3008, v.payloadLength());
      s.send(b, a);
      Datagram d = farSink.receive(NOW);
      assertNotNull(d, "S58: fragmented again to the far link's MTU, arrives intact");
      assertArrayEquals(pattern(3000), d.payload());
    }
  }

  @Test
  void anAtomicFragmentIsDeliveredAsItIs() throws Exception {
    try (TestBed bed = bed(FragmentMode.ALWAYS_DEFRAGMENT, false);
        DivertSocket s = bed.host().bind(7000)) {
      bed.host().addRule(DivertRule.parse("input -6 -j DIVERT 7000"));
      ByteBuffer atomic =
          Ipv6Builder.udp(5, 9000)
              .source("fd00:1::2")
              .destination("fd00:1::1")
              .fragmentHeader(0, false, 77)
              .payload(pattern(10))
              .build();
      bed.peer().sendRaw(atomic.duplicate());
      ByteBuffer b = ByteBuffer.allocate(2048);
      assertNotNull(s.receive(b, NOW));
      b.flip();
      assertArrayEquals(atomic.array(), bytes(b), "RFC 6946");
    }
  }

  private static ByteBuffer udpToPeer(int payload) {
    return Ipv6Builder.udp(5, 9000)
        .source("fd00:1::1")
        .destination("fd00:1::2")
        .payload(pattern(payload))
        .build();
  }

  private static InetAddress scoped(String linkLocal, int scope) throws Exception {
    return Inet6Address.getByAddress(null, Ipv6Addresses.parse(linkLocal).getAddress(), scope);
  }

  private static byte[] bytes(ByteBuffer b) {
    byte[] a = new byte[b.remaining()];
    b.get(b.position(), a);
    return a;
  }
}
