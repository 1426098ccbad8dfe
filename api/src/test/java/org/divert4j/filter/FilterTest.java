package org.divert4j.filter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.divert4j.Direction;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

class FilterTest {
  private static final byte[] NONE = new byte[0];
  private static final byte[] HELLO = "hello".getBytes(StandardCharsets.US_ASCII);

  private record Case(
      String filter, String packetName, Supplier<ByteBuffer> packet, boolean want) {}

  private static final List<Case> CASES = new ArrayList<>();

  private static void add(String packetName, Supplier<ByteBuffer> p, Object... filterAndWant) {
    for (int i = 0; i < filterAndWant.length; i += 2) {
      CASES.add(new Case((String) filterAndWant[i], packetName, p, (Boolean) filterAndWant[i + 1]));
    }
  }

  static {
    Supplier<ByteBuffer> syn443 = () -> Packets.tcp4(40000, 443, 0x02, NONE);
    add(
        "IPv4 TCP SYN to 443",
        syn443,
        "true",
        true,
        "false",
        false,
        "zero",
        false,
        "ip",
        true,
        "ipv6",
        false,
        "tcp",
        true,
        "udp",
        false,
        "icmp",
        false,
        "tcp.DstPort == 443",
        true,
        "tcp.DstPort = 443",
        true,
        "tcp.DstPort != 443",
        false,
        "tcp.DstPort > 442 and tcp.DstPort < 444",
        true,
        "tcp.DstPort >= 444 || tcp.SrcPort <= 40000",
        true,
        "tcp.Syn",
        true,
        "tcp.Ack",
        false,
        "!tcp.Ack && tcp.Syn",
        true,
        "tcp.Fin or tcp.Rst or tcp.Psh or tcp.Urg",
        false,
        "tcp.SeqNum == 1000 and tcp.AckNum == 2000",
        true,
        "tcp.HdrLength == 5 and tcp.Window == 65535",
        true,
        "tcp.PayloadLength == 0",
        true,
        "tcp.PayloadLength > 0",
        false,
        "tcp.Payload[0] == 0",
        false,
        "not tcp.Payload[0] == 0",
        true,
        "udp.DstPort == 443",
        false,
        "not udp.DstPort == 443",
        true,
        "ip.SrcAddr == 10.0.0.1",
        true,
        "ip.DstAddr == 10.0.0.0/8",
        true,
        "ip.DstAddr == 10.0.0.0/31",
        false,
        "ip.DstAddr != 11.0.0.0/8",
        true,
        "ip.DstAddr == ::ffff:10.0.0.2",
        true,
        "ip.SrcAddr < 10.0.0.2",
        true,
        "ip.SrcAddr == 167772161",
        false,
        "ip.TTL == 64 and ip.Protocol == TCP",
        true,
        "ip.Protocol == 6",
        true,
        "ip.HdrLength == 5 and ip.Length == 40 and ip.Id == 0x1111",
        true,
        "ip.DF and not ip.MF and ip.FragOff == 0",
        true,
        "ip.TOS == 0",
        true,
        "fragment",
        false,
        "ipv6.SrcAddr == 2001:db8::1",
        false,
        "not ipv6.HopLimit == 64",
        true,
        "length == 40",
        true,
        "packet[0] == 0x45",
        true,
        "packet[-1] == 0",
        true,
        "packet16[1] == 40",
        true,
        "packet32[3] == 10.0.0.1",
        false,
        "packet32[3] == 0x0a000001",
        true,
        "packet32[12b] == 0x0a000001",
        true,
        "packet32[-7] == 0x0a000001",
        true,
        "packet[-40b] == 0x45",
        true,
        "packet[40] == 0",
        false,
        "packet[-41b] == 0x45",
        false,
        "tcp.DstPort == -1",
        false,
        "tcp.DstPort > -1",
        true,
        "tcp ? tcp.DstPort == 443 : false",
        true,
        "(udp? udp.DstPort == 53: tcp.DstPort == 443)",
        true,
        "(tcp? tcp.DstPort == 80: true)",
        false,
        "udp ? true : false",
        false,
        "tcp.DstPort == 80 or tcp.DstPort == 443 and tcp.Syn",
        true,
        "(tcp.DstPort == 80 or tcp.DstPort == 443) and tcp.Ack",
        false,
        "tcp.DstPort == 80 or tcp.DstPort == 443 and tcp.Ack",
        false,
        "not not tcp",
        true,
        "tcp.SrcPort > tcp.DstPort",
        true,
        "tcp.DstPort == ip.Length",
        false,
        "1",
        true,
        "0",
        false,
        "TRUE == 1",
        true);
    add(
        "IPv4 UDP 53 with payload",
        () -> Packets.udp4(5353, 53, HELLO),
        "udp and udp.DstPort == 53",
        true,
        "udp.Length == 13 and udp.PayloadLength == 5",
        true,
        "udp.Payload[0] == 0x68",
        true,
        "udp.Payload[-1] == 0x6f",
        true,
        "udp.Payload32[0] == 0x68656c6c",
        true,
        "udp.Payload16[-1] == 0x6c6f",
        true,
        "udp.Payload[5] == 0",
        false,
        "udp.Checksum == 0",
        true,
        "tcp.DstPort == 53",
        false,
        "not tcp.Syn",
        true,
        "ip.DF",
        false,
        "outbound and !loopback and (tcp.DstPort == 80 or udp.DstPort == 53)",
        true);
    add(
        "IPv4 UDP, later fragment",
        () ->
            Packets.ipv4(
                Packets.UDP,
                "10.0.0.1",
                "10.0.0.2",
                0x2003,
                Packets.transport(Packets.UDP, 1, 53, 0, HELLO)),
        "udp",
        true,
        "fragment",
        true,
        "ip.MF and ip.FragOff == 3",
        true,
        "udp.DstPort == 53",
        false,
        "not udp.DstPort == 53",
        true,
        "udp.PayloadLength >= 0",
        false);
    add(
        "IPv4 UDP, first fragment",
        () ->
            Packets.ipv4(
                Packets.UDP,
                "10.0.0.1",
                "10.0.0.2",
                0x2000,
                Packets.transport(Packets.UDP, 1, 53, 0, HELLO)),
        "fragment and udp.DstPort == 53",
        true);
    add(
        "IPv4 ICMP echo",
        () ->
            Packets.ipv4(
                Packets.ICMP,
                "192.168.1.1",
                "8.8.8.8",
                0,
                Packets.transport(Packets.ICMP, 8, 0, 0, NONE)),
        "icmp and icmp.Type == 8 and icmp.Code == 0",
        true,
        "icmp.Checksum == 0x1234 and icmp.Body == 0x5678",
        true,
        "icmpv6",
        false,
        "icmpv6.Type == 8",
        false,
        "ip.DstAddr == 8.8.8.8 and ip.SrcAddr == 192.168.0.0/16",
        true);
    add(
        "IPv6 TCP to 443 with payload",
        () -> Packets.tcp6(40000, 443, 0x18, HELLO),
        "ipv6 and not ip",
        true,
        "tcp.DstPort == 443 and tcp.Psh and tcp.Ack",
        true,
        "tcp.PayloadLength == 5",
        true,
        "tcp.Payload[0] == 0x68",
        true,
        "ipv6.SrcAddr == 2001:db8::1",
        true,
        "ipv6.DstAddr == 2001:db8::/32",
        true,
        "ipv6.DstAddr == 2001:db9::/32",
        false,
        "ipv6.DstAddr > 2001:db8::1",
        true,
        "ipv6.TrafficClass == 0x12 and ipv6.FlowLabel == 0xabcde",
        true,
        "ipv6.Length == 25 and ipv6.NextHdr == 6 and ipv6.HopLimit == 64",
        true,
        "ip.SrcAddr == 10.0.0.1",
        false,
        "not ip.TTL == 64",
        true,
        "fragment",
        false,
        "length == 65",
        true);
    add(
        "IPv6 UDP behind hop-by-hop, routing, destination options",
        () ->
            Packets.ipv6(
                Packets.UDP,
                "fe80::1",
                "ff02::fb",
                new int[] {0, 43, 60},
                0,
                Packets.transport(Packets.UDP, 5353, 5353, 0, HELLO),
                255),
        "udp.DstPort == 5353 and udp.PayloadLength == 5",
        true,
        "ipv6.NextHdr == 0",
        true,
        "udp.Payload[0] == 0x68",
        true,
        "ipv6.DstAddr == ff00::/8",
        true);
    add(
        "IPv6 ICMPv6 echo behind a first fragment",
        () ->
            Packets.ipv6(
                Packets.ICMPV6,
                "::1",
                "::1",
                new int[] {44},
                0x0001,
                Packets.transport(Packets.ICMPV6, 128, 0, 0, NONE),
                64),
        "icmpv6 and icmpv6.Type == 128",
        true,
        "fragment",
        true,
        "icmp",
        false,
        "icmp.Type == 128",
        false,
        "ipv6.SrcAddr == ::1",
        true);
    add(
        "IPv6 UDP, later fragment",
        () -> Packets.ipv6(Packets.UDP, "::1", "::2", new int[] {44}, 0x0010, HELLO, 64),
        "udp and fragment",
        true,
        "udp.DstPort == 0 or udp.DstPort != 0",
        false,
        "not udp.SrcPort == 1",
        true);
    add(
        "IPv6 with a header chain past its end",
        () -> {
          ByteBuffer b = Packets.ipv6(Packets.UDP, "::1", "::2", new int[] {0}, 0, NONE, 64);
          b.array()[41] = 9; // hop-by-hop length 80 bytes: past the end
          return b;
        },
        "ipv6",
        true,
        "udp",
        false,
        "tcp or udp or icmpv6",
        false,
        "ipv6.NextHdr == 0",
        true);
    add(
        "not IP",
        () -> ByteBuffer.wrap(new byte[] {0x10, 1, 2}),
        "ip or ipv6",
        false,
        "length == 3",
        true,
        "packet[1] == 1 and packet16[-1] == 0x0102",
        true,
        "fragment",
        false,
        "not fragment",
        true);
  }

