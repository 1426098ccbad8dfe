package org.divert4j.packet;

import static org.divert4j.packet.TestPackets.displaced;
import static org.divert4j.packet.TestPackets.hex;
import static org.divert4j.packet.TestPackets.toHex;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChecksumsTest {
  private final Ipv4View v = new Ipv4View();

  @Test
  void rfc1071Example() {
    // RFC 1071 section 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (the checksum is its
    // complement, 220d).
    ByteBuffer b = hex("0001f203f4f5f6f7");
    assertEquals(0xddf2, Checksums.sum(b, 0, 8));
    assertEquals(0x220d, Checksums.checksum(b, 0, 8));
    // Byte-order independence (RFC 1071 section 2 (B)): a little-endian buffer gives the same.
    assertEquals(0xddf2, Checksums.sum(b.order(ByteOrder.LITTLE_ENDIAN), 0, 8));
    ByteBuffer d = ByteBuffer.allocateDirect(8).put(hex("0001f203f4f5f6f7"));
    assertEquals(0xddf2, Checksums.sum(d, 0, 8));
  }

  @Test
  void oddLengthsPadWithAZeroByteAndEmptyRangesSumToZero() {
    ByteBuffer b = hex("0102030405");
    assertEquals(0x0102 + 0x0304 + 0x0500, Checksums.sum(b, 0, 5));
    assertEquals(0x0100, Checksums.sum(b, 0, 1));
    assertEquals(0, Checksums.sum(b, 3, 0));
    assertEquals(0xffff, Checksums.checksum(b, 3, 0));
    assertEquals(0x0203 + 0x0405, Checksums.sum(b, 1, 4), "an odd start is just another range");
    assertThrows(IndexOutOfBoundsException.class, () -> Checksums.sum(b, 3, 3));
    assertThrows(IndexOutOfBoundsException.class, () -> Checksums.sum(b, -1, 3));
  }

  @Test
  void foldsCarriesFromLongRanges() {
    ByteBuffer ff = ByteBuffer.allocate(65535);
    for (int i = 0; i < ff.capacity(); i++) {
      ff.put(i, (byte) 0xff);
    }
    // 32767 words of 0xFFFF (negative zero) and a last 0xFF00: end-around carries leave 0xFF00.
    assertEquals(0xff00, Checksums.sum(ff, 0, 65535));
    assertEquals(0xffff, Checksums.sum(ff, 1, 65534));
    assertEquals(0xff00, Checksums.sum(ff, 0, 1));
  }

  @Test
  void combineAndPseudoHeader() {
    assertEquals(0x0002, Checksums.combine(0xffff, 0x0002), "end-around carry");
    assertEquals(0xffff, Checksums.combine(0xfffe, 0x0001));
    assertEquals(0x0000, Checksums.combine(0, 0));
    ByteBuffer b = hex("0001f203f4f5f6f7");
    assertEquals(
        Checksums.sum(b, 0, 8), Checksums.combine(Checksums.sum(b, 0, 4), Checksums.sum(b, 4, 4)));
    // 10.9.0.1 -> 10.9.0.2, UDP, 32 bytes
    int expected = (0x0a09 + 0x0001 + 0x0a09 + 0x0002 + 17 + 32);
    assertEquals(expected, Checksums.pseudoHeaderSum(0x0A090001, 0x0A090002, 17, 32));
    assertEquals(
        Checksums.combine(0xffff, 0xffff), Checksums.pseudoHeaderSum(-1, -1, 0, 0) & 0xffff);
  }

  @Test
  void hexVectorsAreExactlyThoseInTheCapture() {
    List<ByteBuffer> cap = KernelVectors.capture();
    assertEquals(26, cap.size());
    assertEquals(KernelVectors.ICMP_ECHO_REQUEST, toHex(cap.get(0)));
    assertEquals(KernelVectors.ICMP_RECORD_ROUTE_REQUEST, toHex(cap.get(2)));
    assertEquals(KernelVectors.ICMP_RECORD_ROUTE_REPLY, toHex(cap.get(3)));
    assertEquals(KernelVectors.UDP, toHex(cap.get(14)));
    assertEquals(KernelVectors.UDP_ODD, toHex(cap.get(15)));
    assertEquals(KernelVectors.TCP_SYN, toHex(cap.get(19)));
    assertEquals(KernelVectors.TCP_SYN_ACK, toHex(cap.get(20)));
    assertEquals(KernelVectors.TCP_DATA, toHex(cap.get(22)));
  }

  private static int stored(ByteBuffer p, int at) {
    return (p.get(at) & 0xff) << 8 | (p.get(at + 1) & 0xff);
  }

  @Test
  void kernelIpHeaderChecksums() {
    for (ByteBuffer p : KernelVectors.capture()) {
      int c = stored(p, 10);
      assertEquals(c, Checksums.ipv4Header(p, 0), toHex(p));
      assertTrue(Checksums.isIpv4HeaderValid(p, 0));
      ByteBuffer d = displaced(p, 3, 9);
      assertEquals(c, Checksums.ipv4Header(d, 3));
      assertTrue(Checksums.isIpv4HeaderValid(d, 3));
    }
  }

  @Test
  void kernelTransportChecksums() {
    check(KernelVectors.ICMP_ECHO_REQUEST, 2, Checksums::icmp);
    check(KernelVectors.ICMP_RECORD_ROUTE_REQUEST, 2, Checksums::icmp);
    check(KernelVectors.ICMP_RECORD_ROUTE_REPLY, 2, Checksums::icmp);
    check(KernelVectors.UDP, 6, Checksums::udp);
    check(KernelVectors.UDP_ODD, 6, Checksums::udp);
    check(KernelVectors.TCP_SYN, 16, Checksums::tcp);
    check(KernelVectors.TCP_SYN_ACK, 16, Checksums::tcp);
    check(KernelVectors.TCP_DATA, 16, Checksums::tcp);
  }

  private interface Compute {
    int at(ByteBuffer b, int base);
  }

  private void check(String hex, int fieldInTransport, Compute compute) {
    ByteBuffer p = hex(hex);
    int field = v.wrap(p).payloadOffset() + fieldInTransport;
    int c = stored(p, field);
    assertEquals(c, compute.at(p, 0), hex);
    assertTrue(Checksums.isTransportValid(p, 0));
    for (ByteOrder order : new ByteOrder[] {ByteOrder.BIG_ENDIAN, ByteOrder.LITTLE_ENDIAN}) {
      ByteBuffer d = displaced(p, 5, 3).order(order);
      assertEquals(c, compute.at(d, 5));
      assertTrue(Checksums.isTransportValid(d, 5));
      // Zero the field, fill it again, and it is back.
      d.put(5 + field, (byte) 0).put(5 + field + 1, (byte) 0);
      assertTrue(Checksums.fillTransport(d, 5));
      assertEquals(c, stored(d, 5 + field));
    }
    // Any flipped bit in the transport part is caught.
    for (int i = v.payloadOffset(); i < p.limit(); i++) {
      ByteBuffer bad = TestPackets.copy(p);
      bad.put(i, (byte) (bad.get(i) ^ 0x10));
      assertFalse(Checksums.isTransportValid(bad, 0), "flipped byte " + i);
    }
    // A flipped bit in the pseudo-header's addresses too, except for ICMP, which has none.
    ByteBuffer bad = TestPackets.copy(p);
    bad.put(15, (byte) (bad.get(15) ^ 1));
    assertEquals(v.protocol() == Ipv4View.PROTOCOL_ICMP, Checksums.isTransportValid(bad, 0));
  }

  @Test
  void ipHeaderChecksumDetectsEveryFlippedBitAndFillRepairsIt() {
    ByteBuffer p = hex(KernelVectors.ICMP_RECORD_ROUTE_REPLY);
    for (int i = 0; i < 60; i++) {
      for (int bit = 0; bit < 8; bit++) {
        ByteBuffer bad = TestPackets.copy(p);
        bad.put(i, (byte) (bad.get(i) ^ 1 << bit));
        if (i == 0 && bit < 4) {
          continue; // IHL changes the range itself
        }
        assertFalse(Checksums.isIpv4HeaderValid(bad, 0), "byte " + i + " bit " + bit);
      }
    }
    ByteBuffer q = TestPackets.copy(p);
    q.put(10, (byte) 0x12).put(11, (byte) 0x34);
    assertFalse(Checksums.isIpv4HeaderValid(q, 0));
    assertEquals(0x3441, Checksums.fillIpv4Header(q, 0));
    assertEquals(toHex(p), toHex(q));
  }

  @Test
  void ipHeaderChecksumBadInputs() {
    ByteBuffer p = hex(KernelVectors.UDP);
    p.put(0, (byte) 0x44);
    assertThrows(IllegalArgumentException.class, () -> Checksums.ipv4Header(p, 0));
    assertThrows(IllegalArgumentException.class, () -> Checksums.fillIpv4Header(p, 0));
    assertFalse(Checksums.isIpv4HeaderValid(p, 0));
    ByteBuffer q = hex(KernelVectors.UDP).limit(19);
    assertThrows(IndexOutOfBoundsException.class, () -> Checksums.ipv4Header(q, 0));
    assertFalse(Checksums.isIpv4HeaderValid(q, 0));
    assertFalse(Checksums.isIpv4HeaderValid(q, -1));
    assertFalse(Checksums.isIpv4HeaderValid(q, 19));
  }

  @Test
  void udpZeroMeansNoChecksumAndAComputedZeroIsSentAsFfff() {
    ByteBuffer p = Ipv4Builder.udp(1, 2).payload(new byte[2]).build();
    int c = Checksums.udp(p, 0);
    // Put the checksum into the two zero data bytes: the data now sums to 0xFFFF, so the
    // complement is 0, which UDP must send as 0xFFFF.
    p.put(28, (byte) (c >>> 8)).put(29, (byte) c);
    assertEquals(0xffff, Checksums.udp(p, 0));
    assertTrue(Checksums.fillTransport(p, 0));
    assertEquals(0xffff, stored(p, 26));
    assertTrue(Checksums.isTransportValid(p, 0));
    p.put(26, (byte) 0).put(27, (byte) 0);
    assertTrue(Checksums.isTransportValid(p, 0), "0 = no checksum");
    p.put(29, (byte) (p.get(29) + 1));
    assertTrue(Checksums.isTransportValid(p, 0), "still no checksum");
  }

  @Test
  void allZeroIcmpMessageChecksumIsFfff() {
    // An echo reply with identifier 0, sequence 0 and no data: every byte covered is zero, so the
    // checksum is ~0 = 0xFFFF, not 0.
    ByteBuffer p = Ipv4Builder.icmpEchoReply(0, 0).build();
    assertEquals(0xffff, stored(p, 22));
    assertEquals(0xffff, Checksums.icmp(p, 0));
    assertTrue(Checksums.isTransportValid(p, 0));
  }

  @Test
  void udpUsesItsOwnLengthFieldAsLinuxDoes() {
    ByteBuffer p = Ipv4Builder.udp(1, 2).payloadLength(10).build();
    int c = Checksums.udp(p, 0);
    // Trailing bytes inside the IP datagram but after the UDP length are padding.
    ByteBuffer padded = ByteBuffer.allocate(44);
    padded.put(0, p, 0, 38);
    new Ipv4View().wrap(padded).setTotalLength(44).fillHeaderChecksum();
    padded.put(40, (byte) 0x77);
    assertEquals(c, Checksums.udp(padded, 0));
    assertTrue(Checksums.isTransportValid(padded, 0));
    // A UDP length past the IP datagram, or under 8, is refused.
    ByteBuffer bad = TestPackets.copy(p);
    bad.put(25, (byte) 19);
    assertThrows(IllegalArgumentException.class, () -> Checksums.udp(bad, 0));
    assertFalse(Checksums.isTransportValid(bad, 0));
    bad.put(25, (byte) 7);
    assertThrows(IllegalArgumentException.class, () -> Checksums.udp(bad, 0));
    assertFalse(Checksums.isTransportValid(bad, 0));
  }

  @Test
  void truncatedTransportHeaders() {
    ByteBuffer tcp = Ipv4Builder.raw(Ipv4View.PROTOCOL_TCP).payloadLength(19).build();
    assertThrows(IllegalArgumentException.class, () -> Checksums.tcp(tcp, 0));
    assertFalse(Checksums.isTransportValid(tcp, 0));
    ByteBuffer udp = Ipv4Builder.raw(Ipv4View.PROTOCOL_UDP).payloadLength(7).build();
    assertThrows(IllegalArgumentException.class, () -> Checksums.udp(udp, 0));
    assertFalse(Checksums.isTransportValid(udp, 0));
    ByteBuffer icmp = Ipv4Builder.raw(Ipv4View.PROTOCOL_ICMP).payloadLength(3).build();
    assertThrows(IllegalArgumentException.class, () -> Checksums.icmp(icmp, 0));
    assertFalse(Checksums.isTransportValid(icmp, 0));
    // Total length past the buffer.
    ByteBuffer cut = hex(KernelVectors.TCP_DATA).limit(50);
    assertThrows(IndexOutOfBoundsException.class, () -> Checksums.tcp(cut, 0));
    assertFalse(Checksums.isTransportValid(cut, 0));
    assertFalse(Checksums.isTransportValid(cut, 40));
    // Total length under the IHL.
    ByteBuffer t = hex(KernelVectors.TCP_DATA);
    new Ipv4View().wrap(t).setTotalLength(12);
    assertFalse(Checksums.isTransportValid(t, 0));
  }

  @Test
  void fragmentsAndOtherProtocolsAreLeftAlone() {
    ByteBuffer f = hex(KernelVectors.UDP);
    new Ipv4View().wrap(f).setFlags(false, true);
    byte[] before = TestPackets.bytes(f);
    assertFalse(Checksums.fillTransport(f, 0));
    assertTrue(Checksums.isTransportValid(f, 0), "cannot tell for a fragment");
    assertEquals(toHex(ByteBuffer.wrap(before)), toHex(f));
    ByteBuffer gre = Ipv4Builder.raw(47).payloadLength(30).build();
    assertFalse(Checksums.fillTransport(gre, 0));
    assertTrue(Checksums.isTransportValid(gre, 0));
  }

  @Test
  void incrementalUpdateRfc1624() {
    // TTL decrement on a real header: word at offset 8 is TTL << 8 | protocol.
    ByteBuffer p = hex(KernelVectors.TCP_SYN);
    int old = stored(p, 8);
    int adjusted = Checksums.adjust(stored(p, 10), old, old - 0x100);
    p.put(8, (byte) 63);
    assertEquals(Checksums.ipv4Header(p, 0), adjusted);
    // Changing a word to itself changes nothing, also for the checksum 0x0000 (where RFC 1141's
    // equation 2 would give negative zero, 0xFFFF).
    assertEquals(0x0000, Checksums.adjust(0x0000, 0x1234, 0x1234));
    assertEquals(0x0000, Checksums.adjust(0x0000, 0xffff, 0xffff));
    assertEquals(0x0000, Checksums.adjust(0x0000, 0x0000, 0x0000));
    assertEquals(0xabcd, Checksums.adjust(0xabcd, 0x5555, 0x5555));
    // Reversible.
    assertEquals(
        0x1357, Checksums.adjust(Checksums.adjust(0x1357, 0x1111, 0x2222), 0x2222, 0x1111));
    // 32-bit: an address change (10.9.0.1 -> 192.168.1.1) in the SYN's IP and TCP checksums.
    ByteBuffer q = hex(KernelVectors.TCP_SYN);
    int ip = Checksums.adjust32(stored(q, 10), 0x0A090001, 0xC0A80101);
    int tcp = Checksums.adjust32(stored(q, 36), 0x0A090001, 0xC0A80101);
    new Ipv4View().wrap(q).setSource(0xC0A80101);
    assertEquals(Checksums.ipv4Header(q, 0), ip);
    assertEquals(Checksums.tcp(q, 0), tcp);
  }

  @Test
  void incrementalUdpKeepsNoChecksumAndNeverStoresZero() {
    assertEquals(0, Checksums.adjustUdp(0, 0x1111, 0x2222));
    assertEquals(0, Checksums.adjustUdp32(0, 0x11111111, 0x22222222));
    // ~0xFFFE + ~0x0001 + 0x0000 = 0x0001 + 0xFFFE = 0xFFFF -> 0 -> sent as 0xFFFF.
    assertEquals(0x0000, Checksums.adjust(0xfffe, 0x0001, 0x0000));
    assertEquals(0xffff, Checksums.adjustUdp(0xfffe, 0x0001, 0x0000));
    assertEquals(0x0000, Checksums.adjust32(0xfffe, 0x00000001, 0x00000000));
    assertEquals(0xffff, Checksums.adjustUdp32(0xfffe, 0x00000001, 0x00000000));
    assertEquals(Checksums.adjust(0x1234, 5, 6), Checksums.adjustUdp(0x1234, 5, 6));
    assertEquals(Checksums.adjust32(0x1234, 5, 6), Checksums.adjustUdp32(0x1234, 5, 6));
  }

  @Test
  void checksumsAllocateNothing() {
    ByteBuffer p = hex(KernelVectors.TCP_DATA);
    ByteBuffer u = displaced(hex(KernelVectors.UDP), 1, 0);
    Checksums.tcp(p, 0);
    long before = Alloc.bytes();
    int x = 0;
    for (int i = 0; i < 10_000; i++) {
      x += Checksums.tcp(p, 0) + Checksums.ipv4Header(p, 0) + Checksums.udp(u, 1);
      x += Checksums.isTransportValid(p, 0) ? 1 : 0;
      x += Checksums.adjust32(x & 0xffff, i, x);
    }
    long used = Alloc.bytes() - before;
    assertTrue(x != 42);
    assertTrue(Alloc.SUPPORTED, "HotSpot reports per-thread allocation");
    assertTrue(used < 1024, "allocated " + used + " bytes");
  }
}
