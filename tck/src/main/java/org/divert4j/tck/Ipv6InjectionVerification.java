package org.divert4j.tck;

import static org.divert4j.tck.Ipv6Verification.probe6;
import static org.divert4j.tck.Packets.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.divert4j.AddressNotAvailableException;
import org.divert4j.Capability;
import org.divert4j.DivertAddress;
import org.divert4j.DivertSocket;
import org.divert4j.Ipv6Addresses;
import org.divert4j.MalformedPacketException;
import org.divert4j.NetInterface;
import org.divert4j.NoRouteException;
import org.divert4j.PacketTooLargeException;
import org.divert4j.packet.Checksums;
import org.divert4j.packet.Defect;
import org.divert4j.packet.Ipv6Builder;
import org.divert4j.tck.Probe.Received;
import org.divert4j.testbed.PacketCapture;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.Test;

/**
 * Area K of SEMANTICS.md: injecting IPv6 packets (S59-S62). Every test needs {@link
 * Capability#IPV6}; a backend that does not declare it has them skipped with the reason.
 */
@SpecArea(id = "K", title = "IPv6")
public class Ipv6InjectionVerification extends TckVerification {
  /** For the JUnit engine and subclasses. */
  public Ipv6InjectionVerification() {}

  /** Documentation prefix (RFC 3849): never an address of a test bed host. */
  static final InetAddress NOT_LOCAL6 = Ipv6Addresses.parse("2001:db8::77");

  /** A link-local destination: routable only out of a named interface. */
  static final InetAddress LINK_LOCAL_PEER = Ipv6Addresses.parse("fe80::2");

  /** A UDP datagram of {@code size} bytes in all (40 + 8 + data). */
  static byte[] udpOfSize(Probe p, InetAddress src, InetAddress dst, int size, int seed) {
    return Packets6.udp(src, dst, SRC_PORT, UDP_PORT, pattern(size - 48, seed));
  }

  /**
   * <b>S59</b>: in per-fragment mode every IPv6 packet longer than the egress MTU is refused with
   * "packet too large" carrying the MTU: a 1501-byte datagram over MTU 1500 is refused with MTU
   * 1500 and length 1501, and nothing reaches the wire; a 1500-byte one is sent and reaches the
   * peer. IPv6 has no Don't Fragment flag to consult: the limit holds for every packet.
   *
   * <p>If it fails: the backend fragments IPv6 injections in per-fragment mode, or the kernel's
   * EMSGSIZE from the {@code IPV6_HDRINCL} socket is not turned into {@link
   * PacketTooLargeException} with the MTU.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S59", capabilities = Capability.IPV6)
  public void S59_oversizeIpv6InjectionIsRefusedWithTheMtu(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        PacketCapture wire = bed.peer().capture();
        UdpEndpoint endpoint = bed.peer().openUdp(UDP_PORT);
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe6(bed, tck);
      byte[] big = udpOfSize(p, p.host(), p.peer(), 1501, 59);
      PacketTooLargeException e =
          assertThrows(
              PacketTooLargeException.class,
              () -> socket.send(ByteBuffer.wrap(big), DivertAddress.OUTBOUND),
              "a 1501-byte IPv6 packet over MTU 1500 must be refused");
      assertEquals(1500, e.mtu(), "the error must carry the MTU: " + e.getMessage());
      assertEquals(1501, e.length(), "the error must carry the length: " + e.getMessage());
      p.expectNotCaptured(wire, Probe.udpTo(UDP_PORT), "the refused packet");
      byte[] exact = udpOfSize(p, p.host(), p.peer(), 1500, 60);
      socket.send(ByteBuffer.wrap(exact), DivertAddress.OUTBOUND);
      p.datagram(endpoint, Packets6.udpData(exact), "the 1500-byte IPv6 packet");
    }
  }

  /**
   * <b>S59</b>: inbound injection is limited only by S31 (S53): a 4048-byte IPv6 datagram injected
   * inbound over a 1500-byte link reaches the host's endpoint. A jumbogram (hop-by-hop Jumbo
   * Payload option, payload length 0, 65,600 bytes) is refused, inbound and outbound, either as too
   * large ({@link PacketTooLargeException}) or as malformed with the defect {@link
   * Defect#JUMBOGRAM}, and the socket keeps working.
   *
   * <p>If it fails: the backend applies the MTU to inbound injections, or passes a jumbogram on.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S59", capabilities = Capability.IPV6)
  public void S59_inboundInjectionHasNoMtuAndJumbogramsAreRefused(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT);
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe6(bed, tck);
      byte[] jumbo = jumbogram(p.peer(), p.host());
      for (DivertAddress way : List.of(DivertAddress.OUTBOUND, DivertAddress.inbound(p.host()))) {
        try {
          socket.send(ByteBuffer.wrap(jumbo), way);
          fail("a jumbogram must be refused (" + way + ")");
        } catch (PacketTooLargeException e) {
          assertEquals(jumbo.length, e.length(), "the refused length: " + e.getMessage());
        } catch (MalformedPacketException e) {
          assertEquals(Defect.JUMBOGRAM, e.defect(), "the defect named: " + e.getMessage());
        }
      }
      byte[] large = udpOfSize(p, p.peer(), p.host(), 4048, 61);
      socket.send(ByteBuffer.wrap(large), DivertAddress.inbound(p.host()));
      p.datagram(endpoint, Packets6.udpData(large), "the 4048-byte datagram injected inbound");
    }
  }

  /**
   * A jumbogram (RFC 2675): payload length 0, a hop-by-hop header with the Jumbo Payload option
   * (type 0xC2, length 4) whose value is the length after the fixed header, then UDP.
   */
  private static byte[] jumbogram(InetAddress src, InetAddress dst) {
    int after = 8 + 8 + 65_544;
    byte[] b = new byte[40 + after];
    b[0] = 0x60;
    b[6] = (byte) Packets6.HOP_BY_HOP;
    b[7] = 64;
    System.arraycopy(src.getAddress(), 0, b, 8, 16);
    System.arraycopy(dst.getAddress(), 0, b, 24, 16);
    b[40] = (byte) Packets6.UDP;
    b[41] = 0;
    b[42] = (byte) 0xc2;
    b[43] = 4;
    Packets.put32(b, 44, after);
    Packets.put16(b, 48, SRC_PORT);
    Packets.put16(b, 50, UDP_PORT);
    return b;
  }