  @TestFactory
  Stream<DynamicTest> tableOfPacketsAndFilters() {
    FilterContext ctx = new FilterContext();
    return CASES.stream()
        .map(
            c ->
                DynamicTest.dynamicTest(
                    c.packetName + ": " + c.filter,
                    () -> {
                      Filter f = Filter.parse(c.filter);
                      ByteBuffer p = c.packet.get();
                      assertEquals(c.want, f.matches(p, ctx), f.toString());
                      // the same packet at an offset in a little-endian buffer: same verdict
                      ByteBuffer d = displaced(p);
                      assertEquals(c.want, f.matches(d, ctx), "displaced");
                      assertEquals(3, d.position());
                      // the canonical text reads back to an equal filter with the same verdict
                      Filter again = Filter.parse(f.toString());
                      assertEquals(f, again);
                      assertEquals(c.want, again.matches(p, ctx));
                    }));
  }

  private static ByteBuffer displaced(ByteBuffer p) {
    ByteBuffer d = ByteBuffer.allocate(p.remaining() + 7).order(ByteOrder.LITTLE_ENDIAN);
    d.put(new byte[] {(byte) 0x99, (byte) 0x99, (byte) 0x99});
    d.put(p.duplicate());
    d.put(new byte[] {0x45, 0x60, 0x11, 0x22});
    d.position(3).limit(3 + p.remaining());
    return d;
  }

