package org.divert4j.packet;

import static org.divert4j.packet.TestPackets.displaced;
import static org.divert4j.packet.TestPackets.hex;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.ReadOnlyBufferException;
import java.util.EnumSet;
import java.util.Set;
import org.divert4j.Ipv4;
import org.divert4j.MalformedPacketException;
import org.junit.jupiter.api.Test;

class Ipv4ViewTest {
  private final Ipv4View v = new Ipv4View();

  /** A 28-byte UDP datagram 10.0.0.1:1000 -> 10.0.0.2:2000 with 0 data bytes... plus 0. */
  private static ByteBuffer udp(int payload) {
    return Ipv4Builder.udp(1000, 2000)
        .source("10.0.0.1")
        .destination("10.0.0.2")
        .identification(0x1234)
        .ttl(33)
        .tos(0xb8)
        .payloadLength(payload)
        .build();
  }

  @Test
  void readsEveryFieldOfARealPacket() {
    ByteBuffer p = hex(KernelVectors.TCP_SYN);
    v.wrap(p);
    assertEquals(4, v.version());
    assertEquals(5, v.ihl());
    assertEquals(20, v.headerLength());
    assertEquals(0, v.tos());
    assertEquals(60, v.totalLength());
    assertEquals(0x24aa, v.identification());
    assertTrue(v.dontFragment());
    assertFalse(v.moreFragments());
    assertFalse(v.reservedFlag());
    assertEquals(0, v.fragmentOffset());
    assertFalse(v.isFragment());
    assertEquals(64, v.ttl());
    assertEquals(Ipv4View.PROTOCOL_TCP, v.protocol());
    assertEquals(0x01fe, v.headerChecksum());
    assertEquals(0x0A090001, v.source());
    assertEquals(Ipv4.parseInt("10.9.0.2"), v.destination());
    assertEquals(0, v.optionsLength());
    assertEquals(20, v.payloadOffset());
    assertEquals(40, v.payloadLength());
    assertEquals(60, v.length());
    assertEquals(0, v.offset());
    assertSame(p, v.buffer());
    assertEquals(40264, v.sourcePort());
    assertEquals(8080, v.destinationPort());
    assertEquals(-1, v.icmpType());
    assertEquals(-1, v.icmpCode());
    assertTrue(v.isHeaderChecksumValid());
    assertNull(v.check());
    assertNull(v.checkForSend());
    assertNull(v.checkStrict());
  }

  @Test
  void readsOptionsAndIcmp() {
    v.wrap(hex(KernelVectors.ICMP_RECORD_ROUTE_REQUEST));
    assertEquals(15, v.ihl());
    assertEquals(60, v.headerLength());
    assertEquals(40, v.optionsLength());
    assertEquals(60, v.payloadOffset());
    assertEquals(64, v.payloadLength());
    assertEquals(8, v.icmpType());
    assertEquals(0, v.icmpCode());
    assertEquals(-1, v.sourcePort());
    assertEquals(-1, v.destinationPort());
    assertNull(v.check());
  }

  @Test
  void wrapHonoursPositionLimitAndExplicitBoundsAndAnyByteOrder() {
    ByteBuffer d = displaced(hex(KernelVectors.UDP), 7, 5);
    int pos = d.position();
    int lim = d.limit();
    v.wrap(d);
    assertEquals(7, v.offset());
    assertEquals(52, v.length());
    assertEquals(27, v.payloadOffset());
    assertEquals(40000, v.sourcePort());
    assertEquals(9999, v.destinationPort());
    assertEquals(0x0A090002, v.destination());
    assertTrue(v.isHeaderChecksumValid());
    v.setTtl(1).fillHeaderChecksum();
    assertTrue(v.isHeaderChecksumValid());
    assertEquals(pos, d.position());
    assertEquals(lim, d.limit());
    assertEquals(ByteOrder.LITTLE_ENDIAN, d.order());
    assertEquals((byte) 0xA5, d.get(6));
    assertEquals((byte) 0xA5, d.duplicate().clear().get(59));

    ByteBuffer whole = ByteBuffer.allocate(100);
    v.wrap(whole, 10, 90);
    assertEquals(10, v.offset());
    assertEquals(90, v.length());
    assertThrows(IndexOutOfBoundsException.class, () -> v.wrap(whole, 10, 91));
    assertThrows(IndexOutOfBoundsException.class, () -> v.wrap(whole, -1, 5));
    whole.limit(50);
    assertThrows(IndexOutOfBoundsException.class, () -> v.wrap(whole, 10, 41));
  }

