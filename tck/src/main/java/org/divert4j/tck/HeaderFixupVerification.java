package org.divert4j.tck;

import static org.divert4j.tck.Packets.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.util.List;
import org.divert4j.DivertAddress;
import org.divert4j.DivertException;
import org.divert4j.DivertSocket;
import org.divert4j.IpFamily;
import org.divert4j.packet.Ipv6Builder;
import org.divert4j.tck.Probe.Received;
import org.divert4j.testbed.PacketCapture;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.Test;

/**
 * Area H of SEMANTICS.md: header fix-ups on injection (S38-S41). Outbound results are read from the
 * peer's capture (the wire); inbound results from a second divert socket whose input rule sees the
 * injected packet after the fix-ups (another port may receive an injected packet, S45). Runs once
 * per address family: S61 reads S40 as the payload length and S41 for IPv6's own fields (traffic
 * class, flow label, hop limit, extension headers, the Fragment header); S38 and S39 are IPv4's,
 * IPv6 having no header checksum and no Identification outside the Fragment header.
 */
@SpecArea(id = "H", title = "Header fix-ups on injection")
public class HeaderFixupVerification extends FamilyVerification {
  private static final String NO_HEADER_CHECKSUM =
      "IPv6 has no header checksum (S61); its fix-up is the payload length";
  private static final String NO_IDENTIFICATION =
      "IPv6 has no Identification outside the Fragment header; the one of injections fragmented by"
          + " the backend is tested by S58 in area K";

  /** For the JUnit engine and subclasses. */
  public HeaderFixupVerification() {}

