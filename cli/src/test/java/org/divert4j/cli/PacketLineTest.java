package org.divert4j.cli;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import org.divert4j.Chain;
import org.divert4j.Direction;
import org.divert4j.packet.Ipv4Builder;
import org.junit.jupiter.api.Test;

class PacketLineTest {
  private final PacketLine line = new PacketLine();

  @Test
  void prefixIsFixedWidth() {
    assertEquals("input  in  eth0  ", PacketLine.where(Chain.INPUT, Direction.INBOUND, "eth0"));
    assertEquals("forward in  eth1  ", PacketLine.where(Chain.FORWARD, Direction.INBOUND, "eth1"));
    assertEquals("output out -     ", PacketLine.where(Chain.OUTPUT, Direction.OUTBOUND, ""));
  }

  @Test
  void icmpEcho() {
    ByteBuffer p =
        Ipv4Builder.icmpEchoRequest(7, 9)
            .source("10.0.1.2")
            .destination("10.0.1.1")
            .payload(new byte[56])
            .build();
    assertEquals("10.0.1.2 > 10.0.1.1 ICMP echo request id=7 seq=9 len=84", line.decode(p));
    assertEquals(0, p.position(), "not consumed");
  }

  @Test
  void udpWithShortPrintableDataShowsIt() {
    ByteBuffer p =
        Ipv4Builder.udp(5000, 53)
            .source("10.0.0.1")
            .destination("10.0.0.2")
            .payload("hi".getBytes(US_ASCII))
            .build();
    assertEquals("10.0.0.1:5000 > 10.0.0.2:53 UDP len=30 \"hi\"", line.decode(p));
    ByteBuffer binary =
        Ipv4Builder.udp(5000, 53)
            .source("10.0.0.1")
            .destination("10.0.0.2")
            .payload(new byte[] {0, 1, 2})
            .build();
    assertEquals("10.0.0.1:5000 > 10.0.0.2:53 UDP len=31", line.decode(binary));
  }

  @Test
  void fragmentsShowIdOffsetAndMoreFragments() {
    ByteBuffer first =
        Ipv4Builder.udp(1, 2)
            .source("10.0.0.1")
            .destination("10.0.0.2")
            .identification(77)
            .moreFragments(true)
            .payload(new byte[64])
            .build();
    assertEquals("10.0.0.1:1 > 10.0.0.2:2 UDP frag id=77 off=0 MF len=92", line.decode(first));
    ByteBuffer last =
        Ipv4Builder.raw(17)
            .source("10.0.0.1")
            .destination("10.0.0.2")
            .identification(77)
            .fragmentOffset(1480)
            .payload(new byte[100])
            .build();
    assertEquals("10.0.0.1 > 10.0.0.2 UDP frag id=77 off=1480 len=120", line.decode(last));
  }

  @Test
  void tcpFlagsAndOtherProtocols() {
    ByteBuffer syn =
        Ipv4Builder.tcp(40000, 80)
            .source("10.0.0.1")
            .destination("10.0.0.2")
            .tcpFlags(Ipv4Builder.TCP_SYN | Ipv4Builder.TCP_ACK)
            .build();
    assertEquals("10.0.0.1:40000 > 10.0.0.2:80 TCP [S.] len=40", line.decode(syn));
    ByteBuffer gre =
        Ipv4Builder.raw(47).source("10.0.0.1").destination("10.0.0.2").payload(new byte[4]).build();
    assertEquals("10.0.0.1 > 10.0.0.2 proto 47 len=24", line.decode(gre));
  }

  @Test
  void malformedPacketsSayWhy() {
    assertEquals(
        "malformed packet (shorter than an IPv4 header), 10 bytes",
        line.decode(ByteBuffer.allocate(10))
            .replaceAll("\\(.*\\)", "(shorter than an IPv4 header)"));
    ByteBuffer v6 = ByteBuffer.allocate(40);
    v6.put(0, (byte) 0x60);
    assertEquals(true, line.decode(v6).startsWith("malformed packet ("));
  }
}
