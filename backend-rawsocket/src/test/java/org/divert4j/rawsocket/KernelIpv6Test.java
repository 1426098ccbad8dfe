package org.divert4j.rawsocket;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.divert4j.AddressNotAvailableException;
import org.divert4j.Chain;
import org.divert4j.DivertAddress;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.IpFamily;
import org.divert4j.Ipv6Addresses;
import org.divert4j.MalformedPacketException;
import org.divert4j.NoRouteException;
import org.divert4j.PacketTooLargeException;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.packet.Ipv6Builder;
import org.divert4j.testbed.Datagram;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** IPv6 through real namespaces: ip6tables rules, receive, write back, fragment modes (S54-S57). */
class KernelIpv6Test {
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

  private InetAddress host6() {
    return bed.hostNode().address(IpFamily.IPV6).orElseThrow();
  }

  /** The fragment offset of an IPv6 packet whose first extension header is a fragment header. */
  private static int fragmentOffset(byte[] p) {
    return p[6] == 44 ? ((p[42] & 0xff) << 8 | (p[43] & 0xf8)) : -1;
  }

  @Test
  void testBedNodesHaveTheirIpv6Twins() throws Exception {
    bed(TestBedOptions.defaults());
    int v4 = org.divert4j.Ipv4.toInt((java.net.Inet4Address) bed.hostNode().address());
    assertEquals(
        String.format("fd00:%x::%x", (v4 >>> 8) & 0xffff, v4 & 0xff),
        Ipv6Addresses.toText(host6()));
    assertTrue(bed.peer().ping(host6(), 3000, Duration.ofSeconds(2)), "fragmented IPv6 works");
    assertTrue(bed.peer().ping(host6(), 56, Duration.ofSeconds(2)), "IPv6 works without rules");
  }

  @Test
  void perFragmentDeliversEachIpv6FragmentAndPingSucceeds() throws Exception {
    bed(TestBedOptions.defaults());
    DivertSocket s = bed.host().bind(1234);
    bed.host().addRule(DivertRule.parse("input -p icmpv6 --icmpv6-type 128 -j DIVERT 1234"));
    try (Reflector r = new Reflector(s)) {
      boolean ok = bed.peer().ping(host6(), 3000, Duration.ofSeconds(3));
      assertTrue(ok);
      List<Reflector.Seen> seen = r.seen();
      // S56: the rule names an ICMPv6 type, so only the first fragment can match it
      assertEquals(1, seen.size(), "ports and types are read from the first fragment only");
      assertEquals(0, fragmentOffset(seen.get(0).packet()));
      DivertAddress a = seen.get(0).address();
      assertEquals(Chain.INPUT, a.chain().orElseThrow());
      assertEquals("eth0", a.interfaceName());
      assertEquals(host6(), a.interfaceAddress6(), "S55: first global address");
      assertTrue(r.errors().isEmpty(), () -> r.errors().toString());
    }
  }

  @Test
  void perFragmentRuleWithoutTypeSeesThreeFragments() throws Exception {
    bed(TestBedOptions.defaults());
    DivertSocket s = bed.host().bind(1234);
    bed.host().addRule(DivertRule.parse("input -s " + text(peer6()) + " -j DIVERT 1234"));
    try (Reflector r = new Reflector(s, x -> true)) {
      assertTrue(bed.peer().ping(host6(), 3000, Duration.ofSeconds(3)));
      for (Reflector.Seen x : r.seen()) {
        byte[] src = java.util.Arrays.copyOfRange(x.packet(), 8, 24);
        assertEquals(peer6(), Ipv6Addresses.fromBytes(src), "only the rule's source matches");
      }
      List<Reflector.Seen> seen =
          r.seen().stream().filter(x -> fragmentOffset(x.packet()) >= 0).toList();
      assertEquals(3, seen.size(), "one delivery per fragment of the echo request");
      assertEquals(0, fragmentOffset(seen.get(0).packet()));
      assertEquals(1448, fragmentOffset(seen.get(1).packet()));
      assertEquals(2896, fragmentOffset(seen.get(2).packet()));
      assertTrue(r.errors().isEmpty(), () -> r.errors().toString());
    }
  }

