package org.divert4j.packet;

import static org.divert4j.packet.TestPackets.hex;
import static org.divert4j.packet.TestPackets.toHex;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.BufferOverflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class Ipv4BuilderTest {
  private final Ipv4View v = new Ipv4View();

  @Test
  void rebuildsTheKernelUdpPacketByteForByte() {
    ByteBuffer p =
        Ipv4Builder.udp(40000, 9999)
            .source("10.9.0.1")
            .destination("10.9.0.2")
            .identification(0x3073)
            .dontFragment(true)
            .payload("divert4j udp test vector".getBytes(StandardCharsets.US_ASCII))
            .build();
    assertEquals(KernelVectors.UDP, toHex(p));
    assertEquals(0, p.position());
    assertEquals(52, p.limit());
  }

  @Test
  void rebuildsTheKernelEchoRequestByteForByte() {
    ByteBuffer kernel = hex(KernelVectors.ICMP_ECHO_REQUEST);
    byte[] data = Arrays.copyOfRange(kernel.array(), 28, 84);
    ByteBuffer p =
        Ipv4Builder.icmpEchoRequest(0x1d93, 1)
            .source(0x0A090001)
            .destination(0x0A090002)
            .identification(0xf269)
            .dontFragment(true)
            .payload(ByteBuffer.wrap(data))
            .build();
    assertEquals(KernelVectors.ICMP_ECHO_REQUEST, toHex(p));
  }

  @Test
  void rebuildsTheKernelTcpDataSegmentExceptForItsTcpOptions() {
    // The builder writes a 20-byte TCP header: compare fields, and check the checksum.
    ByteBuffer p =
        Ipv4Builder.tcp(40264, 8080)
            .source("10.9.0.1")
            .destination("10.9.0.2")
            .sequence(0x7d0a1fffL)
            .acknowledgment(0x1e491a0aL)
            .tcpFlags(Ipv4Builder.TCP_PSH | Ipv4Builder.TCP_ACK)
            .window(63)
            .payload("hello".getBytes(StandardCharsets.US_ASCII))
            .build();
    v.wrap(p);
    assertEquals(45, v.totalLength());
    assertEquals(40264, v.sourcePort());
    assertEquals(8080, v.destinationPort());
    assertEquals(0x50, p.get(32) & 0xff, "data offset 5");
    assertEquals(0x18, p.get(33) & 0xff);
    assertEquals(0x7d0a1fff, p.getInt(24));
    assertEquals(0x1e491a0a, p.getInt(28));
    assertEquals(63, p.getShort(34));
    assertTrue(Checksums.isTransportValid(p, 0));
    assertTrue(v.isHeaderChecksumValid());
    assertEquals("hello", new String(p.array(), 40, 5, StandardCharsets.US_ASCII));
  }

  @Test
  void defaultsAndEveryIpField() {
    ByteBuffer d = Ipv4Builder.raw(253).build();
    v.wrap(d);
    assertNull(v.check());
    assertEquals(20, v.length());
    assertEquals(64, v.ttl());
    assertEquals(0, v.tos());
    assertEquals(0, v.identification());
    assertEquals(0, v.source());
    assertEquals(0, v.destination());
    assertFalse(v.dontFragment() || v.moreFragments() || v.reservedFlag());
    assertEquals(253, v.protocol());

    ByteBuffer p =
        Ipv4Builder.raw(99)
            .source(-1)
            .destination(0x7f000001)
            .ttl(255)
            .tos(0xff)
            .identification(65535)
            .moreFragments(true)
            .reservedFlag(true)
            .fragmentOffset(65528 - 8)
            .options(new byte[] {(byte) 0x94, 4, 0, 0, 1})
            .payloadLength(8)
            .build();
    v.wrap(p);
    assertEquals(-1, v.source());
    assertEquals(0x7f000001, v.destination());
    assertEquals(255, v.ttl());
    assertEquals(0xff, v.tos());
    assertEquals(65535, v.identification());
    assertTrue(v.moreFragments());
    assertTrue(v.reservedFlag());
    assertEquals(65520, v.fragmentOffset());
    assertEquals(7, v.ihl(), "5 option bytes padded to 8");
    assertEquals(0, p.get(27), "padding is End of Option List");
    assertEquals(36, v.totalLength());
    assertNull(v.check());
    assertTrue(v.isHeaderChecksumValid());
  }

  @Test
  void icmpEchoReplyAndRequestTypes() {
    ByteBuffer req = Ipv4Builder.icmpEchoRequest(7, 9).payloadLength(3).build();
    ByteBuffer rep = Ipv4Builder.icmpEchoReply(7, 9).payloadLength(3).build();
    assertEquals(8, v.wrap(req).icmpType());
    assertEquals(0, v.wrap(rep).icmpType());
    assertEquals(0, v.icmpCode());
    assertEquals(7, rep.getShort(24));
    assertEquals(9, rep.getShort(26));
    assertEquals(31, v.totalLength());
    assertTrue(Checksums.isTransportValid(req, 0));
    assertTrue(Checksums.isTransportValid(rep, 0));
  }

  @Test
  void fragmentsGetNoTransportChecksum() {
    ByteBuffer f = Ipv4Builder.udp(1, 2).moreFragments(true).payloadLength(8).build();
    assertEquals(0, f.getShort(26));
    ByteBuffer g = Ipv4Builder.tcp(1, 2).fragmentOffset(8).build();
    assertEquals(0, g.getShort(36));
    ByteBuffer raw = Ipv4Builder.raw(Ipv4View.PROTOCOL_UDP).payloadLength(12).build();
    assertEquals(0x0607, raw.getShort(26), "raw payloads are written as given");
  }

  @Test
  void writesIntoCallerBuffers() {
    Ipv4Builder b = Ipv4Builder.udp(5, 6).payloadLength(10);
    ByteBuffer ref = b.build();
    ByteBuffer dst = ByteBuffer.allocate(100).order(ByteOrder.LITTLE_ENDIAN);
    dst.position(3).limit(90);
    assertEquals(38, b.writeTo(dst, 40));
    assertEquals(3, dst.position(), "absolute write leaves the position");
    assertEquals(90, dst.limit());
    assertEquals(toHex(ref), toHex(dst.duplicate().position(40).limit(78)));
    assertEquals(38, b.writeTo(dst));
    assertEquals(41, dst.position(), "relative write advances the position");
    assertEquals(toHex(ref), toHex(dst.duplicate().position(3).limit(41)));
    assertThrows(IndexOutOfBoundsException.class, () -> b.writeTo(dst, 60));
    dst.position(60);
    assertThrows(BufferOverflowException.class, () -> b.writeTo(dst));
    assertEquals(60, dst.position());
    ByteBuffer direct = ByteBuffer.allocateDirect(38);
    b.writeTo(direct, 0);
    assertEquals(toHex(ref), toHex(direct));
  }

  @Test
  void isReusableAndCopiesItsInputs() {
    byte[] data = {1, 2, 3};
    Ipv4Builder b = Ipv4Builder.udp(1, 2).payload(data);
    data[0] = 9;
    ByteBuffer first = b.build();
    assertEquals(1, first.get(28));
    ByteBuffer second = b.ttl(3).build();
    assertEquals(3, second.get(8));
    assertEquals(64, first.get(8));
    ByteBuffer src = ByteBuffer.wrap(new byte[] {4, 5, 6, 7}).position(1);
    b.payload(src);
    assertEquals(1, src.position());
    assertArrayEquals(new byte[] {5, 6, 7}, Arrays.copyOfRange(b.build().array(), 28, 31));
    assertEquals(31, b.length());
  }

  @Test
  void rejectsBadArguments() {
    assertThrows(IllegalArgumentException.class, () -> Ipv4Builder.udp(-1, 2));
    assertThrows(IllegalArgumentException.class, () -> Ipv4Builder.udp(1, 65536));
    assertThrows(IllegalArgumentException.class, () -> Ipv4Builder.tcp(70000, 1));
    assertThrows(IllegalArgumentException.class, () -> Ipv4Builder.icmpEchoRequest(1, -2));
    assertThrows(IllegalArgumentException.class, () -> Ipv4Builder.raw(256));
    Ipv4Builder b = Ipv4Builder.raw(1);
    assertThrows(IllegalArgumentException.class, () -> b.ttl(256));
    assertThrows(IllegalArgumentException.class, () -> b.tos(-1));
    assertThrows(IllegalArgumentException.class, () -> b.identification(65536));
    assertThrows(IllegalArgumentException.class, () -> b.fragmentOffset(3));
    assertThrows(IllegalArgumentException.class, () -> b.fragmentOffset(65536));
    assertThrows(IllegalArgumentException.class, () -> b.options(new byte[41]));
    assertThrows(IllegalArgumentException.class, () -> b.payloadLength(-1));
    assertThrows(IllegalArgumentException.class, () -> b.source("10.0.0"));
    assertThrows(IllegalStateException.class, () -> b.sequence(1));
    assertThrows(IllegalStateException.class, () -> b.tcpFlags(1));
    Ipv4Builder t = Ipv4Builder.tcp(1, 2);
    assertThrows(IllegalArgumentException.class, () -> t.sequence(1L << 32));
    assertThrows(IllegalArgumentException.class, () -> t.acknowledgment(-1));
    assertThrows(IllegalArgumentException.class, () -> t.window(65536));
    assertThrows(IllegalArgumentException.class, () -> t.tcpFlags(256));
    Ipv4Builder big = Ipv4Builder.udp(1, 2).payloadLength(65535 - 28 + 1);
    assertEquals(65536, big.length());
    assertThrows(IllegalStateException.class, big::build);
    assertEquals(65535, Ipv4Builder.udp(1, 2).payloadLength(65535 - 28).build().limit());
  }

  /**
   * Survivors of the mutation run: writing into a buffer full of 0xff gives the same bytes as
   * building into a fresh one (every field the builder does not set is written as zero).
   */
  @Test
  void writingIntoADirtyBufferGivesTheSameBytesAsBuilding() {
    for (Ipv4Builder b :
        new Ipv4Builder[] {
          Ipv4Builder.udp(1, 2).source("10.0.0.1").destination("10.0.0.2").payloadLength(3),
          Ipv4Builder.tcp(1, 2).source("10.0.0.1").destination("10.0.0.2").window(7),
          Ipv4Builder.icmpEchoRequest(5, 6).source("10.0.0.1").destination("10.0.0.2")
        }) {
      byte[] built = new byte[b.length()];
      b.build().get(built);
      ByteBuffer dirty = ByteBuffer.allocate(b.length());
      Arrays.fill(dirty.array(), (byte) 0xff);
      b.writeTo(dirty);
      assertArrayEquals(built, dirty.array(), toHex(ByteBuffer.wrap(built)));
    }
  }

  /** The TCP-only setters refuse a builder of another protocol. */
  @Test
  void tcpOnlySettersRefuseOtherProtocols() {
    assertThrows(IllegalStateException.class, () -> Ipv4Builder.udp(1, 2).acknowledgment(1));
    assertThrows(IllegalStateException.class, () -> Ipv4Builder.udp(1, 2).window(1));
  }
}
