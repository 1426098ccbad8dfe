package org.divert4j.tck;

import static org.divert4j.tck.Packets.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.Capability;
import org.divert4j.Chain;
import org.divert4j.Direction;
import org.divert4j.DivertSocket;
import org.divert4j.InstalledRule;
import org.divert4j.IpFamily;
import org.divert4j.NetInterface;
import org.divert4j.packet.Ipv6Builder;
import org.divert4j.tck.Probe.Received;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.Test;

/**
 * Area K of SEMANTICS.md, first half: how IPv6 packets are matched and delivered (S54-S58). Every
 * test needs {@link Capability#IPV6}; a backend that does not declare it has them skipped with the
 * reason. Addresses are the test beds' IPv6 ones ({@code fd00:L::N}, IPv6-BRIEF); packets the peer
 * sends raw are built with the api's {@link Ipv6Builder} and judged with the TCK's own {@link
 * Packets6}. The rules of sections A-J read for IPv6 run in the per-family verifications ({@link
 * FamilyVerification}).
 */
@SpecArea(id = "K", title = "IPv6")
public class Ipv6Verification extends TckVerification {
  /** For the JUnit engine and subclasses. */
  public Ipv6Verification() {}

  /** A 3000-byte UDP payload: 3008 bytes of IPv6 payload, three fragments on a 1500-byte link. */
  static final int BIG = 3000;

  static Probe probe6(TestBed bed, TckContext tck) {
    return new Probe(bed, tck.timeout(), IpFamily.IPV6);
  }

  static Probe probe4(TestBed bed, TckContext tck) {
    return new Probe(bed, tck.timeout(), IpFamily.IPV4);
  }