  /**
   * <b>S60</b>: the unspecified address {@code ::}, like no address or {@code OUTBOUND}, injects
   * outbound, routed by the destination: three IPv6 datagrams to the peer sent each way arrive.
   *
   * <p>If it fails: {@code ::} is taken as an interface address (refused or injected inbound).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S60", capabilities = Capability.IPV6)
  public void S60_unspecifiedAddressInjectsOutbound(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.peer().openUdp(UDP_PORT);
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe6(bed, tck);
      byte[] a = Packets6.udp(p.host(), p.peer(), SRC_PORT, UDP_PORT, pattern(100, 1));
      byte[] b = Packets6.udp(p.host(), p.peer(), SRC_PORT, UDP_PORT, pattern(100, 2));
      byte[] c = Packets6.udp(p.host(), p.peer(), SRC_PORT, UDP_PORT, pattern(100, 3));
      socket.send(ByteBuffer.wrap(a));
      p.datagram(endpoint, Packets6.udpData(a), "the IPv6 datagram sent with no address");
      socket.send(ByteBuffer.wrap(b), DivertAddress.OUTBOUND);
      p.datagram(endpoint, Packets6.udpData(b), "the IPv6 datagram sent with OUTBOUND");
      socket.send(ByteBuffer.wrap(c), DivertAddress.inbound(Ipv6Addresses.ANY));
      p.datagram(endpoint, Packets6.udpData(c), "the IPv6 datagram sent with ::");
    }
  }

  /**
   * <b>S60</b>: a local interface address injects inbound on that interface: a datagram from the
   * peer injected with the host's IPv6 address arrives on the input chain on that interface (an
   * {@code -i} rule sees it) and, written back, at the host's endpoint; injected with the
   * interface's link-local address, when the test bed gave it one, it arrives the same way. Any
   * other address (2001:db8::77, the peer's address) is refused with "address not available".
   *
   * <p>If it fails: the backend looks only at IPv4 interface addresses, or injects outbound for an
   * address it does not know.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S60", capabilities = Capability.IPV6)
  public void S60_localAddressInjectsInboundOtherAddressesAreRefused(TckContext tck)
      throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT);
        DivertSocket injector = bed.host().bind(PORT)) {
      Probe p = probe6(bed, tck);
      NetInterface iface = p.bedInterface(p.host());
      List<InetAddress> locals = new ArrayList<>(List.of(p.host()));
      for (org.divert4j.IpPrefix a : iface.addresses()) {
        if (Ipv6Addresses.isLinkLocal6(a.address())) {
          locals.add(a.address());
        }
      }
      bed.host().addRule(rule("input -i " + iface.name() + " -p udp -j DIVERT " + PORT2));
      try (DivertSocket observer = bed.host().bind(PORT2)) {
        int seed = 0;
        for (InetAddress local : locals) {
          byte[] data = pattern(100, ++seed);
          byte[] packet = Packets6.udp(p.peer(), p.host(), SRC_PORT, UDP_PORT, data);
          injector.send(ByteBuffer.wrap(packet), DivertAddress.inbound(local));
          Received r = p.receive(observer, "the datagram injected with " + local);
          assertArrayEquals(packet, r.bytes(), "the injected datagram on input: " + r);
          assertEquals(iface.name(), r.address().interfaceName(), "on " + iface);
          p.writeBack(observer, r);
          p.datagram(endpoint, data, "the datagram injected inbound with " + local);
        }
      }
      byte[] packet = Packets6.udp(p.peer(), p.host(), SRC_PORT, UDP_PORT, pattern(100, 60));
      for (InetAddress bad : List.of(NOT_LOCAL6, p.peer())) {
        AddressNotAvailableException e =
            assertThrows(
                AddressNotAvailableException.class,
                () -> injector.send(ByteBuffer.wrap(packet), DivertAddress.inbound(bad)),
                bad.getHostAddress() + " is not an address of the host");
        assertEquals(bad, e.address(), "the error must name the address: " + e.getMessage());
      }
      p.expectNoDatagram(endpoint, "refused injections never arrive");
    }
  }

  /**
   * <b>S60</b>: a link-local destination with no interface (sent outbound with no divert address of
   * a received packet) is refused with "no route" naming the destination, and nothing is sent.
   *
   * <p>If it fails: the backend picks an interface for a link-local destination by itself.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S60", capabilities = Capability.IPV6)
  public void S60_linkLocalDestinationWithNoInterfaceHasNoRoute(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        PacketCapture wire = bed.peer().capture();
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe6(bed, tck);
      byte[] lost = Packets6.udp(p.host(), LINK_LOCAL_PEER, SRC_PORT, UDP_PORT, pattern(64, 1));
      NoRouteException e =
          assertThrows(
              NoRouteException.class,
              () -> socket.send(ByteBuffer.wrap(lost), DivertAddress.OUTBOUND),
              "a link-local destination with no interface has no route");
      assertEquals(LINK_LOCAL_PEER, e.destination(), "the error must name the destination");
      p.expectNotCaptured(wire, Probe.udpTo(UDP_PORT), "no route");
    }
  }

  /**
   * <b>S61</b>: the payload length is set to the bytes written minus 40: datagrams written with
   * payload length 0 and 10 too few cross the wire with the real length and reach the peer. Nothing
   * else changes: a datagram with traffic class 0xB8, flow label 0xABCDE, hop limit 7, a
   * destination-options header and a deliberately wrong UDP checksum crosses the wire
   * byte-identical (IPv6 has no header checksum to fix, and transport checksums are the program's).
   *
   * <p>If it fails: the backend trusts the payload length field (the kernel does not fill it for
   * {@code IPV6_HDRINCL}), or changes other fields (hop limit, flow label) or the checksum.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S61", capabilities = Capability.IPV6)
  public void S61_payloadLengthIsSetAndNothingElseChanges(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        PacketCapture wire = bed.peer().capture();
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe6(bed, tck);
      int[] lengthFor = {0, 308 - 10};
      for (int i = 0; i < lengthFor.length; i++) {
        int port = 7020 + i;
        byte[] b = Packets6.udp(p.host(), p.peer(), SRC_PORT, port, pattern(300, i));
        Packets.put16(b, 4, lengthFor[i]);
        try (UdpEndpoint endpoint = bed.peer().openUdp(port)) {
          socket.send(ByteBuffer.wrap(b), DivertAddress.OUTBOUND);
          p.datagram(endpoint, pattern(300, i), "sent with payload length " + lengthFor[i]);
        }
        byte[] w = p.await(wire, Probe.udpTo(port), 1, "the packet to port " + port).get(0);
        assertEquals(348, w.length, "bytes on the wire: " + Packets6.describe(w));
        assertEquals(308, Packets6.payloadLength(w), "payload length: " + Packets6.describe(w));
        Packets.put16(b, 4, 308);
        assertArrayEquals(b, w, "only the payload length may change: " + Packets6.describe(w));
      }
      byte[] odd =
          Packets6.bytes(
              Ipv6Builder.udp(SRC_PORT, 7030)
                  .source(p.host().getAddress())
                  .destination(p.peer().getAddress())
                  .trafficClass(0xb8)
                  .flowLabel(0xabcde)
                  .hopLimit(7)
                  .destinationOptions(new byte[6])
                  .payload(pattern(120, 61))
                  .build());
      int u = Packets6.walk(odd).offset();
      odd[u + 6] ^= 0x11;
      assertFalse(Packets6.udpChecksumValid(odd), "the TCK's own check of the broken checksum");
      socket.send(ByteBuffer.wrap(odd), DivertAddress.OUTBOUND);
      byte[] w = p.await(wire, Probe.udpTo(7030), 1, "the packet to port 7030").get(0);
      assertArrayEquals(
          odd, w, "nothing but the payload length is changed: " + Packets6.describe(w));
    }
  }

  /**
   * <b>S61</b>: a computed UDP checksum of 0 is sent as 0xFFFF (RFC 8200 section 8.1: a zero UDP
   * checksum is invalid over IPv6). The TCK crafts a datagram whose checksum computes to 0: it
   * takes a datagram with four zero data bytes and a correct checksum {@code c}, moves {@code c}
   * into the first two data bytes and clears the field, so that the one's-complement sum stays
   * 0xFFFF and its complement is 0. The API's {@code Checksums.udp6} must answer 0xFFFF and {@code
   * fillTransport6} store it; injected outbound and inbound, the datagram crosses the wire with
   * 0xFFFF, which the TCK's own check finds valid, and reaches the peer's and the host's UDP
   * endpoints (the Linux receiver drops a zero checksum over IPv6, {@code __udp6_lib_rcv}).
   *
   * <p>If it fails: the helper stores 0 (which receivers drop), or the backend changes the checksum
   * on the way.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S61", capabilities = Capability.IPV6)
  public void S61_aComputedUdpChecksumOfZeroIsSentAsFfff(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        PacketCapture wire = bed.peer().capture();
        UdpEndpoint peerEnd = bed.peer().openUdp(7040);
        UdpEndpoint hostEnd = bed.hostNode().openUdp(7041);
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe6(bed, tck);
      byte[] out = zeroChecksumUdp(p.host(), p.peer(), 7040);
      ByteBuffer b = ByteBuffer.wrap(out);
      assertEquals(0xffff, Checksums.udp6(b, 0), "a checksum that computes to 0 is 0xFFFF");
      assertTrue(Checksums.fillTransport6(b, 0), "fillTransport6 fills a whole UDP datagram");
      int u = Packets6.walk(out).offset();
      assertEquals(0xffff, Packets.get16(out, u + 6), "the field fillTransport6 stored");
      assertTrue(Packets6.udpChecksumValid(out), "the TCK's own check of 0xFFFF");
      socket.send(ByteBuffer.wrap(out), DivertAddress.OUTBOUND);
      p.datagram(peerEnd, Packets6.udpData(out), "the outbound datagram whose checksum is 0xFFFF");
      byte[] w = p.await(wire, Probe.udpTo(7040), 1, "the packet to port 7040").get(0);
      assertEquals(
          0xffff,
          Packets.get16(w, Packets6.walk(w).offset() + 6),
          "on the wire: " + Packets6.describe(w));
      assertArrayEquals(out, w, "the datagram crosses unchanged: " + Packets6.describe(w));
      byte[] in = zeroChecksumUdp(p.peer(), p.host(), 7041);
      assertTrue(Checksums.fillTransport6(ByteBuffer.wrap(in), 0));
      socket.send(ByteBuffer.wrap(in), DivertAddress.inbound(p.host()));
      p.datagram(hostEnd, Packets6.udpData(in), "the inbound datagram whose checksum is 0xFFFF");
    }
  }

  /**
   * A UDP datagram of four data bytes whose checksum computes to 0, with its checksum field 0: a
   * datagram with zero data and a correct checksum {@code c}, {@code c} moved into the data.
   */
  private static byte[] zeroChecksumUdp(InetAddress src, InetAddress dst, int port) {
    byte[] b = Packets6.udp(src, dst, SRC_PORT, port, new byte[4]);
    assertTrue(Packets6.udpChecksumValid(b), "the TCK's own check of the builder's checksum");
    int u = Packets6.walk(b).offset();
    int c = Packets.get16(b, u + 6);
    Packets.put16(b, u + 8, c);
    Packets.put16(b, u + 6, 0);
    return b;
  }

