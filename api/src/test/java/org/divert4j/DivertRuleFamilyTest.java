package org.divert4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Optional;
import org.divert4j.packet.Ipv4Builder;
import org.divert4j.packet.Ipv6Builder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** S54 and S56: rule families, IPv6 prefixes, ICMPv6, and matching through extension headers. */
class DivertRuleFamilyTest {
  private static ByteBuffer udp6(String src, String dst, int sport, int dport) {
    return Ipv6Builder.udp(sport, dport).source(src).destination(dst).payload(new byte[8]).build();
  }

  private static ByteBuffer udp4(int sport, int dport) {
    return Ipv4Builder.udp(sport, dport)
        .source(Ipv4.parseInt("10.0.0.1"))
        .destination(Ipv4.parseInt("10.0.0.2"))
        .payload(new byte[8])
        .build();
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "input -6 -p udp --dport 53 port 1|input -6 -p udp --dport 53 -j DIVERT 1",
        "input ip4 udp port 1|input -4 -p udp -j DIVERT 1",
        "input -p icmpv6 --icmpv6-type 128 -j DIVERT 2|input -p icmpv6 --icmpv6-type 128 -j DIVERT 2",
        "input ipv6-icmp type 135 port 2|input -p icmpv6 --icmpv6-type 135 -j DIVERT 2",
        "input -s fd00:1::5/64 -d fd00:2::1 port 3|input -s fd00:1::/64 -d fd00:2::1/128 -j DIVERT 3",
        "output -6 -d fd00::/8 port 4|output -d fd00::/8 -j DIVERT 4",
        "input -4 -p icmp port 5|input -p icmp -j DIVERT 5",
      })
  void parsesAndPrintsBothFamilies(String text, String canonical) {
    DivertRule r = DivertRule.parse(text);
    assertEquals(canonical, r.toString());
    assertEquals(r, DivertRule.parse(r.toString()));
  }

  @Test
  void familiesAreImpliedOrBoth() {
    assertEquals(Optional.empty(), DivertRule.parse("input udp port 1").family());
    assertEquals(Optional.of(IpFamily.IPV4), DivertRule.parse("input icmp port 1").family());
    assertEquals(Optional.of(IpFamily.IPV6), DivertRule.parse("input icmpv6 port 1").family());
    assertEquals(Optional.of(IpFamily.IPV6), DivertRule.parse("input -s ::1 port 1").family());
    assertEquals(Optional.of(IpFamily.IPV4), DivertRule.parse("input -d 10.0.0.1 port 1").family());
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "input -s 10.0.0.1 -d fd00::1 port 1|10.0.0.1/32",
        "input -s 10.0.0.1 -d fd00::1 port 1|fd00::1/128",
        "input -6 -s 10.0.0.1 port 1|-6",
        "input -4 -d fd00::1 port 1|-4",
        "input -6 icmp port 1|icmp",
        "input -d 10.0.0.0/8 icmpv6 port 1|icmpv6",
        "input -s fd00::/129 port 1|129",
        "input -s fd00::zz port 1|fd00::zz",
      })
  void refusesMixedFamiliesNamingBoth(String text, String named) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> DivertRule.parse(text));
    assertTrue(e.getMessage().contains(named), e.getMessage());
  }

  @Test
  void aRuleWithoutFamilyMatchesBoth() {
    DivertRule r = DivertRule.parse("input udp dport 53 port 1");
    assertTrue(r.matches(udp4(1000, 53), "eth0", null));
    assertTrue(r.matches(udp6("fd00::1", "fd00::2", 1000, 53), "eth0", null));
    assertFalse(r.matches(udp6("fd00::1", "fd00::2", 1000, 54), "eth0", null));
    assertFalse(
        DivertRule.parse("input -4 udp port 1").matches(udp6("::1", "::2", 1, 2), "", null));
    assertFalse(DivertRule.parse("input -6 udp port 1").matches(udp4(1, 2), "eth0", null));
  }

  @Test
  void icmpIsIpv4AndIcmpv6IsIpv6() {
    ByteBuffer echo6 =
        Ipv6Builder.icmpv6EchoRequest(1, 1).source("fd00::1").destination("fd00::2").build();
    assertTrue(DivertRule.parse("input icmpv6 type 128 port 1").matches(echo6, "eth0", null));
    assertFalse(DivertRule.parse("input icmpv6 type 129 port 1").matches(echo6, "eth0", null));
    assertFalse(DivertRule.parse("input icmp port 1").matches(echo6, "eth0", null));
  }

  @Test
  void ipv6PrefixesMatchBitByBit() {
    ByteBuffer p = udp6("fd00:1::80", "fd00:2::1", 5, 6);
    assertTrue(DivertRule.parse("input -s fd00:1::80/121 port 1").matches(p, "eth0", null));
    assertFalse(DivertRule.parse("input -s fd00:1::/121 port 1").matches(p, "eth0", null));
    assertTrue(DivertRule.parse("input -s fd00:1::/120 port 1").matches(p, "eth0", null));
    assertTrue(DivertRule.parse("input -d fd00::/15 port 1").matches(p, "eth0", null));
    assertFalse(DivertRule.parse("input -d fd00:3::/32 port 1").matches(p, "eth0", null));
    assertTrue(DivertRule.parse("input -d ::/0 port 1").matches(p, "eth0", null));
  }

  @Test
  void portsAreFoundBehindExtensionHeadersOnTheFirstFragmentOnly() {
    byte[] opts = new byte[6]; // PadN to fill an 8-byte header
    opts[0] = 1;
    opts[1] = 4;
    ByteBuffer first =
        Ipv6Builder.udp(1000, 53)
            .source("fd00::1")
            .destination("fd00::2")
            .hopByHop(opts)
            .destinationOptions(opts)
            .fragmentHeader(0, true, 7)
            .payload(new byte[16])
            .build();
    ByteBuffer later =
        Ipv6Builder.raw(DivertRule.UDP)
            .source("fd00::1")
            .destination("fd00::2")
            .fragmentHeader(24, false, 7)
            .payload(new byte[16])
            .build();
    DivertRule ports = DivertRule.parse("input udp dport 53 port 1");
    DivertRule proto = DivertRule.parse("input udp port 1");
    assertTrue(ports.matches(first, "eth0", null));
    assertFalse(ports.matches(later, "eth0", null), "S56: ports only on offset 0");
    assertTrue(proto.matches(later, "eth0", null), "S56: protocol on every fragment");
  }

  @Test
  void aHeaderChainPastTheEndMatchesOnlyRulesWithoutProtocol() {
    ByteBuffer p = udp6("fd00::1", "fd00::2", 1, 2);
    p.put(6, (byte) 0); // next header hop-by-hop, but what follows is no such header
    p.put(41, (byte) 200); // its length runs far past the end
    assertFalse(DivertRule.parse("input udp port 1").matches(p, "eth0", null));
    assertTrue(DivertRule.parse("input -6 port 1").matches(p, "eth0", null));
    assertTrue(DivertRule.parse("input -d fd00::2 port 1").matches(p, "eth0", null));
  }
}
