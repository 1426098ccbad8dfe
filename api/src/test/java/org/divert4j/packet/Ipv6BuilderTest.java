package org.divert4j.packet;

import static org.divert4j.packet.TestPackets.toHex;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.BufferOverflowException;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

class Ipv6BuilderTest {
  private final Ipv6View v = new Ipv6View();

  @Test
  void buildsTheKernelsUdpPacketBehindExtensionHeadersByteForByte() {
    ByteBuffer p =
        Ipv6Builder.udp(40001, 9999)
            .source("fd00:9::1")
            .destination("fd00:9::2")
            .flowLabel(0x1f49d)
            .hopByHop(new byte[] {5, 2, 0, 0, 1, 0}) // Router Alert, PadN
            .destinationOptions(new byte[] {1, 4, 0, 0, 0, 0}) // PadN
            .payload("ext".getBytes(java.nio.charset.StandardCharsets.US_ASCII))
            .build();
    assertEquals(KernelVectors6.UDP_EXT_HEX, toHex(p));
  }

  @Test
  void buildsTheKernelsEchoRequestAndTcpSynByteForByte() {
    List<ByteBuffer> cap = KernelVectors6.capture();
    ByteBuffer echo = cap.get(KernelVectors6.ECHO_REQUEST);
    v.wrap(echo);
    byte[] data = new byte[16];
    echo.get(48, data);
    ByteBuffer p =
        Ipv6Builder.icmpv6EchoRequest(Bytes.u16(echo, 44), Bytes.u16(echo, 46))
            .source("fd00:9::1")
            .destination("fd00:9::2")
            .flowLabel(v.flowLabel())
            .payload(data)
            .build();
    assertEquals(toHex(echo), toHex(p));

    // The kernel's SYN carries 20 bytes of TCP options, which the builder does not write: compare
    // the fields it does write.
    ByteBuffer syn = cap.get(KernelVectors6.TCP_SYN);
    v.wrap(syn);
    ByteBuffer t =
        Ipv6Builder.tcp(v.sourcePort(), 8080)
            .sequence(Bytes.i32(syn, 44) & 0xffffffffL)
            .tcpFlags(Ipv4Builder.TCP_SYN)
            .window(Bytes.u16(syn, 54))
            .source("fd00:9::1")
            .destination("fd00:9::2")
            .build();
    assertEquals(60, t.remaining());
    assertTrue(Checksums.isTransportValid6(t, 0));
    assertEquals(toHex(syn).substring(80, 104), toHex(t).substring(80, 104), "ports, seq, ack");
  }

  @Test
  void aFragmentHeaderIsChainedWhereItWasAdded() {
    ByteBuffer p =
        Ipv6Builder.udp(1, 2)
            .hopByHop(new byte[0])
            .routing(new byte[] {0, 0})
            .fragmentHeader(1232, true, 0xCAFEBABE)
            .destinationOptions(new byte[3])
            .payloadLength(96)
            .build();
    v.wrap(p);
    assertNull(v.check());
    assertEquals(0, v.nextHeader());
    assertEquals(43, p.get(40));
    assertEquals(44, p.get(48));
    assertEquals(60, p.get(56), "the Fragment header names the next header");
    assertEquals(40 + 8 + 8 + 8 + 8 + 8 + 96, p.remaining());
    assertEquals(p.remaining() - 40, v.payloadLength());
    assertTrue(v.isFragment());
    assertEquals(1232, v.fragmentOffset());
    assertTrue(v.moreFragments());
    assertEquals(0xCAFEBABE, v.fragmentIdentification());
    assertEquals(60, v.upperLayerProtocol(), "a non-first fragment stops at its Fragment header");
    assertEquals(0, Bytes.u16(p, 72 + 6), "no checksum on a fragment");
    assertThrows(
        IllegalStateException.class,
        () -> Ipv6Builder.raw(17).fragmentHeader(0, false, 1).fragmentHeader(0, false, 1));
  }

  @Test
  void defaultsAndLimits() {
    Ipv6Builder b = Ipv6Builder.raw(59);
    ByteBuffer p = b.build();
    assertEquals(40, p.remaining());
    v.wrap(p);
    assertEquals(6, v.version());
    assertEquals(64, v.hopLimit());
    assertEquals(0, v.payloadLength());
    assertEquals("::", Ipv6View.formatAddress(p, 8));
    assertNull(v.check());
    b.payloadLength(65535);
    assertEquals(65575, b.build().remaining(), "the largest payload without a jumbogram");
    b.hopByHop(new byte[0]);
    assertThrows(IllegalStateException.class, b::build);
    assertThrows(IllegalArgumentException.class, () -> Ipv6Builder.udp(1, 65536));
    assertThrows(IllegalArgumentException.class, () -> b.source("10.0.0.1"));
    assertThrows(IllegalArgumentException.class, () -> b.source("not-an-address:"));
    assertThrows(IllegalArgumentException.class, () -> b.source(new byte[4]));
    assertThrows(IllegalArgumentException.class, () -> b.fragmentHeader(4, false, 1));
    assertThrows(IllegalArgumentException.class, () -> b.flowLabel(1 << 20));
    assertThrows(IllegalStateException.class, () -> b.window(1));
    assertEquals(
        "::ffff:a00:1",
        Ipv6View.formatAddress(Ipv6Builder.raw(59).source("::ffff:10.0.0.1").build(), 8));
  }

  @Test
  void writesAtAPositionOrAnIndex() {
    Ipv6Builder b = Ipv6Builder.icmpv6EchoReply(1, 2).payloadLength(10);
    ByteBuffer dst = ByteBuffer.allocate(200).position(7);
    assertEquals(58, b.writeTo(dst));
    assertEquals(65, dst.position());
    v.wrap(dst, 7, 58);
    assertEquals(129, v.icmpv6Type());
    assertTrue(Checksums.isTransportValid6(dst, 7));
    assertThrows(BufferOverflowException.class, () -> b.writeTo(ByteBuffer.allocate(57)));
    assertThrows(IndexOutOfBoundsException.class, () -> b.writeTo(ByteBuffer.allocate(60), 3));
    for (int i = 0; i < 7; i++) {
      assertEquals(0, dst.get(i), "nothing written before the position");
    }
  }
}