  @Test
  void contextFieldsComeFromTheContext() {
    ByteBuffer p = Packets.udp4(1, 2, NONE);
    FilterContext c = new FilterContext();
    Filter f = Filter.parse("inbound and loopback and ifIdx == 7");
    assertEquals(false, f.matches(p, c));
    assertEquals(true, f.matches(p, c.set(Direction.INBOUND, true, 7)));
    assertEquals(false, f.matches(p, c.set(Direction.OUTBOUND, true, 7)));
    assertEquals(true, Filter.parse("outbound and not inbound").matches(p, c));
    assertEquals(
        true, Filter.parse("ifIdx == 4294967295").matches(p, c.set(Direction.INBOUND, false, -1)));
  }

  @Test
  void errorsNamePositionAndExpectation() {
    assertError("(tcp.DstPort == )", "at 17: expected a field or a number, found ')'");
    assertError(
        "tcp.DstPort ==", "at 15: expected a field or a number, found the end of the filter");
    assertError("tcp and", "at 8: expected a field or a number, found the end of the filter");
    assertError("(tcp", "at 5: expected ')', found the end of the filter");
    assertError("tcp udp", "at 5: expected 'and', 'or', '?' or the end of the filter, found 'udp'");
    assertError("tcp ? udp", "at 10: expected ':', found the end of the filter");
    assertError("tcp.DstPrt == 1", "at 1: unknown field 'tcp.DstPrt'");
    assertError("TCP.DstPort == 1", "at 1: unknown field 'TCP.DstPort'");
    assertError(
        "outbound and processId == 4",
        "at 14: field 'processId' is not supported: it belongs to WinDivert's flow and socket"
            + " layers; a packet at the network layer carries no such value here");
    assertError(
        "impostor",
        "at 1: field 'impostor' is not supported: divert4j tells its own"
            + " injections apart by mark instead (S43)");
    assertError("tcp & udp", "at 5: expected '&&', found '&' alone");
    assertError("tcp # 1", "at 5: unexpected character '#'");
    assertError(
        "ip.DstAddr < 10.0.0.0/8", "at 1: a prefix such as 10.0.0.0/8 compares only with == or !=");
    assertError(
        "ip.DstAddr == 10.0.0.0/33", "at 24: expected a prefix length from 0 to 32, found '33'");
    assertError(
        "ip.DstAddr == 1.2.3", "at 15: '1.2.3' is not a number (below 2^128), nor an address");
    assertError("ipv6.DstAddr == 1::2::3", "at 17: '1::2::3' is not an IPv6 address");
    assertError("packet[", "at 8: expected an index from 0 to 65535, found the end of the filter");
    assertError(
        "packet32[-1b] == 1",
        "at 11: index -1b of packet32 starts less than one word from the end");
    assertError("packet32[16384] == 1", "at 10: index 16384 of packet32 is past 65535 bytes");
    assertError("packet == 1", "at 8: expected '[' and an index after packet, found '=='");
    assertError(
        "10.0.0.1", "at 9: expected a comparison after an address, found the end of the filter");
    assertError("tcp.DstPort == -x", "at 17: expected a number after '-', found 'x'");
    assertError("", "at 1: expected a field or a number, found the end of the filter");
  }