  @Test
  void alwaysDefragmentDeliversTheWholeIpv6DatagramOnce() throws Exception {
    HostOptions h = HostOptions.builder().fragments(FragmentMode.ALWAYS_DEFRAGMENT).build();
    bed(TestBedOptions.builder().host(h).build());
    DivertSocket s = bed.host().bind(1234);
    bed.host().addRule(DivertRule.parse("input -p icmpv6 --icmpv6-type 128 -j DIVERT 1234"));
    try (Reflector r = new Reflector(s)) {
      assertTrue(bed.peer().ping(host6(), 3000, Duration.ofSeconds(3)));
      List<Reflector.Seen> seen = r.seen();
      assertEquals(1, seen.size());
      assertEquals(40 + 8 + 3000, seen.get(0).packet().length);
      assertTrue(r.errors().isEmpty(), () -> r.errors().toString());
    }
  }

  @Test
  void familiesAreKeptApartAndARuleWithoutFamilySeesBoth() throws Exception {
    bed(TestBedOptions.defaults());
    DivertSocket s = bed.host().bind(1234);
    bed.host().addRule(DivertRule.parse("input -4 -p udp --dport 7000 -j DIVERT 1234"));
    try (Reflector r = new Reflector(s)) {
      bed.peer().sendUdp(host6(), 5000, 7000, new byte[] {1});
      bed.peer().sendUdp(bed.hostNode().address(), 5000, 7000, new byte[] {2});
      assertEquals(1, r.await(1, Duration.ofSeconds(2)).size());
      Thread.sleep(200);
      assertEquals(1, r.seen().size(), "an IPv4 rule does not divert IPv6");
      assertEquals(4, r.seen().get(0).packet()[0] >> 4);
      bed.host().rules().get(0).remove();
      bed.host().addRule(DivertRule.parse("input -p udp --dport 7000 -j DIVERT 1234"));
      bed.peer().sendUdp(host6(), 5000, 7000, new byte[] {3});
      bed.peer().sendUdp(bed.hostNode().address(), 5000, 7000, new byte[] {4});
      List<Reflector.Seen> seen = r.await(3, Duration.ofSeconds(2));
      assertEquals(3, seen.size(), "S54: a rule without family diverts both");
    }
  }

  @Test
  void ipv6RuleWithoutListenerDropsIpv6() throws Exception {
    bed(TestBedOptions.defaults());
    bed.host().addRule(DivertRule.parse("input -p icmpv6 -j DIVERT 1234"));
    assertFalse(bed.peer().ping(host6(), 56, Duration.ofMillis(700)), "S11 for IPv6");
    assertTrue(
        bed.peer().ping(bed.hostNode().address(), 56, Duration.ofSeconds(2)),
        "IPv4 is untouched by an IPv6 rule");
  }

  private static String text(InetAddress a) {
    return Ipv6Addresses.toText(a);
  }

  private InetAddress peer6() {
    return bed.peer().address(IpFamily.IPV6).orElseThrow();
  }

  @Test
  void injectedIpv6ArrivesWithItsPayloadLengthFixedAndNoOtherChange() throws Exception {
    bed(TestBedOptions.defaults());
    DivertSocket s = bed.host().bind(1234);
    try (UdpEndpoint peer = bed.peer().openUdp(7000);
        UdpEndpoint host = bed.hostNode().openUdp(7001)) {
      // outbound, routed by the destination; the payload length is wrong on purpose (S61)
      ByteBuffer out =
          Ipv6Builder.udp(5000, 7000)
              .source(text(host6()))
              .destination(text(peer6()))
              .payload("out".getBytes(StandardCharsets.US_ASCII))
              .build();
      out.putShort(4, (short) 999);
      s.send(out, DivertAddress.OUTBOUND);
      Datagram d = peer.receive(Duration.ofSeconds(2));
      assertTrue(d != null, "the outbound injection arrived");
      assertEquals("out", new String(d.payload(), StandardCharsets.US_ASCII));
      assertEquals(host6(), d.source());
      // inbound at the host's own IPv6 address (S60): delivered to its stack
      ByteBuffer in =
          Ipv6Builder.udp(5000, 7001)
              .source(text(peer6()))
              .destination(text(host6()))
              .payload("in".getBytes(StandardCharsets.US_ASCII))
              .build();
      s.send(in, DivertAddress.inbound(host6()));
      Datagram h = host.receive(Duration.ofSeconds(2));
      assertTrue(h != null, "the inbound injection reached the host's stack");
      assertEquals("in", new String(h.payload(), StandardCharsets.US_ASCII));
    }
  }