  /**
   * <b>S38</b>: the IP header checksum is recomputed outbound: a built packet with checksum 0xBEEF,
   * and a diverted packet whose checksum the program spoiled, both cross the wire with a valid
   * checksum and reach the peer's endpoint.
   *
   * <p>If it fails: the backend sends the header as given (NFQUEUE payload verdicts and TUN writes
   * do not recompute; the backend must).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S38")
  @Ipv4Only(NO_HEADER_CHECKSUM)
  public void S38_headerChecksumIsRecomputedOutbound(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        PacketCapture wire = bed.peer().capture();
        UdpEndpoint endpoint = bed.peer().openUdp(UDP_PORT);
        UdpEndpoint endpoint2 = bed.peer().openUdp(UDP_PORT2)) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "output -p udp --dport 7000")) {
        byte[] built =
            Packets.udp(p.host(), p.peer(), SRC_PORT, UDP_PORT2, pattern(100, 1))
                .checksum(0xBEEF)
                .build();
        socket.send(ByteBuffer.wrap(built), DivertAddress.OUTBOUND);
        byte[] data = pattern(100, 2);
        bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, data);
        Received r = p.receive(socket, "the outbound datagram");
        byte[] spoiled = r.bytes().clone();
        Packets.put16(spoiled, 10, Packets.headerChecksum(spoiled) ^ 0x5A5A);
        socket.send(ByteBuffer.wrap(spoiled), r.address());
        for (int port : new int[] {UDP_PORT, UDP_PORT2}) {
          byte[] w = p.await(wire, Probe.udpTo(port), 1, "the packet to UDP port " + port).get(0);
          assertTrue(Packets.headerChecksumValid(w), "not recomputed: " + Packets.describe(w));
        }
        p.datagram(endpoint2, Packets.udpData(built), "the built packet");
        p.datagram(endpoint, data, "the reinjected packet");
      }
    }
  }

  /**
   * <b>S38</b>: the IP header checksum is recomputed inbound too: a packet injected inbound with
   * checksum 0xBEEF passes the input chain with a valid checksum (seen by an observing port) and,
   * written back, reaches the host's endpoint.
   *
   * <p>If it fails: the backend recomputes only on the outbound path (a TUN device drops bad
   * checksums on input, so an inbound packet with a bad one would be lost).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S38")
  @Ipv4Only(NO_HEADER_CHECKSUM)
  public void S38_headerChecksumIsRecomputedInbound(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = bed.host().bind(PORT);
          DivertSocket observer = observer(bed)) {
        byte[] data = pattern(100, 3);
        byte[] built =
            Packets.udp(p.peer(), p.host(), SRC_PORT, UDP_PORT, data).checksum(0xBEEF).build();
        socket.send(ByteBuffer.wrap(built), DivertAddress.inbound(p.host()));
        Received seen = p.receive(observer, "the injected packet on the input chain");
        assertTrue(Packets.headerChecksumValid(seen.bytes()), "not recomputed: " + seen);
        p.writeBack(observer, seen);
        p.datagram(endpoint, data, "the packet injected inbound with a bad checksum");
      }
    }
  }

  /**
   * <b>S39</b>: an IP ID of 0 is replaced by a non-zero one, with DF clear and with DF set; a
   * non-zero ID (0x1234) is kept. Checked on the wire for outbound injections and by an observing
   * port for an inbound one.
   *
   * <p>If it fails: the backend leaves ID 0 when DF is set (Linux {@code ip_select_ident_segs}
   * does; divert4j fills it anyway), or overwrites IDs the program chose.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S39")
  @Ipv4Only(NO_IDENTIFICATION)
  public void S39_zeroIpIdIsReplacedAndNonZeroIdIsKept(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        PacketCapture wire = bed.peer().capture()) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = bed.host().bind(PORT);
          DivertSocket observer = observer(bed)) {
        int[][] cases = {{7010, 0, 0}, {7011, 0, Packets.DF}, {7012, 0x1234, 0}};
        for (int[] c : cases) {
          byte[] b =
              Packets.udp(p.host(), p.peer(), SRC_PORT, c[0], pattern(80, c[0]))
                  .id(c[1])
                  .flags(c[2])
                  .build();
          socket.send(ByteBuffer.wrap(b), DivertAddress.OUTBOUND);
        }
        for (int[] c : cases) {
          byte[] w = p.await(wire, Probe.udpTo(c[0]), 1, "the packet to port " + c[0]).get(0);
          if (c[1] == 0) {
            assertNotEquals(0, Packets.id(w), "ID 0 must be replaced: " + Packets.describe(w));
          } else {
            assertEquals(c[1], Packets.id(w), "a non-zero ID must be kept: " + Packets.describe(w));
          }
        }
        byte[] in =
            Packets.udp(p.peer(), p.host(), SRC_PORT, UDP_PORT, pattern(80, 5)).id(0).build();
        socket.send(ByteBuffer.wrap(in), DivertAddress.inbound(p.host()));
        Received seen = p.receive(observer, "the packet injected inbound with ID 0");
        assertNotEquals(0, Packets.id(seen.bytes()), "ID 0 must be replaced inbound: " + seen);
      }
    }
  }

  /**
   * <b>S40</b> (IPv6: S61): the length field is set to the number of bytes written: packets sent
   * with a total length (IPv6: payload length) of 0, of 100 bytes too many and of 10 too few all
   * cross the wire with the real length and reach the peer's endpoint.
   *
   * <p>If it fails: the backend trusts the field (truncating or refusing the packet) instead of
   * setting it (raw(7): "total length always filled in"; the kernel does not fill IPv6's payload
   * length for {@code IPV6_HDRINCL}).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S40")
  public void S40_totalLengthIsSetToTheBytesWritten(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        PacketCapture wire = bed.peer().capture();
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe(bed, tck);
      boolean six = p.family() == IpFamily.IPV6;
      int size = 300 + Wire.udpOverhead(p.family());
      int field = six ? 4 : 2; // the IPv6 payload length or the IPv4 total length
      int real = six ? size - 40 : size;
      int[] lengthFor = {0, real + 100, real - 10};
      for (int i = 0; i < lengthFor.length; i++) {
        int port = 7020 + i;
        // The checksum is right for the real length, so that the packet is valid once the
        // length is set, whether or not the checksum is recomputed (that is S38's business).
        byte[] b = p.udpPacket(p.host(), p.peer(), SRC_PORT, port, pattern(300, i));
        Packets.put16(b, field, lengthFor[i]);
        try (UdpEndpoint endpoint = bed.peer().openUdp(port)) {
          socket.send(ByteBuffer.wrap(b), DivertAddress.OUTBOUND);
          p.datagram(
              endpoint, pattern(300, i), "the packet sent with length field " + lengthFor[i]);
        }
        byte[] w = p.await(wire, Probe.udpTo(port), 1, "the packet to port " + port).get(0);
        assertEquals(size, w.length, "bytes on the wire: " + Probe.describe(w));
        assertEquals(real, Packets.get16(w, field), "length field: " + Probe.describe(w));
      }
    }
  }

  /**
   * <b>S41</b> (IPv6: S61): nothing else is changed. A packet with TTL 7, TOS 0xB8, DF and the
   * reserved flag, a 4-byte IP option, a valid header and a deliberately wrong UDP checksum crosses
   * the wire byte-identical (so the transport checksum was not "fixed"); injected inbound with TTL
   * 1 it passes the input chain byte-identical too. IPv6: traffic class 0xB8, flow label 0xABCDE,
   * hop limit 7 and a destination-options header outbound, hop limit 1 and traffic class 0x20
   * inbound, each with a wrong UDP checksum.
   *
   * <p>If it fails: compare the bytes: the backend decrements TTL (hop limit), clears TOS (traffic
   * class, flow label) or flags (even the reserved one, which RFC 791 wants zero: that is the
   * program's business), strips options or extension headers, or recomputes transport checksums,
   * none of which it may do.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S41")
  public void S41_otherFieldsAreLeftAsWritten(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        PacketCapture wire = bed.peer().capture()) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = bed.host().bind(PORT);
          DivertSocket observer = observer(bed)) {
        byte[] out = crafted(p, p.host(), p.peer(), 7, 0xB8, 41);
        spoilUdpChecksum(out);
        socket.send(ByteBuffer.wrap(out), DivertAddress.OUTBOUND);
        byte[] w = p.await(wire, Probe.udpTo(UDP_PORT), 1, "the crafted packet").get(0);
        assertArrayEquals(
            out, w, "changed on the way out: sent " + Probe.describe(out) + ", wire " + w.length);

        byte[] in = crafted(p, p.peer(), p.host(), 1, 0x20, 42);
        spoilUdpChecksum(in);
        socket.send(ByteBuffer.wrap(in), DivertAddress.inbound(p.host()));
        Received seen = p.receive(observer, "the packet injected inbound");
        assertArrayEquals(in, seen.bytes(), "changed on the way in: " + seen);
      }
    }
  }

  /**
   * A UDP datagram of the probe's family with TTL (hop limit) {@code ttl} and TOS (traffic class)
   * {@code tos}; outbound ({@code ttl} above 1) IPv4 also gets DF, the reserved flag and a 4-byte
   * option, IPv6 a flow label and a destination-options header.
   */
  private static byte[] crafted(
      Probe p, InetAddress src, InetAddress dst, int ttl, int tos, int s) {
    if (p.family() == IpFamily.IPV6) {
      Ipv6Builder b =
          Ipv6Builder.udp(SRC_PORT, UDP_PORT)
              .source(src.getAddress())
              .destination(dst.getAddress())
              .trafficClass(tos)
              .hopLimit(ttl)
              .payload(pattern(200, s));
      if (ttl > 1) {
        b.flowLabel(0xabcde).destinationOptions(new byte[6]);
      }
      return Packets6.bytes(b.build());
    }
    Packets.Ip b = Packets.udp(src, dst, SRC_PORT, UDP_PORT, pattern(200, s)).ttl(ttl).tos(tos);
    if (ttl > 1) {
      b.flags(0x8000 | Packets.DF).options(new byte[] {1, 1, 1, 0});
    }
    return b.build();
  }