  private static void assertError(String filter, String message) {
    FilterSyntaxException e = assertThrows(FilterSyntaxException.class, () -> Filter.parse(filter));
    assertEquals(message, e.getMessage());
    assertTrue(e.position() >= 1 && e.position() <= filter.length() + 1);
  }

  @Test
  void depthAndLengthAreBounded() {
    String deep = "(".repeat(Filter.MAX_DEPTH) + "tcp" + ")".repeat(Filter.MAX_DEPTH);
    assertEquals("tcp", Filter.parse(deep).toString());
    String tooDeep = "(".repeat(Filter.MAX_DEPTH + 1) + "tcp" + ")".repeat(Filter.MAX_DEPTH + 1);
    assertEquals(
        "at "
            + (Filter.MAX_DEPTH + 1)
            + ": filter nested deeper than "
            + Filter.MAX_DEPTH
            + " levels",
        assertThrows(FilterSyntaxException.class, () -> Filter.parse(tooDeep)).getMessage());
    String nots = "!".repeat(100_000) + "tcp";
    assertThrows(FilterSyntaxException.class, () -> Filter.parse(nots));
    String ternaries = "tcp ? ".repeat(2000) + "tcp" + " : tcp".repeat(2000);
    assertThrows(FilterSyntaxException.class, () -> Filter.parse(ternaries));
    String many = "tcp" + " or tcp".repeat(Filter.MAX_TESTS - 1);
    assertEquals(Filter.MAX_TESTS, Filter.parse(many).tests());
    String tooMany = many + " or udp";
    assertEquals(
        "at " + (many.length() + 5) + ": filter has more than " + Filter.MAX_TESTS + " tests",
        assertThrows(FilterSyntaxException.class, () -> Filter.parse(tooMany)).getMessage());
    String tooLong = " ".repeat(Filter.MAX_LENGTH) + "tcp";
    assertEquals(
        "at 4097: filter longer than 4096 characters",
        assertThrows(FilterSyntaxException.class, () -> Filter.parse(tooLong)).getMessage());
    String chainAnd = "tcp" + " and tcp".repeat(Filter.MAX_TESTS - 1);
    assertEquals(Filter.MAX_TESTS, Filter.parse(chainAnd).tests());
  }