  @Test
  void settersChangeOnlyTheirField() {
    ByteBuffer p = udp(12);
    byte[] before = TestPackets.bytes(p);
    v.wrap(p)
        .setTos(0x10)
        .setTotalLength(40)
        .setIdentification(0xBEEF)
        .setFlags(true, false)
        .setTtl(9)
        .setProtocol(99)
        .setSource(0x01020304)
        .setDestination(0xC0A80001)
        .setHeaderChecksum(0xABCD);
    assertEquals(0x10, v.tos());
    assertEquals(40, v.totalLength());
    assertEquals(0xBEEF, v.identification());
    assertTrue(v.dontFragment());
    assertFalse(v.moreFragments());
    assertEquals(9, v.ttl());
    assertEquals(99, v.protocol());
    assertEquals(0x01020304, v.source());
    assertEquals(0xC0A80001, v.destination());
    assertEquals(0xABCD, v.headerChecksum());
    assertEquals(4, v.version());
    assertEquals(5, v.ihl());
    byte[] after = TestPackets.bytes(p);
    for (int i = 20; i < after.length; i++) {
      assertEquals(before[i], after[i], "payload byte " + i);
    }

    v.setFragmentOffset(65528).setFlags(false, true).setReservedFlag(true);
    assertEquals(65528, v.fragmentOffset());
    assertTrue(v.moreFragments());
    assertTrue(v.reservedFlag());
    assertTrue(v.isFragment());
    v.setFlags(true, false);
    assertEquals(65528, v.fragmentOffset(), "setFlags keeps the offset");
    assertTrue(v.reservedFlag(), "setFlags keeps the reserved flag");
    v.setReservedFlag(false).setFragmentOffset(8);
    assertTrue(v.dontFragment(), "offset and reserved setters keep DF");
    assertEquals(8, v.fragmentOffset());
    v.setVersion(6).setIhl(7);
    assertEquals(6, v.version());
    assertEquals(7, v.ihl());
    assertEquals(28, v.headerLength());
  }

  @Test
  void settersRejectOutOfRangeValues() {
    v.wrap(udp(0));
    assertThrows(IllegalArgumentException.class, () -> v.setTtl(256));
    assertThrows(IllegalArgumentException.class, () -> v.setTtl(-1));
    assertThrows(IllegalArgumentException.class, () -> v.setTos(256));
    assertThrows(IllegalArgumentException.class, () -> v.setProtocol(300));
    assertThrows(IllegalArgumentException.class, () -> v.setTotalLength(65536));
    assertThrows(IllegalArgumentException.class, () -> v.setIdentification(65536));
    assertThrows(IllegalArgumentException.class, () -> v.setHeaderChecksum(-1));
    assertThrows(IllegalArgumentException.class, () -> v.setFragmentOffset(4));
    assertThrows(IllegalArgumentException.class, () -> v.setFragmentOffset(65536));
    assertThrows(IllegalArgumentException.class, () -> v.setFragmentOffset(-8));
    assertThrows(IllegalArgumentException.class, () -> v.setVersion(16));
    assertThrows(IllegalArgumentException.class, () -> v.setIhl(16));
  }

  @Test
  void settersOnAReadOnlyBufferThrow() {
    v.wrap(udp(0).asReadOnlyBuffer());
    assertEquals(33, v.ttl());
    assertThrows(ReadOnlyBufferException.class, () -> v.setTtl(1));
  }

