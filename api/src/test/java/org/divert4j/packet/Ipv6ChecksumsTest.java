package org.divert4j.packet;

import static org.divert4j.packet.TestPackets.displaced;
import static org.divert4j.packet.TestPackets.hex;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class Ipv6ChecksumsTest {
  private final Ipv6View v = new Ipv6View();

  /**
   * An independent RFC 8200 section 8.1 checksum, the slow way: the pseudo-header and the upper
   * layer laid out in one array, summed 16 bits at a time, the checksum field taken as zero.
   */
  static int reference(byte[] p, int upper, int protocol, int length, int field) {
    byte[] all = new byte[40 + length + 1];
    System.arraycopy(p, 8, all, 0, 32);
    all[32] = (byte) (length >>> 24);
    all[33] = (byte) (length >>> 16);
    all[34] = (byte) (length >>> 8);
    all[35] = (byte) length;
    all[39] = (byte) protocol;
    System.arraycopy(p, upper, all, 40, length);
    all[40 + field] = 0;
    all[40 + field + 1] = 0;
    long sum = 0;
    for (int i = 0; i < 40 + length; i += 2) {
      sum += (all[i] & 0xff) << 8 | (all[i + 1] & 0xff);
    }
    while (sum > 0xffff) {
      sum = (sum & 0xffff) + (sum >>> 16);
    }
    return (int) ~sum & 0xffff;
  }

  @Test
  void theKernelsChecksumsVerifyAndAreRecomputedExactly() {
    List<ByteBuffer> cap = KernelVectors6.capture();
    int[] whole = {
      KernelVectors6.ECHO_REQUEST,
      KernelVectors6.ECHO_REQUEST + 1,
      KernelVectors6.UDP_ODD,
      KernelVectors6.UDP_EXTENSION_HEADERS,
      KernelVectors6.TCP_SYN,
      KernelVectors6.TCP_SYN_ACK
    };
    for (int k : whole) {
      ByteBuffer p = displaced(cap.get(k), 5, 3);
      int base = p.position();
      assertTrue(Checksums.isTransportValid6(p, base), "packet " + k);
      v.wrap(p);
      int at = v.upperLayerOffset();
      int field = at + (v.upperLayerProtocol() == 17 ? 6 : v.upperLayerProtocol() == 6 ? 16 : 2);
      int stored = Bytes.u16(p, field);
      int computed =
          switch (v.upperLayerProtocol()) {
            case 17 -> Checksums.udp6(p, base);
            case 6 -> Checksums.tcp6(p, base);
            default -> Checksums.icmpv6(p, base);
          };
      assertEquals(stored, computed, "packet " + k);
      Bytes.put16(p, field, 0x1234);
      assertFalse(Checksums.isTransportValid6(p, base), "a wrong checksum is seen, packet " + k);
      assertTrue(Checksums.fillTransport6(p, base));
      assertEquals(stored, Bytes.u16(p, field), "packet " + k);
    }
  }

  @Test
  void theUdpVectorBehindExtensionHeaders() {
    ByteBuffer p = hex(KernelVectors6.UDP_EXT_HEX);
    assertEquals(
        KernelVectors6.UDP_EXT_HEX,
        TestPackets.toHex(KernelVectors6.capture().get(KernelVectors6.UDP_EXTENSION_HEADERS)));
    assertEquals(0x68f8, Checksums.udp6(p, 0));
    assertEquals(0x68f8, reference(p.array(), 56, 17, 11, 6), "the independent computation agrees");
    // The pseudo-header: addresses, the 32-bit length and the next header value.
    int expected = 0xfd00 + 0x0009 + 0x0001 + 0xfd00 + 0x0009 + 0x0002 + 11 + 17;
    assertEquals(
        (expected & 0xffff) + (expected >>> 16), Checksums.ipv6PseudoHeaderSum(p, 0, 17, 11));
  }

  @Test
  void icmpv6CoversThePseudoHeaderUnlikeIcmp() {
    ByteBuffer p = KernelVectors6.capture().get(KernelVectors6.ECHO_REQUEST);
    int c = Checksums.icmpv6(p, 0);
    p.put(23, (byte) (p.get(23) ^ 1)); // source address, last byte
    assertTrue(c != Checksums.icmpv6(p, 0), "the source address is summed");
    assertFalse(Checksums.isTransportValid6(p, 0));
  }

  @Test
  void aComputedUdpZeroIsSentAsFfffAndAStoredZeroIsInvalid() {
    ByteBuffer p =
        Ipv6Builder.udp(1, 2).source("2001:db8::1").destination("::2").payload(new byte[4]).build();
    // Make the data sum to the complement of the rest: the checksum computes to 0.
    int c = Checksums.udp6(p, 0);
    Bytes.put16(p, 48, c);
    assertEquals(0, reference(TestPackets.bytes(p), 40, 17, 12, 6), "the sum is now 0xFFFF");
    assertEquals(0xffff, Checksums.udp6(p, 0), "RFC 8200: 0 is sent as 0xFFFF");
    assertTrue(Checksums.fillTransport6(p, 0));
    assertEquals(0xffff, Bytes.u16(p, 46));
    assertTrue(Checksums.isTransportValid6(p, 0));
    Bytes.put16(p, 46, 0);
    assertFalse(Checksums.isTransportValid6(p, 0), "a zero UDP checksum is invalid over IPv6");
  }

  @Test
  void fragmentsAreLeftAloneAndAtomicFragmentsFilled() {
    List<ByteBuffer> cap = KernelVectors6.capture();
    ByteBuffer first = TestPackets.copy(cap.get(KernelVectors6.UDP_4000_FIRST));
    assertFalse(Checksums.fillTransport6(first, 0));
    assertTrue(Checksums.isTransportValid6(first, 0), "cannot tell for a fragment");
    ByteBuffer atomic =
        Ipv6Builder.udp(7, 9).fragmentHeader(0, false, 99).payloadLength(33).build();
    assertTrue(Checksums.isTransportValid6(atomic, 0), "the builder filled it");
    Bytes.put16(atomic, 48 + 6, 0);
    assertTrue(Checksums.fillTransport6(atomic, 0));
    assertTrue(Checksums.isTransportValid6(atomic, 0));
  }

  @Test
  void malformedInputIsRefusedAsDocumented() {
    ByteBuffer p = hex(KernelVectors6.UDP_EXT_HEX);
    ByteBuffer shortOne = ByteBuffer.wrap(TestPackets.bytes(p), 0, 30).slice();
    assertThrows(IndexOutOfBoundsException.class, () -> Checksums.udp6(shortOne, 0));
    assertFalse(Checksums.isTransportValid6(shortOne, 0));
    ByteBuffer longer = TestPackets.copy(p);
    Bytes.put16(longer, 4, 28); // payload length past the bytes
    assertThrows(IndexOutOfBoundsException.class, () -> Checksums.tcp6(longer, 0));
    assertFalse(Checksums.isTransportValid6(longer, 0));
    ByteBuffer chain = TestPackets.copy(p);
    chain.put(41, (byte) 9); // hop-by-hop length past the end
    assertThrows(IllegalArgumentException.class, () -> Checksums.udp6(chain, 0));
    assertFalse(Checksums.fillTransport6(chain, 0));
    assertFalse(Checksums.isTransportValid6(chain, 0));
    ByteBuffer ulen = TestPackets.copy(p);
    Bytes.put16(ulen, 60, 12); // UDP length past the datagram
    assertThrows(IllegalArgumentException.class, () -> Checksums.udp6(ulen, 0));
    assertFalse(Checksums.isTransportValid6(ulen, 0));
    assertFalse(Checksums.isTransportValid6(p, -1));
    ByteBuffer none = TestPackets.copy(p);
    none.put(48, (byte) 59);
    assertFalse(Checksums.fillTransport6(none, 0), "No Next Header has no checksum");
    assertTrue(Checksums.isTransportValid6(none, 0));
  }

  @Test
  void randomPacketsAgreeWithTheIndependentComputation() {
    Random r = new Random(6);
    for (int i = 0; i < 500; i++) {
      byte[] src = new byte[16];
      byte[] dst = new byte[16];
      r.nextBytes(src);
      r.nextBytes(dst);
      int kind = r.nextInt(3);
      Ipv6Builder b =
          switch (kind) {
            case 0 -> Ipv6Builder.udp(r.nextInt(65536), r.nextInt(65536));
            case 1 -> Ipv6Builder.tcp(r.nextInt(65536), r.nextInt(65536));
            default -> Ipv6Builder.icmpv6EchoRequest(r.nextInt(65536), r.nextInt(65536));
          };
      if (r.nextBoolean()) {
        b.hopByHop(new byte[r.nextInt(20)]);
      }
      if (r.nextBoolean()) {
        b.destinationOptions(new byte[r.nextInt(20)]);
      }
      byte[] data = new byte[r.nextInt(300)];
      r.nextBytes(data);
      ByteBuffer p = b.source(src).destination(dst).payload(data).build();
      v.wrap(p);
      int at = v.upperLayerOffset();
      int protocol = v.upperLayerProtocol();
      int field = kind == 0 ? 6 : kind == 1 ? 16 : 2;
      int expect = reference(p.array(), at, protocol, p.limit() - at, field);
      if (kind == 0 && expect == 0) {
        expect = 0xffff;
      }
      assertEquals(expect, Bytes.u16(p, at + field), "packet " + i);
      assertTrue(Checksums.isTransportValid6(p, 0));
    }
  }

  @Test
  void checksumsAllocateNothing() {
    assumeTrue(Alloc.SUPPORTED, "thread allocation counting not supported");
    ByteBuffer p = ByteBuffer.allocateDirect(80);
    p.put(hex(KernelVectors6.UDP_EXT_HEX)).flip();
    long sink = 0;
    for (int i = 0; i < 20_000; i++) {
      sink += sums(p);
    }
    long before = Alloc.bytes();
    for (int i = 0; i < 10_000; i++) {
      sink += sums(p);
    }
    long used = Alloc.bytes() - before;
    // One object per call would be at least 160,000 bytes; the rest is the JIT's own noise.
    assertTrue(used < 4096, "bytes allocated by 10,000 rounds: " + used + " (sink " + sink + ")");
  }

  private static long sums(ByteBuffer p) {
    return Checksums.udp6(p, 0)
        + (Checksums.fillTransport6(p, 0) ? 1 : 0)
        + (Checksums.isTransportValid6(p, 0) ? 1 : 0)
        + Checksums.ipv6PseudoHeaderSum(p, 0, 17, 11);
  }
}