  /**
   * <b>S62</b>: a malformed IPv6 packet is refused with "malformed packet" naming the defect, in
   * both directions, and the socket keeps working: 39 bytes with version 6 ({@link
   * Defect#IPV6_TOO_SHORT}) and a destination-options header that runs past the end ({@link
   * Defect#EXTENSION_HEADER_PAST_END}); a valid packet afterwards arrives, and only it reaches the
   * wire.
   *
   * <p>If it fails: the backend hands the packet to the kernel unchecked, or judges an IPv6 packet
   * by the IPv4 checks.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S62", capabilities = Capability.IPV6)
  public void S62_malformedIpv6PacketIsRefusedNamingTheDefect(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        PacketCapture wire = bed.peer().capture();
        UdpEndpoint atHost = bed.hostNode().openUdp(UDP_PORT);
        UdpEndpoint atPeer = bed.peer().openUdp(UDP_PORT);
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe6(bed, tck);
      for (DivertAddress way : List.of(DivertAddress.OUTBOUND, DivertAddress.inbound(p.host()))) {
        boolean out = way.isZero();
        InetAddress src = out ? p.host() : p.peer();
        InetAddress dst = out ? p.peer() : p.host();
        for (Map.Entry<Defect, byte[]> c : malformed(src, dst).entrySet()) {
          MalformedPacketException e =
              assertThrows(
                  MalformedPacketException.class,
                  () -> socket.send(ByteBuffer.wrap(c.getValue()), way),
                  c.getKey() + " must be refused (" + way + ")");
          assertEquals(c.getKey(), e.defect(), "the defect named (" + way + "): " + e.getMessage());
        }
        byte[] ok = Packets6.udp(src, dst, SRC_PORT, UDP_PORT, pattern(64, 62));
        socket.send(ByteBuffer.wrap(ok), way);
        p.datagram(out ? atPeer : atHost, Packets6.udpData(ok), "a valid packet after refusals");
      }
      List<byte[]> onWire = p.settled(wire, Probe.udpBetween(p.host(), p.peer()));
      assertEquals(1, onWire.size(), "only the valid packet: " + Probe.describeAll(onWire));
    }
  }

  private static Map<Defect, byte[]> malformed(InetAddress src, InetAddress dst) {
    Map<Defect, byte[]> m = new LinkedHashMap<>();
    byte[] valid = Packets6.udp(src, dst, SRC_PORT, UDP_PORT, pattern(12, 1));
    byte[] shortOne = new byte[39];
    System.arraycopy(valid, 0, shortOne, 0, 39);
    m.put(Defect.IPV6_TOO_SHORT, shortOne);
    byte[] cut = new byte[44];
    System.arraycopy(valid, 0, cut, 0, 40);
    Packets.put16(cut, 4, 4);
    cut[6] = (byte) Packets6.DESTINATION_OPTIONS;
    cut[40] = (byte) Packets6.UDP;
    m.put(Defect.EXTENSION_HEADER_PAST_END, cut);
    return m;
  }
}
