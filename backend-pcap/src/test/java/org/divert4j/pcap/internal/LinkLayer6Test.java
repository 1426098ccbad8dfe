package org.divert4j.pcap.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import org.divert4j.DivertException;
import org.divert4j.HostOptions;
import org.divert4j.IpFamily;
import org.divert4j.Ipv6Addresses;
import org.divert4j.NetInterface;
import org.divert4j.packet.Ipv4Builder;
import org.divert4j.packet.Ipv6Builder;
import org.junit.jupiter.api.Test;

/** IPv6 framing: finding the packet, MAC learning from neighbour discovery, headers, properties. */
class LinkLayer6Test {
  private static final long MAC_A = 0x020000000001L;
  private static final long MAC_B = 0x020000000002L;
  private static final long MAC_T = 0x020000000077L;
  private static final String A = "fd00:1::1";
  private static final String B = "fd00:1::2";

  private static ByteBuffer ethernet(long dst, long src, int type, ByteBuffer payload) {
    ByteBuffer f = ByteBuffer.allocate(14 + payload.remaining());
    LinkLayer.putMac(f, 0, dst);
    LinkLayer.putMac(f, 6, src);
    f.putShort(12, (short) type);
    f.put(14, payload, payload.position(), payload.remaining());
    return f;
  }

  private static ByteBuffer at(String literal) {
    return ByteBuffer.wrap(Ipv6Addresses.parse(literal).getAddress());
  }

  /** An ICMPv6 ND message: type, 4 bytes of flags, an optional target, then options. */
  private static ByteBuffer nd(
      String src, String dst, int type, String target, int optionType, long mac) {
    ByteBuffer icmp = ByteBuffer.allocate(target == null ? 16 : 32);
    icmp.put(0, (byte) type);
    int options = 8;
    if (target != null) {
      icmp.put(8, Ipv6Addresses.parse(target).getAddress());
      options = 24;
    }
    icmp.put(options, (byte) optionType).put(options + 1, (byte) 1);
    LinkLayer.putMac(icmp, options + 2, mac);
    return Ipv6Builder.raw(58).source(src).destination(dst).hopLimit(255).payload(icmp).build();
  }

  private static ByteBuffer udp6(String src, String dst) {
    return Ipv6Builder.udp(1, 2).source(src).destination(dst).payload(new byte[8]).build();
  }

  @Test
  void ipv6IsFoundByEthertypeAndByVersionNibbleInRawCaptures() {
    LinkLayer eth = new LinkLayer(LinkTypes.DLT_EN10MB);
    ByteBuffer f = ethernet(MAC_B, MAC_A, 0x86DD, udp6(A, B));
    assertEquals(14, eth.ipOffset(f, 0, f.limit()));
    assertEquals(-1, eth.ipv4Offset(f, 0, f.limit()), "not IPv4");
    assertEquals(-1, eth.ipOffset(f, 0, 14 + 39), "shorter than the IPv6 header");
    ByteBuffer wrongVersion = ethernet(MAC_B, MAC_A, 0x86DD, Ipv4Builder.udp(1, 2).build());
    assertEquals(-1, eth.ipOffset(wrongVersion, 0, wrongVersion.limit()), "0x86DD with version 4");
    LinkLayer raw = new LinkLayer(LinkTypes.LINKTYPE_RAW);
    ByteBuffer six = udp6(A, B);
    ByteBuffer four = Ipv4Builder.udp(1, 2).build();
    assertEquals(0, raw.ipOffset(six, 0, six.limit()));
    assertEquals(0, raw.ipOffset(four, 0, four.limit()));
    assertEquals(-1, new LinkLayer(LinkTypes.DLT_IPV4).ipOffset(six, 0, six.limit()));
    assertEquals(0, new LinkLayer(LinkTypes.DLT_IPV6).ipOffset(six, 0, six.limit()));
    assertEquals(-1, new LinkLayer(LinkTypes.DLT_IPV6).ipOffset(four, 0, four.limit()));
  }

  @Test
  void neighbourSolicitationTeachesTheSendersMac() {
    LinkLayer l2 = new LinkLayer(LinkTypes.DLT_EN10MB);
    // B asks for A at A's solicited-node group; its frame comes from MAC_B, its option says MAC_T
    ByteBuffer ns = nd(B, "ff02::1:ff00:1", 135, A, 1, MAC_T);
    ByteBuffer f = ethernet(0x3333ff000001L, MAC_B, 0x86DD, ns);
    l2.learn(f, 0, f.limit(), LinkLayer.OUTBOUND);
    assertEquals(MAC_T, l2.destinationMac6(at(B), 0, LinkLayer.INBOUND), "the SLLA option wins");
    assertEquals(MAC_T, l2.sourceMac6(at(B), 0, LinkLayer.OUTBOUND));
  }