  @Test
  void constantPartsFold() {
    assertEquals(0, Filter.parse("true or tcp").tests());
    assertEquals(0, Filter.parse("1 == 1 and (false ? udp : TRUE)").tests());
    assertEquals(1, Filter.parse("tcp and true").tests());
    assertEquals(
        false, Filter.parse("-1 > 0").matches(Packets.udp4(1, 2, NONE), new FilterContext()));
  }

  @Test
  void canonicalForm() {
    assertEquals(
        "outbound and tcp.DstPort == 443 and tcp.PayloadLength > 0",
        Filter.parse("outbound && tcp.DstPort = 443 && tcp.PayloadLength > 0x0").toString());
    assertEquals(
        "(tcp or udp) and not (ip or ipv6)",
        Filter.parse("(tcp || udp) && !(ip || ipv6)").toString());
    assertEquals(
        "tcp ? (udp ? ip : ipv6) : icmp",
        Filter.parse("(tcp ? (udp ? ip : ipv6) : icmp)").toString());
    assertEquals("(tcp ? udp : ip) and icmp", Filter.parse("(tcp? udp: ip) and icmp").toString());
    assertEquals(
        "ipv6.DstAddr == 2001:db8::/32",
        Filter.parse("ipv6.DstAddr == 2001:0DB8:0:0::/32").toString());
    assertEquals(
        "packet32[-1] == 1 and packet32[3b] == 2",
        Filter.parse("packet32[-4b] == 1 and packet32[3b] == 2").toString());
    assertEquals("tcp.DstPort == 6", Filter.parse("tcp.DstPort == TCP").toString());
    assertEquals(
        "ipv6.SrcAddr == 340282366920938463463374607431768211455",
        Filter.parse("ipv6.SrcAddr == 0xffffffffffffffffffffffffffffffff").toString());
  }

  @Test
  void evaluationAllocatesNothing() {
    assumeTrue(Alloc.SUPPORTED, "the JVM cannot count allocated bytes");
    Filter f =
        Filter.parse(
            "outbound and (tcp ? tcp.DstPort == 443 and tcp.PayloadLength > 0 : udp.DstPort == 53)"
                + " and ip.DstAddr == 10.0.0.0/8 or ipv6.DstAddr == 2001:db8::/32 and packet32[-1] != 7");
    ByteBuffer[] packets = {
      Packets.tcp4(1, 443, 0x18, HELLO),
      Packets.udp4(1, 53, HELLO),
      Packets.tcp6(1, 443, 0x18, HELLO)
    };
    FilterContext c = new FilterContext();
    int hits = 0;
    for (int i = 0; i < 20_000; i++) {
      hits += f.matches(packets[i % 3], c) ? 1 : 0; // warm up
    }
    long before = Alloc.bytes();
    for (int i = 0; i < 10_000; i++) {
      hits += f.matches(packets[i % 3], c) ? 1 : 0;
    }
    long allocated = Alloc.bytes() - before;
    assertEquals(0, allocated, "bytes allocated by 10,000 evaluations");
    assertEquals(30_000, hits);
  }
}