  @Test
  void portsAndIcmpTypeAreAbsentInNonFirstFragmentsAndTruncatedPackets() {
    ByteBuffer p = udp(16);
    v.wrap(p);
    assertEquals(1000, v.sourcePort());
    v.setFlags(false, true);
    assertEquals(1000, v.sourcePort(), "the first fragment has the ports");
    v.setFragmentOffset(8);
    assertEquals(-1, v.sourcePort());
    assertEquals(-1, v.destinationPort());

    ByteBuffer icmp = Ipv4Builder.icmpEchoRequest(1, 2).build();
    v.wrap(icmp);
    assertEquals(8, v.icmpType());
    v.setFragmentOffset(16);
    assertEquals(-1, v.icmpType());

    // Only 3 transport bytes present: not enough for two ports, enough for an ICMP type.
    ByteBuffer shortUdp = udp(0);
    v.wrap(shortUdp, 0, 23).setTotalLength(23);
    assertEquals(-1, v.sourcePort());
    ByteBuffer shortIcmp = Ipv4Builder.icmpEchoReply(1, 2).build();
    v.wrap(shortIcmp, 0, 21).setTotalLength(21);
    assertEquals(0, v.icmpType());
    assertEquals(-1, v.icmpCode());
    // Total length shorter than the bytes present: the trailing bytes are not the transport.
    v.wrap(udp(0)).setTotalLength(22);
    assertEquals(-1, v.sourcePort());
    v.wrap(ByteBuffer.allocate(10));
    assertEquals(-1, v.sourcePort());
    assertEquals(-1, v.icmpType());
  }

  @Test
  void portsForSctpDccpAndUdpLite() {
    for (int proto :
        new int[] {Ipv4View.PROTOCOL_SCTP, Ipv4View.PROTOCOL_DCCP, Ipv4View.PROTOCOL_UDPLITE}) {
      ByteBuffer p = Ipv4Builder.raw(proto).payload(new byte[] {0, 80, 1, (byte) 187}).build();
      v.wrap(p);
      assertEquals(80, v.sourcePort());
      assertEquals(443, v.destinationPort());
    }
    v.wrap(Ipv4Builder.raw(47).payload(new byte[] {0, 80, 1, 1}).build());
    assertEquals(-1, v.sourcePort(), "GRE has no ports");
  }

  @Test
  void trailingBytesAfterTotalLengthAreAllowedOnReceive() {
    ByteBuffer padded = ByteBuffer.allocate(64);
    padded.put(0, hex(KernelVectors.UDP_ODD), 0, 31);
    v.wrap(padded);
    assertNull(v.check());
    assertEquals(31, v.totalLength());
    assertEquals(11, v.payloadLength());
  }

  // ------------------------------------------------------------------ every defect, both sides

  /** The packet, the defect on receive, the defect on send. */
  private void expect(ByteBuffer p, Defect receive, Defect send, String detail) {
    v.wrap(p);
    assertEquals(receive, v.check(), "check()");
    assertEquals(send, v.checkForSend(), "checkForSend()");
    if (receive != null) {
      MalformedPacketException e = assertThrows(MalformedPacketException.class, v::validate);
      assertEquals(receive, e.defect());
      assertTrue(e.getMessage().contains(receive.description()), e.getMessage());
      assertTrue(e.getMessage().contains(receive.name()), e.getMessage());
      if (receive == send && detail != null) {
        assertTrue(e.getMessage().contains(detail), e.getMessage() + " should show " + detail);
      }
    }
    if (send != null) {
      MalformedPacketException e = assertThrows(MalformedPacketException.class, v::validateForSend);
      assertEquals(send, e.defect());
      assertTrue(e.getMessage().startsWith("malformed packet: "), e.getMessage());
      assertTrue(e.getMessage().contains(send.description()), e.getMessage());
      assertTrue(e.getMessage().contains(send.name()), e.getMessage());
      if (detail != null) {
        assertTrue(e.getMessage().contains(detail), e.getMessage() + " should show " + detail);
      }
    }
  }

  @Test
  void tooShort() {
    expect(ByteBuffer.allocate(19), Defect.TOO_SHORT, Defect.TOO_SHORT, "19 bytes");
    expect(ByteBuffer.allocate(0), Defect.TOO_SHORT, Defect.TOO_SHORT, "0 bytes");
    ByteBuffer p = udp(0);
    expect(p.limit(19), Defect.TOO_SHORT, Defect.TOO_SHORT, "19 bytes");
  }

  @Test
  void badVersion() {
    ByteBuffer p = udp(4);
    new Ipv4View().wrap(p).setVersion(6);
    expect(p, Defect.BAD_VERSION, Defect.BAD_VERSION, "version 6");
  }

  @Test
  void badHeaderLength() {
    ByteBuffer p = udp(4);
    new Ipv4View().wrap(p).setIhl(4);
    expect(p, Defect.BAD_HEADER_LENGTH, Defect.BAD_HEADER_LENGTH, "IHL 4");
    new Ipv4View().wrap(p).setIhl(0);
    expect(p, Defect.BAD_HEADER_LENGTH, Defect.BAD_HEADER_LENGTH, "IHL 0");
  }

