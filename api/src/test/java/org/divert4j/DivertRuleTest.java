package org.divert4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class DivertRuleTest {
  /** A UDP header-only packet 10.0.0.1:1000 -> 10.0.0.2:53, with the given fragment field. */
  private static ByteBuffer udp(int fragmentField) {
    ByteBuffer b = ByteBuffer.allocate(28);
    b.put(0, (byte) 0x45);
    b.putShort(2, (short) 28);
    b.putShort(6, (short) fragmentField);
    b.put(8, (byte) 64);
    b.put(9, (byte) DivertRule.UDP);
    b.putInt(12, 0x0A000001);
    b.putInt(16, 0x0A000002);
    b.putShort(20, (short) 1000);
    b.putShort(22, (short) 53);
    return b;
  }

  private static ByteBuffer icmp(int type) {
    ByteBuffer b = ByteBuffer.allocate(28);
    b.put(0, (byte) 0x45);
    b.putShort(2, (short) 28);
    b.put(9, (byte) DivertRule.ICMP);
    b.putInt(12, 0x0A000001);
    b.putInt(16, 0x0A000002);
    b.put(20, (byte) type);
    return b;
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "input -p icmp -j DIVERT 1234|input -p icmp -j DIVERT 1234",
        "input icmp port 1234|input -p icmp -j DIVERT 1234",
        "OUTPUT udp dport 53 divert 7|output -p udp --dport 53 -j DIVERT 7",
        "forward -p tcp -s 10.1.2.3/8 -d 192.168.0.1 --sport 1000:2000 -i eth0 -o eth1 -j divert 9"
            + "|forward -p tcp -s 10.0.0.0/8 -d 192.168.0.1/32 --sport 1000:2000 -i eth0 -o eth1"
            + " -j DIVERT 9",
        "input -p icmp --icmp-type 8 -j DIVERT 1|input -p icmp --icmp-type 8 -j DIVERT 1",
        "input proto 47 port 3|input -p 47 -j DIVERT 3",
        "input all from 10.0.0.0/24 to 10.0.1.0/24 in eth2 port 5"
            + "|input -s 10.0.0.0/24 -d 10.0.1.0/24 -i eth2 -j DIVERT 5",
        "output udp dport :1023 port 4|output -p udp --dport 0:1023 -j DIVERT 4",
      })
  void parsesAndPrintsCanonically(String text, String canonical) {
    DivertRule r = DivertRule.parse(text);
    assertEquals(canonical, r.toString());
    assertEquals(r, DivertRule.parse(r.toString()));
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "''|empty rule",
        "sideways icmp port 1|unknown chain 'sideways'",
        "input icmp|names no divert port",
        "input icmp port 0|from 1 to 65535",
        "input icmp port 65536|from 1 to 65535",
        "input -p icmp --dport 53 port 1|need protocol udp or tcp",
        "input udp --icmp-type 8 port 1|needs protocol icmp",
        "input -s 10.0.0.300 port 1|not an IPv4 address",
        "input -s 10.0.0.0/33 port 1|prefix length",
        "input -o eth0 port 1|no output interface",
        "output -i eth0 port 1|no input interface",
        "input icmp -j ACCEPT|only DIVERT",
        "input icmp -p|needs a value",
        "input icmp bogus port 1|unexpected 'bogus'",
        "input udp dport 9:3 port 1|range is empty",
      })
  void rejectsBadRulesNamingTheFault(String text, String fault) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> DivertRule.parse(text));
    assertTrue(e.getMessage().contains(fault), e.getMessage());
  }

  @Test
  void defaultPortAppliesWhenTheTextNamesNone() {
    assertEquals(77, DivertRule.parse("input icmp", 77).port());
    assertEquals(5, DivertRule.parse("input icmp port 5", 77).port());
  }

  @Test
  void matchesProtocolAddressesPortsAndInterfaces() {
    DivertRule r = DivertRule.parse("input -p udp -s 10.0.0.0/24 --dport 53 -i eth0 -j DIVERT 1");
    assertTrue(r.matches(udp(0), "eth0", null));
    assertFalse(r.matches(udp(0), "eth1", null));
    assertFalse(DivertRule.parse("input -p udp --dport 54 port 1").matches(udp(0), null, null));
    assertFalse(DivertRule.parse("input -p tcp port 1").matches(udp(0), null, null));
    assertFalse(DivertRule.parse("input -d 10.0.0.3 port 1").matches(udp(0), null, null));
    assertTrue(DivertRule.parse("input -d 10.0.0.0/30 port 1").matches(udp(0), null, null));
    assertTrue(DivertRule.parse("output -o eth1 port 1").matches(udp(0), null, "eth1"));
  }

  @ParameterizedTest
  @ValueSource(ints = {0x2000, 0x0001, 0x00b9})
  void transportTestsMatchOnlyFirstFragments(int fragmentField) {
    boolean first = (fragmentField & 0x1fff) == 0;
    // S7: a port rule matches only the offset-0 fragment; a protocol rule matches every fragment.
    assertEquals(
        first,
        DivertRule.parse("input udp dport 53 port 1").matches(udp(fragmentField), null, null));
    assertTrue(DivertRule.parse("input udp port 1").matches(udp(fragmentField), null, null));
  }

  @Test
  void matchesIcmpType() {
    DivertRule echo = DivertRule.parse("input icmp type 8 port 1");
    assertTrue(echo.matches(icmp(8), null, null));
    assertFalse(echo.matches(icmp(0), null, null));
  }

  @Test
  void aTooShortPacketNeverMatches() {
    assertFalse(DivertRule.parse("input port 1").matches(ByteBuffer.allocate(19), null, null));
    ByteBuffer headerOnly = udp(0).limit(21);
    assertFalse(DivertRule.parse("input udp dport 53 port 1").matches(headerOnly, null, null));
  }

  @Test
  void matchingRespectsTheBufferPosition() {
    ByteBuffer b = ByteBuffer.allocate(40);
    b.position(12);
    b.put(udp(0));
    b.position(12);
    assertTrue(DivertRule.parse("input udp dport 53 port 1").matches(b, null, null));
    assertEquals(12, b.position());
  }

  @Test
  void carriesAFilterThatRoundTrips() {
    DivertRule r = DivertRule.parse("input filter \"tcp.DstPort == 443\" -j DIVERT 5");
    assertEquals("input filter \"tcp.DstPort == 443\" -j DIVERT 5", r.toString());
    assertEquals(r, DivertRule.parse(r.toString()));
    assertEquals("tcp.DstPort == 443", r.filter().toString());
    DivertRule s =
        DivertRule.parse("output -p udp --filter \"udp.DstPort=53 && !loopback\" port 9");
    assertEquals(
        "output -p udp filter \"udp.DstPort == 53 and not loopback\" -j DIVERT 9", s.toString());
    assertEquals(s, DivertRule.parse(s.toString()));
    assertEquals(s, s.withPort(9));
    assertEquals(
        "input filter \"tcp\" -j DIVERT 1", DivertRule.parse("input filter tcp port 1").toString());
    assertEquals(null, DivertRule.parse("input -p tcp -j DIVERT 1").filter());
  }

  @Test
  void aFilterIsTestedAfterTheOtherMatches() {
    org.divert4j.filter.FilterContext c = new org.divert4j.filter.FilterContext();
    ByteBuffer syn =
        org.divert4j.packet.Ipv4Builder.tcp(1000, 443)
            .tcpFlags(org.divert4j.packet.Ipv4Builder.TCP_SYN)
            .build();
    DivertRule r =
        DivertRule.parse("input -p tcp filter \"tcp.Syn and tcp.DstPort == 443\" -j DIVERT 5");
    assertTrue(r.matches(syn, null, null, c));
    assertTrue(
        DivertRule.parse("input -p tcp filter \"tcp.Ack\" -j DIVERT 5").matches(syn, null, null));
    assertFalse(
        DivertRule.parse("input -p tcp filter \"tcp.Ack\" -j DIVERT 5")
            .matches(syn, null, null, c));
    assertFalse(
        DivertRule.parse("input -p udp filter \"tcp.Syn\" -j DIVERT 5")
            .matches(syn, null, null, c));
  }

  @Test
  void aBadFilterFailsWithItsPosition() {
    IllegalArgumentException e =
        assertThrows(
            org.divert4j.filter.FilterSyntaxException.class,
            () -> DivertRule.parse("input filter \"(tcp.DstPort == )\" -j DIVERT 5"));
    assertEquals("at 17: expected a field or a number, found ')'", e.getMessage());
    assertEquals(
        "unclosed quote at 14 in rule 'input filter \"tcp -j DIVERT 5'",
        assertThrows(
                IllegalArgumentException.class,
                () -> DivertRule.parse("input filter \"tcp -j DIVERT 5"))
            .getMessage());
  }
}
