package org.divert4j.rawsocket;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import org.divert4j.Chain;
import org.divert4j.DivertAddress;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.IpFamily;
import org.divert4j.Ipv6Addresses;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
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
    bed.host().addRule(DivertRule.parse("input -6 -j DIVERT 1234"));
    try (Reflector r = new Reflector(s, x -> true)) {
      assertTrue(bed.peer().ping(host6(), 3000, Duration.ofSeconds(3)));
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
}