  @Test
  void ipv6SendRefusalsNameTheirCause() throws Exception {
    bed(TestBedOptions.builder().peerMtu(1280).build());
    DivertSocket s = bed.host().bind(1234);
    ByteBuffer big =
        Ipv6Builder.udp(5000, 7000)
            .source(text(host6()))
            .destination(text(peer6()))
            .payload(new byte[1400])
            .build();
    PacketTooLargeException tooLarge =
        assertThrows(PacketTooLargeException.class, () -> s.send(big, DivertAddress.OUTBOUND));
    assertEquals(1280, tooLarge.mtu(), "S59: the egress MTU");
    ByteBuffer linkLocal =
        Ipv6Builder.udp(5000, 7000)
            .source(text(host6()))
            .destination("fe80::1")
            .payload(new byte[8])
            .build();
    NoRouteException noRoute =
        assertThrows(NoRouteException.class, () -> s.send(linkLocal, DivertAddress.OUTBOUND));
    assertTrue(noRoute.getMessage().contains("no route"), noRoute.getMessage());
    ByteBuffer toPeer =
        Ipv6Builder.udp(5000, 7000)
            .source(text(peer6()))
            .destination(text(host6()))
            .payload(new byte[8])
            .build();
    assertThrows(
        AddressNotAvailableException.class,
        () -> s.send(toPeer, DivertAddress.inbound(Ipv6Addresses.parse("fd00:ffff::1"))),
        "S60: not a local address");
    ByteBuffer shortOne = ByteBuffer.allocate(30);
    shortOne.put(0, (byte) 0x60);
    MalformedPacketException bad =
        assertThrows(
            MalformedPacketException.class, () -> s.send(shortOne, DivertAddress.OUTBOUND));
    assertTrue(bad.getMessage().contains("IPV6_TOO_SHORT"), bad.getMessage());
    ByteBuffer jumbo =
        Ipv6Builder.udp(5000, 7000)
            .source(text(host6()))
            .destination(text(peer6()))
            .hopByHop(new byte[] {(byte) 0xC2, 4, 0, 1, 0, 0})
            .payload(new byte[8])
            .build();
    jumbo.putShort(4, (short) 0);
    MalformedPacketException j =
        assertThrows(MalformedPacketException.class, () -> s.send(jumbo, DivertAddress.OUTBOUND));
    assertTrue(j.getMessage().contains("JUMBO"), j.getMessage());
    // the socket keeps working
    ByteBuffer ok =
        Ipv6Builder.udp(5000, 7000)
            .source(text(host6()))
            .destination(text(peer6()))
            .payload(new byte[8])
            .build();
    s.send(ok, DivertAddress.OUTBOUND);
  }

  @Test
  void perFragmentIsRefusedWhereIpv6ConntrackIsActive() throws Exception {
    try (Netns ns = Netns.create(Netns.uniqueName("ct6"))) {
      HostOptions o = refusedPerFragmentOnceIpv6ConntrackIsActive(ns);
      try (DivertHost h =
          new RawSocketProvider()
              .open(o.toBuilder().fragments(FragmentMode.ALWAYS_DEFRAGMENT).build())) {
        h.addRule(DivertRule.parse("input -6 -j DIVERT 5"));
      }
      assertFalse(ns.execChecked("ip6tables-nft-save").contains("divert4j"));
    }
  }