  @Test
  void headerPastEnd() {
    // The S47 example: IHL 15 (60 bytes) in a 40-byte packet.
    ByteBuffer p = udp(12);
    new Ipv4View().wrap(p).setIhl(15);
    expect(p, Defect.HEADER_PAST_END, Defect.HEADER_PAST_END, "IHL 15 = 60 bytes, packet 40");
  }

  @Test
  void totalLengthPastEndOnReceiveOnly() {
    ByteBuffer p = udp(12);
    new Ipv4View().wrap(p).setTotalLength(41);
    expect(p, Defect.TOTAL_LENGTH_PAST_END, null, "total length 41, 40 bytes present");
    v.wrap(p);
    MalformedPacketException e = assertThrows(MalformedPacketException.class, v::validate);
    assertTrue(e.getMessage().contains("total length 41, 40 bytes present"), e.getMessage());
  }

  @Test
  void totalLengthTooShortOnReceiveOnly() {
    ByteBuffer p = udp(12);
    new Ipv4View().wrap(p).setTotalLength(19);
    expect(p, Defect.TOTAL_LENGTH_TOO_SHORT, null, null);
    v.wrap(p);
    MalformedPacketException e = assertThrows(MalformedPacketException.class, v::validate);
    assertTrue(e.getMessage().contains("total length 19, header 20 bytes"), e.getMessage());
    new Ipv4View().wrap(p).setTotalLength(0);
    expect(p, Defect.TOTAL_LENGTH_TOO_SHORT, null, null);
  }

  @Test
  void dontFragmentOnAFragmentIsAcceptedBothWays() {
    // Linux refragments reassembled DF datagrams into DF fragments; S17 needs them to go back out.
    ByteBuffer p = udp(8); // payload 16: a multiple of 8
    new Ipv4View().wrap(p).setFlags(true, true);
    expect(p, null, null, null);
    new Ipv4View().wrap(p).setFlags(true, false).setFragmentOffset(1480);
    expect(p, null, null, null);
  }

  @Test
  void moreFragmentsWithAPayloadNotAMultipleOf8() {
    ByteBuffer p = udp(5); // payload 13
    new Ipv4View().wrap(p).setFlags(false, true);
    expect(
        p,
        Defect.FRAGMENT_FLAGS_INCONSISTENT,
        Defect.FRAGMENT_FLAGS_INCONSISTENT,
        "DF 0, MF 1, offset 0, payload 13");
    // Receive counts the payload by the total length field, send by the bytes written.
    ByteBuffer q = udp(8); // 36 bytes, payload 16
    new Ipv4View().wrap(q).setFlags(false, true).setTotalLength(35);
    expect(q, Defect.FRAGMENT_FLAGS_INCONSISTENT, null, null);
    new Ipv4View().wrap(q).setTotalLength(36);
    expect(q.limit(35), Defect.TOTAL_LENGTH_PAST_END, Defect.FRAGMENT_FLAGS_INCONSISTENT, null);
    // The last fragment may have any length.
    ByteBuffer last = udp(5);
    new Ipv4View().wrap(last).setFragmentOffset(8);
    expect(last, null, null, null);
  }

  @Test
  void fragmentPastMaximum() {
    // The ping of death: offset 65528 plus 16 bytes.
    ByteBuffer p = udp(8);
    new Ipv4View().wrap(p).setFragmentOffset(65528);
    expect(
        p,
        Defect.FRAGMENT_PAST_MAXIMUM,
        Defect.FRAGMENT_PAST_MAXIMUM,
        "DF 0, MF 0, offset 65528, payload 16");
    // Exactly 65535 is allowed: offset 65528 plus 7 bytes.
    ByteBuffer q = Ipv4Builder.raw(17).payloadLength(7).fragmentOffset(65528).build();
    expect(q, null, null, null);
  }