  /**
   * <b>S54</b>: a rule matches both families unless it says otherwise. With {@code -4 ... --dport
   * 7000} to one port, {@code -6 ... --dport 7000} to another and a family-less {@code --dport
   * 7002} rule to a third, an IPv4 datagram to 7000 reaches only the first, an IPv6 one only the
   * second, and both families' datagrams to 7002 reach the third; {@code -p icmp} takes only the
   * IPv4 echo request and {@code -p icmpv6} only the IPv6 one. Each packet's version nibble names
   * its family.
   *
   * <p>If it fails: the backend installs a family-less rule in one family only (the kernel backend
   * needs the rule in both iptables and ip6tables), or ignores {@code -4}/{@code -6}, or maps
   * {@code icmp} to both families.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S54", capabilities = Capability.IPV6)
  public void S54_aRuleMatchesBothFamiliesUnlessItSaysOtherwise(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p4 = probe4(bed, tck);
      Probe p6 = probe6(bed, tck);
      try (DivertSocket four = divert(bed, PORT, "input -4 -p udp --dport 7000");
          DivertSocket six = divert(bed, PORT2, "input -6 -p udp --dport 7000");
          DivertSocket both = divert(bed, PORT3, "input -p udp --dport 7002")) {
        bed.peer().sendUdp(p4.host(), SRC_PORT, UDP_PORT, pattern(100, 1));
        assertVersion(4, p4.receive(four, "the IPv4 datagram at the -4 rule's port"));
        p4.expectNothing(six, "a -6 rule never matches an IPv4 packet");
        bed.peer().sendUdp(p6.host(), SRC_PORT, UDP_PORT, pattern(100, 2));
        assertVersion(6, p6.receive(six, "the IPv6 datagram at the -6 rule's port"));
        p6.expectNothing(four, "a -4 rule never matches an IPv6 packet");
        bed.peer().sendUdp(p4.host(), SRC_PORT, UDP_PORT2, pattern(100, 3));
        assertVersion(4, p4.receive(both, "the IPv4 datagram at the family-less rule's port"));
        bed.peer().sendUdp(p6.host(), SRC_PORT, UDP_PORT2, pattern(100, 4));
        assertVersion(6, p6.receive(both, "the IPv6 datagram at the family-less rule's port"));
      }
    }
    try (TestBed bed = tck.testBed()) {
      Probe p4 = probe4(bed, tck);
      Probe p6 = probe6(bed, tck);
      p6.resolveNeighbours(); // neighbour discovery is ICMPv6 too
      try (DivertSocket icmp = divert(bed, PORT, "input -p icmp");
          DivertSocket icmp6 = divert(bed, PORT2, "input -p icmpv6")) {
        bed.peer()
            .sendRaw(ByteBuffer.wrap(p4.echoRequest(p4.peer(), p4.host(), 5, 1, pattern(8, 5))));
        assertVersion(4, p4.receive(icmp, "the ICMP echo request at the -p icmp rule's port"));
        p4.expectNothing(icmp6, "-p icmpv6 never matches IPv4 ICMP");
        bed.peer()
            .sendRaw(ByteBuffer.wrap(p6.echoRequest(p6.peer(), p6.host(), 6, 1, pattern(8, 6))));
        Received r = p6.receive(icmp6, "the ICMPv6 echo request at the -p icmpv6 rule's port");
        assertVersion(6, r);
        assertEquals(
            Packets6.ECHO_REQUEST, Packets6.icmpType(r.bytes()), Probe.describe(r.bytes()));
        p6.expectNothing(icmp, "-p icmp never matches ICMPv6");
      }
    }
  }

  private static void assertVersion(int version, Received r) {
    assertEquals(version, Packets.version(r.bytes()), "version nibble of " + r);
  }

  /**
   * <b>S54</b>: one rule never mixes the families: a rule with an IPv4 source and an IPv6
   * destination is refused when it is built, and the message names both addresses.
   *
   * <p>If it fails: the rule parser accepts a rule that could never match anything.
   *
   * @param tck the settings of this run
   */
  @Test
  @SpecRule(id = "S54", capabilities = Capability.IPV6)
  public void S54_aRuleThatMixesTheFamiliesIsRefused(TckContext tck) {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> rule("input -s 10.0.1.2 -d fd00:1::1 -j DIVERT " + PORT),
            "an IPv4 source with an IPv6 destination");
    assertTrue(
        e.getMessage().contains("10.0.1.2") && e.getMessage().contains("fd00:1::1"),
        "the message must name both addresses: " + e.getMessage());
  }

  /**
   * <b>S55</b>: a received IPv6 packet starts at the IPv6 header and is whole and unchanged: a
   * datagram the peer sends raw, with traffic class 0xB8, flow label 0x12345, hop limit 9 and a
   * destination-options header before UDP, is received byte-identical. Its divert address carries
   * port, chain INPUT, direction INBOUND, the receiving interface's name and index, and the
   * interface's first IPv6 address as an {@link Inet6Address} (as the test bed built the interface,
   * not as the backend reports it), and the rule id.
   *
   * <p>If it fails: compare the bytes (a backend that strips extension headers or starts at the
   * transport header breaks S55); an IPv4 interface address on an IPv6 packet means the backend
   * takes the interface's first address of any family.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S55", capabilities = Capability.IPV6)
  public void S55_receivedIpv6PacketIsWholeAndCarriesAnIpv6InterfaceAddress(TckContext tck)
      throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe6(bed, tck);
      InstalledRule installed =
          bed.host().addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      try (DivertSocket socket = bed.host().bind(PORT)) {
        byte[] sent =
            Packets6.bytes(
                Ipv6Builder.udp(SRC_PORT, UDP_PORT)
                    .source(p.peer().getAddress())
                    .destination(p.host().getAddress())
                    .trafficClass(0xb8)
                    .flowLabel(0x12345)
                    .hopLimit(9)
                    .destinationOptions(new byte[6])
                    .payload(pattern(200, 55))
                    .build());
        bed.peer().sendRaw(ByteBuffer.wrap(sent));
        Received r = p.receive(socket, "the inbound IPv6 datagram");
        assertArrayEquals(sent, r.bytes(), "received " + r + ", sent " + Packets6.describe(sent));
        NetInterface iface = p.bedInterface(p.host());
        InetAddress first6 =
            iface
                .address(IpFamily.IPV6)
                .orElseThrow(() -> new AssertionError("no IPv6 address on " + iface));
        assertEquals(PORT, r.address().port(), "port of " + r.address());
        assertEquals(Chain.INPUT, r.address().chain().orElse(null), "chain of " + r.address());
        assertEquals(Direction.INBOUND, r.address().direction(), "direction of " + r.address());
        assertEquals(iface.name(), r.address().interfaceName(), "interface name, " + iface);
        assertEquals(iface.index(), r.address().interfaceIndex(), "interface index, " + iface);
        assertInstanceOf(Inet6Address.class, r.address().interfaceAddress(), "" + r.address());
        assertEquals(first6, r.address().interfaceAddress(), "interface address, " + iface);
        assertEquals(IpFamily.IPV6, r.address().interfaceFamily(), "" + r.address());
        assertEquals(installed.id(), r.address().ruleId(), "rule id of " + r.address());
      }
    }
  }

  /**
   * <b>S55</b>: an outbound IPv6 datagram is received as the host sends it (a whole IPv6 packet
   * whose payload length is its size minus 40 and whose UDP checksum, over the IPv6 pseudo-header,
   * is valid), with chain OUTPUT, direction OUTBOUND and no interface address; written back it
   * reaches the peer intact.
   *
   * <p>If it fails: the output chain's IPv6 packets are not diverted, or are changed on the way.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S55", capabilities = Capability.IPV6)
  public void S55_outboundIpv6PacketIsReceivedWhole(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint atPeer = bed.peer().openUdp(UDP_PORT)) {
      Probe p = probe6(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "output -p udp --dport 7000")) {
        byte[] data = pattern(300, 56);
        bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, data);
        Received r = p.receive(socket, "the outbound IPv6 datagram");
        byte[] b = r.bytes();
        assertTrue(Packets6.isIpv6(b), "an IPv6 packet: " + r);
        assertEquals(b.length - 40, Packets6.payloadLength(b), "payload length of " + r);
        assertEquals(p.host(), Packets6.source(b), "source of " + r);
        assertEquals(p.peer(), Packets6.destination(b), "destination of " + r);
        assertArrayEquals(data, Packets6.udpData(b), "UDP data of " + r);
        assertTrue(Packets6.udpChecksumValid(b), "UDP checksum of " + r);
        assertEquals(Chain.OUTPUT, r.address().chain().orElse(null), "chain of " + r.address());
        assertEquals(Direction.OUTBOUND, r.address().direction(), "direction of " + r.address());
        assertTrue(
            r.address().interfaceAddress().isAnyLocalAddress(),
            "outbound: no interface address expected, got " + r.address());
        p.writeBack(socket, r);
        p.datagram(atPeer, data, "the outbound IPv6 datagram written back");
      }
    }
  }

  /**
   * <b>S56</b>: ports are found by walking the extension headers: a UDP datagram behind a
   * hop-by-hop and a destination-options header matches {@code --dport 7000}, and is received
   * unchanged.
   *
   * <p>If it fails: the backend reads the byte after the fixed header as the transport header.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S56", capabilities = Capability.IPV6)
  public void S56_portsAreFoundThroughTheExtensionHeaders(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe6(bed, tck);
      try (DivertSocket udp = divert(bed, PORT, "input -p udp --dport 7000")) {
        byte[] chained =
            Packets6.bytes(
                Ipv6Builder.udp(SRC_PORT, UDP_PORT)
                    .source(p.peer().getAddress())
                    .destination(p.host().getAddress())
                    .hopByHop(new byte[6])
                    .destinationOptions(new byte[6])
                    .payload(pattern(64, 1))
                    .build());
        bed.peer().sendRaw(ByteBuffer.wrap(chained));
        Received r = p.receive(udp, "the datagram behind two extension headers at --dport 7000");
        assertArrayEquals(chained, r.bytes(), "received " + r);
      }
    }
  }

  /**
   * <b>S56</b> [cap: TRUNCATED_CHAINS_CONTINUE]: a packet whose header chain runs past its end (a
   * destination-options header cut short: 4 bytes where its length says 8) matches only rules
   * without protocol, port or type: a {@code --dport} rule and a {@code -p udp} rule before it do
   * not take it, a later rule with only addresses (source and destination, so that neighbour
   * discovery to a multicast address stays out) does, and the program receives it unchanged.
   *
   * <p>If it fails: the backend guesses a protocol for a truncated chain, or drops the packet
   * before the rules (Linux's {@code ipv6_rcv} checks the version, the payload length and a
   * hop-by-hop header only; destination options are parsed after the hooks, in {@code
   * ip6_input_finish}).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(
      id = "S56",
      capabilities = {Capability.IPV6, Capability.TRUNCATED_CHAINS_CONTINUE})
  public void S56_aChainPastTheEndMatchesOnlyRulesWithoutProtocolOrPort(TckContext tck)
      throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe6(bed, tck);
      try (DivertSocket udp = divert(bed, PORT, "input -p udp --dport 7000");
          DivertSocket anyUdp = divert(bed, PORT2, "input -p udp");
          DivertSocket bySource =
              divert(
                  bed,
                  PORT3,
                  "input -s " + p.peer().getHostAddress() + " -d " + p.host().getHostAddress())) {
        // Next header 60 (destination options) with only 4 bytes after the fixed header: the
        // header's own length (8 bytes at least) runs past the end.
        byte[] cut = new byte[44];
        cut[0] = 0x60;
        Packets.put16(cut, 4, 4);
        cut[6] = (byte) Packets6.DESTINATION_OPTIONS;
        cut[7] = 64;
        System.arraycopy(p.peer().getAddress(), 0, cut, 8, 16);
        System.arraycopy(p.host().getAddress(), 0, cut, 24, 16);
        cut[40] = (byte) Packets6.UDP;
        bed.peer().sendRaw(ByteBuffer.wrap(cut));
        Received past = p.receive(bySource, "the truncated chain at the address-only rule");
        assertArrayEquals(cut, past.bytes(), "received " + past);
        p.expectNothing(udp, "a truncated chain never matches a port rule");
        p.expectNothing(anyUdp, "a truncated chain never matches a protocol rule");
      }
    }
  }

  /**
   * <b>S56</b> (S7 for IPv6): port tests match only the fragment with offset 0, protocol tests
   * every fragment. A 3000-byte UDP datagram sent in three fragments meets {@code --dport 7000} and
   * then {@code -p udp}: the port rule's socket gets exactly the first fragment, the protocol
   * rule's exactly the other two; written back, the datagram reaches the host's endpoint.
   *
   * <p>If it fails: the backend looks for ports in non-first fragments (reading payload bytes as
   * ports), or reassembles in per-fragment mode.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S56", capabilities = Capability.IPV6)
  public void S56_portRulesMatchOnlyTheFirstFragment(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe6(bed, tck);
      try (DivertSocket port = divert(bed, PORT, "input -p udp --dport 7000");
          DivertSocket proto = divert(bed, PORT2, "input -p udp")) {
        byte[] data = pattern(BIG, 7);
        List<byte[]> frags =
            Packets6.fragment(
                p.udpPacket(p.peer(), p.host(), SRC_PORT, UDP_PORT, data), 1500, 0x5601);
        assertEquals(3, frags.size(), "the TCK's own fragmenting");
        for (byte[] f : frags) {
          bed.peer().sendRaw(ByteBuffer.wrap(f));
        }
        Received first = p.receiveExactly(port, 1, "first fragment").get(0);
        assertArrayEquals(frags.get(0), first.bytes(), "the first fragment, unchanged: " + first);
        List<Received> rest = p.receiveExactly(proto, 2, "non-first fragment");
        List<byte[]> restBytes = new ArrayList<>();
        for (Received r : rest) {
          assertTrue(Packets6.fragmentOffset(r.bytes()) > 0, "a non-first fragment: " + r);
          restBytes.add(r.bytes());
        }
        Ipv6FragmentVerification.assertSameFragments(frags.subList(1, 3), restBytes);
        // Written back, the first fragment continues after the port rule (S44) and meets the
        // protocol rule, unchanged; the others continue after the protocol rule.
        p.writeBack(port, first);
        Received again =
            p.receiveExactly(proto, 1, "the first fragment after the port rule").get(0);
        assertArrayEquals(frags.get(0), again.bytes(), "the first fragment, unchanged: " + again);
        p.writeBack(proto, again);
        for (Received r : rest) {
          p.writeBack(proto, r);
        }
        p.datagram(endpoint, data, "the datagram from its fragments written back");
      }
    }
  }
}