  /**
   * Many hosts run with IPv6 switched off (disable_ipv6=1). There the IPv6 probe has no local
   * address to send from; it used to send to ::1 anyway, miss its own fragments, and refuse
   * PER_FRAGMENT as if nf_defrag_ipv6 were active.
   */
  @Test
  void perFragmentOpensWhereIpv6IsDisabled() throws Exception {
    try (Netns ns = Netns.create(Netns.uniqueName("no6"))) {
      for (String k : List.of("all", "default", "lo")) {
        ns.sysctl("net.ipv6.conf." + k + ".disable_ipv6", "1");
      }
      HostOptions o = HostOptions.builder().property("rawsocket.netns", ns.name()).build();
      try (DivertHost h = new RawSocketProvider().open(o)) {
        assertEquals(FragmentMode.PER_FRAGMENT, h.options().fragments());
        h.addRule(DivertRule.parse("input -4 -j DIVERT 5"));
      }
      assertFalse(ns.execChecked("ip6tables-nft-save").contains("divert4j"));
    }
  }

  /** With IPv6 off on lo only, the probe uses an interface's address: a conntrack user is seen. */
  @Test
  void perFragmentIsRefusedWhereIpv6ConntrackIsActiveAndLoopbackHasNoIpv6() throws Exception {
    try (Netns ns = Netns.create(Netns.uniqueName("ct6lo"))) {
      ns.sysctl("net.ipv6.conf.lo.disable_ipv6", "1");
      ns.ip("link", "add", "v0", "type", "veth", "peer", "name", "v1");
      ns.ip("link", "set", "v0", "up");
      ns.ip("link", "set", "v1", "up");
      ns.ip("-6", "addr", "add", "fd00:6::1/64", "dev", "v0", "nodad");
      refusedPerFragmentOnceIpv6ConntrackIsActive(ns);
    }
  }

  /**
   * Adds an ip6tables conntrack user to the namespace, checks that a per-fragment open is refused
   * naming nf_defrag_ipv6 and leaves no rule of ours behind.
   *
   * @return the options that were refused
   */
  private static HostOptions refusedPerFragmentOnceIpv6ConntrackIsActive(Netns ns)
      throws Exception {
    ns.execChecked(
        "ip6tables-nft", "-A", "INPUT", "-m", "conntrack", "--ctstate", "NEW", "-j", "ACCEPT");
    HostOptions o = HostOptions.builder().property("rawsocket.netns", ns.name()).build();
    DivertException e = assertThrows(DivertException.class, () -> new RawSocketProvider().open(o));
    assertTrue(e.getMessage().contains("nf_defrag_ipv6"), e.getMessage());
    assertFalse(ns.execChecked("ip6tables-nft-save").contains("divert4j"));
    return o;
  }

  @Test
  void outboundDatagramAboveTheMtuArrivesAsTheHostsFragments() throws Exception {
    bed(TestBedOptions.defaults());
    DivertSocket s = bed.host().bind(1234);
    bed.host().addRule(DivertRule.parse("output -6 -d " + text(peer6()) + "/128 -j DIVERT 1234"));
    try (Reflector r = new Reflector(s)) {
      assertTrue(bed.hostNode().ping(peer6(), 3000, Duration.ofSeconds(3)));
      // (neighbour discovery to the peer goes out through the same rule, unfragmented)
      List<Reflector.Seen> seen =
          r.seen().stream().filter(x -> fragmentOffset(x.packet()) >= 0).toList();
      assertEquals(3, seen.size(), "S57: the output port sees the fragments that go on the wire");
      assertEquals(0, fragmentOffset(seen.get(0).packet()));
      assertEquals(1448, fragmentOffset(seen.get(1).packet()));
      assertEquals(2896, fragmentOffset(seen.get(2).packet()));
      for (Reflector.Seen x : seen) {
        assertTrue(x.packet().length <= 1500);
      }
      assertTrue(r.errors().isEmpty(), () -> r.errors().toString());
    }
  }
}