  @Test
  void neighbourAdvertisementTeachesTheTargetsMac() {
    LinkLayer l2 = new LinkLayer(LinkTypes.DLT_EN10MB);
    // A answers for a target other than itself (a proxy): only the TLLA option names its MAC
    String target = "fd00:1::7";
    ByteBuffer na = nd(A, B, 136, target, 2, MAC_T);
    ByteBuffer f = ethernet(MAC_B, MAC_A, 0x86DD, na);
    l2.learn(f, 0, f.limit(), LinkLayer.INBOUND);
    assertEquals(MAC_T, l2.destinationMac6(at(target), 0, LinkLayer.OUTBOUND));
    assertEquals(MAC_A, l2.destinationMac6(at(A), 0, LinkLayer.OUTBOUND), "the frame's source");
    assertEquals(MAC_B, l2.destinationMac6(at(B), 0, LinkLayer.INBOUND), "weak: the frame's dst");
  }

  @Test
  void routerSolicitationAndAdvertisementTeachTheirSources() {
    LinkLayer l2 = new LinkLayer(LinkTypes.DLT_EN10MB);
    ByteBuffer rs = nd("fe80::1", "ff02::2", 133, null, 1, MAC_T);
    ByteBuffer f = ethernet(0x333300000002L, MAC_A, 0x86DD, rs);
    l2.learn(f, 0, f.limit(), LinkLayer.OUTBOUND);
    assertEquals(MAC_T, l2.sourceMac6(at("fe80::1"), 0, LinkLayer.OUTBOUND));
    // an RA: type, code, checksum, then 12 bytes (hop limit, flags, lifetimes) before options
    ByteBuffer icmp = ByteBuffer.allocate(24);
    icmp.put(0, (byte) 134).put(16, (byte) 1).put(17, (byte) 1);
    LinkLayer.putMac(icmp, 18, MAC_B);
    ByteBuffer ra =
        Ipv6Builder.raw(58).source("fe80::9").destination("ff02::1").payload(icmp).build();
    ByteBuffer g = ethernet(0x333300000001L, MAC_A, 0x86DD, ra);
    l2.learn(g, 0, g.limit(), LinkLayer.INBOUND);
    assertEquals(MAC_B, l2.destinationMac6(at("fe80::9"), 0, LinkLayer.OUTBOUND));
  }

  @Test
  void theUnspecifiedSourceAndGroupMacsAreNeverLearned() {
    LinkLayer l2 = new LinkLayer(LinkTypes.DLT_EN10MB);
    // duplicate address detection: NS from ::, no SLLA option allowed (RFC 4861 section 4.3)
    ByteBuffer icmp = ByteBuffer.allocate(24);
    icmp.put(0, (byte) 135).put(8, Ipv6Addresses.parse(A).getAddress());
    ByteBuffer dad =
        Ipv6Builder.raw(58).source("::").destination("ff02::1:ff00:1").payload(icmp).build();
    ByteBuffer f = ethernet(0x3333ff000001L, MAC_A, 0x86DD, dad);
    l2.learn(f, 0, f.limit(), LinkLayer.INBOUND);
    l2.ownMac(LinkLayer.OUTBOUND, MAC_B);
    assertEquals(
        MAC_A,
        l2.sourceMac6(at("::"), 0, LinkLayer.INBOUND),
        "falls back to the last source seen, not a table entry for ::");
    assertEquals(
        LinkLayer.BROADCAST,
        l2.destinationMac6(at(A), 0, LinkLayer.OUTBOUND),
        "A itself was never a source or unicast destination");
    // a frame from a group MAC teaches nothing about its source address
    ByteBuffer g = ethernet(MAC_B, 0x333300000001L, 0x86DD, udp6("fd00:1::9", B));
    l2.learn(g, 0, g.limit(), LinkLayer.INBOUND);
    assertEquals(MAC_B, l2.destinationMac6(at(B), 0, LinkLayer.INBOUND));
    assertEquals(MAC_B, l2.sourceMac6(at("fd00:1::9"), 0, LinkLayer.OUTBOUND), "own MAC");
  }

  @Test
  void optionsOfLengthZeroAndTruncatedMessagesTeachNothing() {
    LinkLayer l2 = new LinkLayer(LinkTypes.DLT_EN10MB);
    ByteBuffer ns = nd(B, "ff02::1:ff00:1", 135, A, 1, MAC_T);
    ns.put(40 + 24 + 1, (byte) 0); // option length 0: RFC 4861 says discard
    ByteBuffer f = ethernet(0x3333ff000001L, MAC_B, 0x86DD, ns);
    l2.learn(f, 0, f.limit(), LinkLayer.OUTBOUND);
    assertEquals(MAC_B, l2.sourceMac6(at(B), 0, LinkLayer.OUTBOUND), "the frame's source only");
    ByteBuffer na = nd(A, B, 136, "fd00:1::8", 2, MAC_T);
    ByteBuffer g = ethernet(MAC_B, MAC_A, 0x86DD, na);
    l2.learn(g, 0, g.limit() - 8, LinkLayer.INBOUND); // the option was not captured
    assertEquals(MAC_B, l2.destinationMac6(at("fd00:1::8"), 0, LinkLayer.INBOUND), "fallback");
  }