  @Test
  void aWholePacketOver65535BytesIsNotAFragmentDefect() {
    // Too large is the sender's PacketTooLargeException (S31), not FRAGMENT_PAST_MAXIMUM.
    ByteBuffer big = ByteBuffer.allocate(70_004); // payload 69984, a multiple of 8
    big.put(0, udp(0), 0, 28);
    expect(big, null, null, null);
    new Ipv4View().wrap(big).setFlags(false, true);
    expect(big, null, Defect.FRAGMENT_PAST_MAXIMUM, "DF 0, MF 1, offset 0, payload 69984");
  }

  @Test
  void reservedFlagIsReportedOnlyByCheckStrict() {
    ByteBuffer p = udp(4);
    new Ipv4View().wrap(p).setReservedFlag(true);
    expect(p, null, null, null);
    v.wrap(p);
    assertEquals(Defect.RESERVED_FLAG_SET, v.checkStrict());
    ByteBuffer bad = udp(4);
    new Ipv4View().wrap(bad).setReservedFlag(true).setVersion(5);
    assertEquals(Defect.BAD_VERSION, v.wrap(bad).checkStrict(), "the worse defect comes first");
  }

  @Test
  void everyDefectIsProducedBySomeTest() {
    // Guards this test class: a new Defect constant needs a test above.
    Set<Defect> covered =
        EnumSet.of(
            Defect.TOO_SHORT,
            Defect.BAD_VERSION,
            Defect.BAD_HEADER_LENGTH,
            Defect.HEADER_PAST_END,
            Defect.TOTAL_LENGTH_PAST_END,
            Defect.TOTAL_LENGTH_TOO_SHORT,
            Defect.FRAGMENT_PAST_MAXIMUM,
            Defect.FRAGMENT_FLAGS_INCONSISTENT,
            Defect.RESERVED_FLAG_SET);
    // The IPv6 defects (and the two fragment defects again) are produced by Ipv6ViewTest.
    covered.addAll(Ipv6ViewTest.DEFECTS_PRODUCED);
    assertEquals(EnumSet.allOf(Defect.class), covered);
  }

  @Test
  void checkAllocatesNothing() {
    ByteBuffer p = hex(KernelVectors.TCP_DATA);
    ByteBuffer bad = udp(5);
    new Ipv4View().wrap(bad).setFlags(false, true);
    long before = Alloc.bytes();
    for (int i = 0; i < 10_000; i++) {
      v.wrap(p).check();
      v.checkForSend();
      v.wrap(bad).check();
      v.sourcePort();
    }
    long used = Alloc.bytes() - before;
    if (Alloc.SUPPORTED) {
      assertTrue(used < 1024, "allocated " + used + " bytes");
    }
  }

  @Test
  void toStringSummarises() {
    assertEquals("Ipv4View(unwrapped)", new Ipv4View().toString());
    String s = v.wrap(hex(KernelVectors.TCP_SYN)).toString();
    assertEquals("10.9.0.1 > 10.9.0.2 proto 6 len 60 id 9386 ttl 64 DF", s);
    ByteBuffer f = udp(8);
    new Ipv4View().wrap(f).setFlags(false, true).setFragmentOffset(16);
    assertTrue(v.wrap(f).toString().endsWith(" MF off 16"), v.toString());
    assertTrue(v.wrap(ByteBuffer.allocate(3)).toString().contains("TOO_SHORT"));
  }

  /** Survivors of the mutation run: setters return the view itself and keep the other nibble. */
  @Test
  void settersChainAndKeepTheOtherHalfOfTheirByte() {
    ByteBuffer p = udp(4);
    v.wrap(p);
    assertSame(v, v.setVersion(6));
    assertEquals(0x65, p.get(0) & 0xff, "version 6 keeps IHL 5");
    assertSame(v, v.setIhl(7));
    assertEquals(0x67, p.get(0) & 0xff, "IHL 7 keeps version 6");
    v.setVersion(4).setIhl(5);
    assertSame(v, v.fillHeaderChecksum());
    assertTrue(v.isHeaderChecksumValid());
  }

  /** The ICMP code is the byte after the type, told apart with a type and code that differ. */
  @Test
  void icmpCodeIsTheSecondByteOfTheIcmpHeader() {
    ByteBuffer p =
        Ipv4Builder.icmpEchoRequest(7, 9).source("10.0.0.1").destination("10.0.0.2").build();
    p.put(20, (byte) 3).put(21, (byte) 4);
    v.wrap(p);
    assertEquals(3, v.icmpType());
    assertEquals(4, v.icmpCode());
  }
}
