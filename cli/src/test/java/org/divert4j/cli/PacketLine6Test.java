package org.divert4j.cli;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import org.divert4j.packet.Ipv6Builder;
import org.junit.jupiter.api.Test;

/** dump's IPv6 lines: addresses, extension headers, the Fragment header (issue 13, CLI). */
class PacketLine6Test {
  private final PacketLine line = new PacketLine();

  @Test
  void icmpv6Echo() {
    ByteBuffer p =
        Ipv6Builder.icmpv6EchoRequest(1, 2)
            .source("fd00:1::2")
            .destination("fd00:1::1")
            .payload(new byte[56])
            .build();
    assertEquals("fd00:1::2 > fd00:1::1 ICMPv6 echo request id=1 seq=2 len=104", line.decode(p));
    assertEquals(0, p.position(), "not consumed");
  }

  @Test
  void udpBehindExtensionHeadersWithItsFragmentHeader() {
    byte[] pad = {1, 4, 0, 0, 0, 0};
    ByteBuffer first =
        Ipv6Builder.udp(40000, 7777)
            .source("fd00:1::2")
            .destination("fd00:1::1")
            .hopByHop(pad)
            .fragmentHeader(0, true, 9)
            .payload(new byte[16])
            .build();
    assertEquals(
        "[fd00:1::2]:40000 > [fd00:1::1]:7777 UDP ext=hop,frag frag id=9 off=0 MF len="
            + first.remaining(),
        line.decode(first));
    ByteBuffer later =
        Ipv6Builder.raw(17)
            .source("fd00:1::2")
            .destination("fd00:1::1")
            .fragmentHeader(1448, false, 9)
            .payload(new byte[16])
            .build();
    assertEquals(
        "fd00:1::2 > fd00:1::1 UDP ext=frag frag id=9 off=1448 len=" + later.remaining(),
        line.decode(later));
  }

  @Test
  void udpTextAndAtomicFragments() {
    ByteBuffer p =
        Ipv6Builder.udp(5000, 53)
            .source("::1")
            .destination("::1")
            .fragmentHeader(0, false, 3)
            .payload("hi".getBytes(US_ASCII))
            .build();
    assertEquals(
        "[::1]:5000 > [::1]:53 UDP ext=frag frag id=3 off=0 atomic len=58 \"hi\"", line.decode(p));
  }

  @Test
  void malformedIpv6IsNamed() {
    ByteBuffer p = ByteBuffer.allocate(20);
    p.put(0, (byte) 0x60);
    assertEquals(
        "malformed packet ("
            + org.divert4j.packet.Defect.IPV6_TOO_SHORT.description()
            + "), 20 bytes",
        line.decode(p));
  }
}