  @Test
  void ipv6HeadersGetTheirEthertypeAndMulticastMacs() {
    LinkLayer l2 = new LinkLayer(LinkTypes.DLT_EN10MB);
    ByteBuffer f = ethernet(MAC_B, MAC_A, 0x86DD, udp6(A, B));
    l2.learn(f, 0, f.limit(), LinkLayer.INBOUND);
    ByteBuffer out = ByteBuffer.allocate(14);
    assertEquals(14, l2.writeHeader(out, 0, udp6(B, A), 0, LinkLayer.OUTBOUND));
    assertEquals(MAC_A, LinkLayer.mac(out, 0));
    assertEquals(MAC_B, LinkLayer.mac(out, 6));
    assertEquals(0x86DD, out.getShort(12) & 0xffff);
    assertEquals(14, l2.writeHeader(out, 0, udp6(A, "ff02::1:ff12:3456"), 0, LinkLayer.INBOUND));
    assertEquals(0x3333ff123456L, LinkLayer.mac(out, 0), "RFC 2464 section 7");
    assertEquals(14, l2.writeHeader(out, 0, Ipv4Builder.udp(1, 2).build(), 0, 0));
    assertEquals(0x0800, out.getShort(12) & 0xffff, "IPv4 keeps its ethertype");
    LinkLayer sll2 = new LinkLayer(LinkTypes.DLT_LINUX_SLL2);
    ByteBuffer c = ByteBuffer.allocate(20);
    assertEquals(20, sll2.writeHeader(c, 0, udp6(A, B), 0, LinkLayer.OUTBOUND));
    assertEquals(0x86DD, c.getShort(0) & 0xffff);
    assertEquals(0, new LinkLayer(LinkTypes.LINKTYPE_RAW).writeHeader(c, 0, udp6(A, B), 0, 0));
  }

  @Test
  void arrivalsAreCheckedAsTheKernelDoesBeforePrerouting() {
    ByteBuffer p = ByteBuffer.allocate(100);
    ByteBuffer udp = udp6(A, B); // 40 + 8 + 8
    p.put(0, udp, 0, udp.limit());
    assertEquals(56, Neighbours6.arrivalEnd(p, 0, 60), "padding after the payload is cut");
    assertEquals(-1, Neighbours6.arrivalEnd(p, 0, 55), "payload length beyond the bytes");
    assertEquals(-1, Neighbours6.arrivalEnd(p, 0, 39), "shorter than the header");
    // a destination-options header that claims more than there is: still an arrival (S56)
    ByteBuffer chain = Ipv6Builder.raw(60).source(A).destination(B).payload(new byte[8]).build();
    chain.put(41, (byte) 4);
    assertEquals(48, Neighbours6.arrivalEnd(chain, 0, 48));
    // the same in a hop-by-hop header: ip6_rcv_core drops it
    ByteBuffer hop = Ipv6Builder.raw(0).source(A).destination(B).payload(new byte[8]).build();
    hop.put(41, (byte) 4);
    assertEquals(-1, Neighbours6.arrivalEnd(hop, 0, 48));
    hop.put(41, (byte) 0);
    assertEquals(48, Neighbours6.arrivalEnd(hop, 0, 48));
  }

  @Test
  void theAddressPropertyTakesBothFamilies() throws DivertException {
    HostConfig c =
        HostConfig.parse(
            HostOptions.builder()
                .property(HostConfig.OUTSIDE, "a")
                .property(HostConfig.INSIDE, "b")
                .property(HostConfig.ADDRESS, "10.0.1.2/24, fd00:1::2/64,fe80::2/64")
                .property(HostConfig.ROUTES, "10.0.1.0/24,fd00:1::/64")
                .build());
    NetInterface i = c.netInterface("out0", 3, 1500);
    assertEquals("10.0.1.2", i.address().getHostAddress());
    assertEquals(
        Ipv6Addresses.parse("fd00:1::2"), i.address(IpFamily.IPV6).orElseThrow(), "global first");
    assertEquals(3, i.addresses().size());
    assertTrue(HostConfig.matches6(c.routes6, at("fd00:1::99"), 0));
    assertTrue(!HostConfig.matches6(c.routes6, at("fd00:2::1"), 0));
    assertEquals(1, c.routes.length);
    HostConfig d =
        HostConfig.parse(
            HostOptions.builder()
                .property(HostConfig.INPUT, "in.pcap")
                .property(HostConfig.OUTPUT, "out.pcap")
                .property(HostConfig.LOCAL, "fd00:1::/64")
                .build());
    assertTrue(d.hasLocal());
    assertTrue(d.isLocalSender6(at("fd00:1::5"), 0));
    assertTrue(HostConfig.matches6(d.routes6, at("2001:db8::1"), 0), "default routes: ::/0");
    for (String bad : new String[] {"fd00::1/129", "fd00:::1", "10.0.0.1/24,10.0.0.2/24"}) {
      DivertException e =
          assertThrows(
              DivertException.class,
              () ->
                  HostConfig.parse(
                      HostOptions.builder()
                          .property(HostConfig.OUTSIDE, "a")
                          .property(HostConfig.INSIDE, "b")
                          .property(HostConfig.ADDRESS, bad)
                          .build()),
              bad);
      assertTrue(e.getMessage().contains(HostConfig.ADDRESS), e.getMessage());
    }
  }
}