  /**
   * <b>S41</b> (IPv6: S61): fragment fields are left as written: a first fragment (MF, offset 0)
   * and a middle fragment (MF, offset 1952; IPv6: 1904, behind a Fragment header) injected outbound
   * cross the wire byte-identical.
   *
   * <p>If it fails: the backend clears MF or the offset, or reassembles/merges injected fragments.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S41")
  public void S41_fragmentFieldsAreLeftAsWritten(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        PacketCapture wire = bed.peer().capture();
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe(bed, tck);
      byte[] whole =
          p.family() == IpFamily.IPV6
              ? Packets6.udp(p.host(), p.peer(), SRC_PORT, UDP_PORT, pattern(LARGE, 43))
              : Packets.udp(p.host(), p.peer(), SRC_PORT, UDP_PORT, pattern(LARGE, 43))
                  .id(0x4141)
                  .build();
      // 1000-byte fragments: well under the MTU, so the MTU check (S27, S28) plays no part.
      List<byte[]> frags = Wire.fragment(whole, 1000, 0x4141);
      socket.send(ByteBuffer.wrap(frags.get(0)), DivertAddress.OUTBOUND);
      socket.send(ByteBuffer.wrap(frags.get(2)), DivertAddress.OUTBOUND);
      List<byte[]> got =
          p.await(wire, Probe.udpBetween(p.host(), p.peer()), 2, "the two injected fragments");
      got.sort(java.util.Comparator.comparingInt(Wire::fragmentOffset));
      assertArrayEquals(frags.get(0), got.get(0), "first fragment: " + Probe.describeAll(got));
      assertArrayEquals(frags.get(2), got.get(1), "middle fragment: " + Probe.describeAll(got));
    }
  }

  /**
   * The observing socket of the class comment, on {@link #PORT2}: its input rule sees UDP to 7000
   * injected inbound, after the fix-ups.
   */
  private static DivertSocket observer(TestBed bed) throws DivertException {
    return divert(bed, PORT2, "input -p udp --dport 7000");
  }

  private static void spoilUdpChecksum(byte[] p) {
    int at = (Packets6.isIpv6(p) ? Packets6.walk(p).offset() : Packets.ihl(p)) + 6;
    int c = Packets.get16(p, at);
    Packets.put16(p, at, c == 0x1111 ? 0x2222 : 0x1111);
  }
}
