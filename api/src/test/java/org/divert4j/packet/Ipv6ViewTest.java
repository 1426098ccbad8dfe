package org.divert4j.packet;

import static org.divert4j.packet.TestPackets.displaced;
import static org.divert4j.packet.TestPackets.hex;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.divert4j.MalformedPacketException;
import org.junit.jupiter.api.Test;

class Ipv6ViewTest {
  /**
   * The defects the tests below produce from IPv6 packets (Ipv4ViewTest checks all are covered).
   */
  static final Set<Defect> DEFECTS_PRODUCED =
      EnumSet.of(
          Defect.IPV6_TOO_SHORT,
          Defect.IPV6_BAD_VERSION,
          Defect.JUMBOGRAM,
          Defect.PAYLOAD_LENGTH_INCONSISTENT,
          Defect.EXTENSION_HEADER_PAST_END,
          Defect.FRAGMENT_FLAGS_INCONSISTENT,
          Defect.FRAGMENT_PAST_MAXIMUM);

  private final Ipv6View v = new Ipv6View();

  /**
   * Written byte by byte: version 6, traffic class 0xAB, flow label 0x12345, hop limit 7,
   * 2001:db8::1 > 2001:db8::2, then hop-by-hop (PadN), routing (type 0, 0 segments left),
   * destination options (PadN), a Fragment header (offset 0, M 1, id 0xDEADBEEF) and UDP 1234 > 53
   * with 8 data bytes.
   */
  static final String CHAIN =
      "6ab12345" // version 6, TC 0xAB, flow label 0x12345
          + "0030" // payload length 48
          + "00" // next: hop-by-hop
          + "07" // hop limit
          + "20010db8000000000000000000000001"
          + "20010db8000000000000000000000002"
          + "2b00010400000000" // hop-by-hop: next routing, len 0, PadN 4
          + "3c00000000000000" // routing: next dest-options, len 0, type 0, segments left 0
          + "2c00010400000000" // destination options: next fragment, PadN 4
          + "11000001deadbeef" // fragment: next UDP, offset 0, M 1, id 0xDEADBEEF
          + "04d2003500100000" // UDP 1234 > 53, length 16, checksum 0
          + "0102030405060708";

  @Test
  void readsEveryFieldOfAHandBuiltChain() throws Exception {
    ByteBuffer b = displaced(hex(CHAIN), 3, 5);
    v.wrap(b);
    assertEquals(88, v.length());
    assertEquals(6, v.version());
    assertEquals(0xab, v.trafficClass());
    assertEquals(0x12345, v.flowLabel());
    assertEquals(48, v.payloadLength());
    assertEquals(0, v.nextHeader());
    assertEquals(7, v.hopLimit());
    assertEquals(InetAddress.getByName("2001:db8::1"), v.sourceAddress());
    assertEquals(InetAddress.getByName("2001:db8::2"), v.destinationAddress());
    byte[] a = new byte[20];
    v.destination(a, 2);
    assertEquals(0x20, a[2]);
    assertEquals(2, a[17]);
    v.source(a, 4);
    assertEquals(1, a[19]);

    assertEquals(17, v.upperLayerProtocol());
    assertEquals(3 + 40 + 32, v.upperLayerOffset());
    assertFalse(v.headerChainPastEnd());
    assertTrue(v.hasFragmentHeader());
    assertEquals(3 + 40 + 24, v.fragmentHeaderOffset());
    assertEquals(0, v.fragmentOffset());
    assertTrue(v.moreFragments());
    assertEquals(0xDEADBEEF, v.fragmentIdentification());
    assertTrue(v.isFragment());
    assertFalse(v.isJumbogram());
    assertEquals(1234, v.sourcePort(), "ports of a first fragment (S56)");
    assertEquals(53, v.destinationPort());
    assertEquals(-1, v.icmpv6Type());
    assertNull(v.check());
    assertNull(v.checkForSend());
    assertEquals(3, b.position(), "position untouched");
    assertEquals(91, b.limit());
    assertTrue(v.toString().contains("2001:db8::1 > 2001:db8::2 next 17"), v.toString());
    assertTrue(v.toString().contains("id 3735928559"), v.toString());
  }

  @Test
  void aNonFirstFragmentStopsAtItsFragmentHeaderAndHasNoPorts() {
    ByteBuffer b = hex(CHAIN);
    b.put(64 + 2, (byte) 0x04).put(64 + 3, (byte) 0xd0); // offset 1232, M 0
    v.wrap(b);
    assertEquals(17, v.upperLayerProtocol(), "S56: protocol tests match every fragment");
    assertEquals(72, v.upperLayerOffset());
    assertEquals(1232, v.fragmentOffset());
    assertFalse(v.moreFragments());
    assertTrue(v.isFragment());
    assertEquals(-1, v.sourcePort(), "S56: ports only in the first fragment");
    assertEquals(-1, v.destinationPort());
    assertNull(v.check());
  }

  @Test
  void anAtomicFragmentIsNotAFragment() {
    ByteBuffer b = hex(CHAIN);
    b.put(64 + 3, (byte) 0); // offset 0, M 0
    v.wrap(b);
    assertTrue(v.hasFragmentHeader());
    assertFalse(v.isFragment(), "RFC 6946");
    assertEquals(1234, v.sourcePort());
  }

  @Test
  void aChainPastTheEndHasNoUpperLayerAndIsADefect() {
    // Hop-by-hop claims 16 bytes; 8 are there.
    ByteBuffer b =
        hex(CHAIN.substring(0, 8) + "0008" + CHAIN.substring(12, 80) + "3b01010400000000");
    v.wrap(b);
    assertTrue(v.headerChainPastEnd());
    assertEquals(-1, v.upperLayerProtocol());
    assertEquals(-1, v.upperLayerOffset());
    assertEquals(-1, v.sourcePort());
    assertEquals(-1, v.icmpv6Type());
    assertFalse(v.hasFragmentHeader());
    assertEquals(Defect.EXTENSION_HEADER_PAST_END, v.check());
    assertEquals(Defect.EXTENSION_HEADER_PAST_END, v.checkForSend());
    MalformedPacketException e = assertThrows(MalformedPacketException.class, v::validate);
    assertEquals(Defect.EXTENSION_HEADER_PAST_END, e.defect());
    assertTrue(
        e.getMessage().contains("an IPv6 extension header runs past the end"), e.getMessage());
    // Two bytes short of the header's own first two bytes.
    v.wrap(hex(CHAIN.substring(0, 8) + "0001" + CHAIN.substring(12, 80) + "3b"));
    assertEquals(Defect.EXTENSION_HEADER_PAST_END, v.check());
  }

  @Test
  void theWalkStopsAtNoNextHeaderAndAtUnknownHeaders() {
    ByteBuffer b = hex(CHAIN);
    b.put(40, (byte) 59); // hop-by-hop says nothing follows
    v.wrap(b);
    assertEquals(59, v.upperLayerProtocol());
    assertEquals(48, v.upperLayerOffset());
    assertFalse(v.hasFragmentHeader(), "bytes after No Next Header are not headers");
    b.put(40, (byte) 51); // AH: not walked, reported as the upper layer
    v.wrap(b);
    assertEquals(51, v.upperLayerProtocol());
    assertEquals(48, v.upperLayerOffset());
  }

  @Test
  void trailingBytesAfterThePayloadLengthAreNotRead() {
    // Payload length 8: a hop-by-hop header saying No Next Header, then trailing bytes that would
    // walk on as a Fragment header and UDP if they were read.
    String header = CHAIN.substring(0, 8) + "0008" + CHAIN.substring(12, 80);
    ByteBuffer b = hex(header + "3b00010400000000" + CHAIN.substring(128));
    v.wrap(b);
    assertNull(v.check(), "trailing bytes are allowed, as for IPv4");
    assertEquals(59, v.upperLayerProtocol());
    assertFalse(v.hasFragmentHeader(), "trailing bytes are never walked");
    // A hop-by-hop header pointing at a Fragment header in the trailing bytes: past the end.
    b.put(40, (byte) 44);
    v.wrap(b);
    assertTrue(v.headerChainPastEnd());
    assertEquals(Defect.EXTENSION_HEADER_PAST_END, v.check());
    assertNull(v.checkForSend(), "on send, all bytes written are the datagram (S61)");
  }

  @Test
  void defectsAreNamedInTheDocumentedOrder() {
    assertEquals(Defect.IPV6_TOO_SHORT, v.wrap(hex(CHAIN.substring(0, 78))).check());
    assertEquals(Defect.IPV6_TOO_SHORT, v.checkForSend());
    ByteBuffer b = hex(CHAIN);
    b.put(0, (byte) 0x4a);
    assertEquals(Defect.IPV6_BAD_VERSION, v.wrap(b).check());
    assertThrows(MalformedPacketException.class, v::validateForSend);

    b = hex(CHAIN);
    b.put(5, (byte) 49); // payload length one more than present
    assertEquals(Defect.PAYLOAD_LENGTH_INCONSISTENT, v.wrap(b).check());
    assertNull(v.checkForSend(), "S61: the payload length is set on send, not checked");
    MalformedPacketException e = assertThrows(MalformedPacketException.class, v::validate);
    assertTrue(e.getMessage().contains("payload length 49, 88 bytes present"), e.getMessage());

    b = hex(CHAIN);
    b.put(5, (byte) 47); // M 1 and a fragment payload of 15 bytes
    assertEquals(Defect.FRAGMENT_FLAGS_INCONSISTENT, v.wrap(b).check());
    b = hex(CHAIN);
    b.put(66, (byte) 0xff).put(67, (byte) 0xf9); // offset 65528, M 1, 16 bytes: past 65535
    assertEquals(Defect.FRAGMENT_PAST_MAXIMUM, v.wrap(b).check());
    assertEquals(Defect.FRAGMENT_PAST_MAXIMUM, v.checkForSend());
  }

  @Test
  void jumbogramsAreRefused() {
    // Payload length 0, hop-by-hop with a Jumbo Payload option (RFC 2675: C2 04 + 32-bit length).
    String jumbo =
        CHAIN.substring(0, 8)
            + "0000"
            + CHAIN.substring(12, 80)
            + "3b00c20400010008"
            + "0".repeat(2 * 65536);
    v.wrap(hex(jumbo));
    assertTrue(v.isJumbogram());
    assertEquals(Defect.JUMBOGRAM, v.check());
    assertEquals(Defect.JUMBOGRAM, v.checkForSend());
    MalformedPacketException e = assertThrows(MalformedPacketException.class, v::validateForSend);
    assertTrue(e.getMessage().contains("jumbogram"), e.getMessage());
    // Pad1 before it, and a Router Alert: still found.
    v.wrap(
        hex(
            CHAIN.substring(0, 8)
                + "0010"
                + CHAIN.substring(12, 80)
                + "3b010005020000c20400010008000000"));
    assertTrue(v.isJumbogram());
    v.wrap(hex(CHAIN));
    assertFalse(v.isJumbogram());
  }

  @Test
  void settersChangeOneFieldEach() {
    ByteBuffer b = hex(CHAIN);
    v.wrap(b).setTrafficClass(0x12).setFlowLabel(0xfffff).setHopLimit(255);
    assertEquals(0x12, v.trafficClass());
    assertEquals(0xfffff, v.flowLabel());
    assertEquals(6, v.version());
    assertEquals(255, v.hopLimit());
    byte[] addr = new byte[16];
    addr[15] = 9;
    v.setSource(addr, 0).setDestination(addr, 0);
    assertEquals(9, b.get(23));
    assertEquals(9, b.get(39));
    v.setNextHeader(59);
    assertEquals(59, v.upperLayerProtocol(), "the walk follows a setter");
    v.setNextHeader(0).setPayloadLength(8);
    assertTrue(v.headerChainPastEnd(), "the walk follows the payload length");
    assertThrows(IllegalArgumentException.class, () -> v.setFlowLabel(0x100000));
    assertThrows(IllegalArgumentException.class, () -> v.setPayloadLength(65536));
  }

  @Test
  void kernelPacketsWalkAsTcpdumpDecodedThem() {
    List<ByteBuffer> cap = KernelVectors6.capture();
    assertTrue(cap.size() >= 18, "capture size " + cap.size());
    v.wrap(cap.get(KernelVectors6.ECHO_REQUEST));
    assertNull(v.check());
    assertEquals(58, v.upperLayerProtocol());
    assertEquals(128, v.icmpv6Type());
    assertEquals(0, v.icmpv6Code());
    assertFalse(v.hasFragmentHeader());

    int id = 0;
    int[] offsets = {0, 1232, 2464};
    for (int k = 0; k < 3; k++) {
      v.wrap(cap.get(KernelVectors6.ECHO_3000_FIRST + k));
      assertNull(v.check());
      assertEquals(58, v.upperLayerProtocol());
      assertEquals(offsets[k], v.fragmentOffset());
      assertEquals(k < 2, v.moreFragments());
      assertEquals(k == 0 ? 128 : -1, v.icmpv6Type(), "S56: type only in the first fragment");
      if (k == 0) {
        id = v.fragmentIdentification();
        assertTrue(id != 0);
      }
      assertEquals(id, v.fragmentIdentification());
    }
    v.wrap(cap.get(KernelVectors6.UDP_EXTENSION_HEADERS));
    assertNull(v.check());
    assertEquals(17, v.upperLayerProtocol());
    assertEquals(56, v.upperLayerOffset());
    assertEquals(40001, v.sourcePort());
    assertEquals(9999, v.destinationPort());
    v.wrap(cap.get(KernelVectors6.TCP_SYN));
    assertEquals(6, v.upperLayerProtocol());
    assertEquals(8080, v.destinationPort());
    for (ByteBuffer p : cap) {
      assertNull(v.wrap(p).check(), v.toString());
    }
  }

  @Test
  void theWalkAndThePortsAllocateNothing() {
    assumeTrue(Alloc.SUPPORTED, "thread allocation counting not supported");
    ByteBuffer b = ByteBuffer.allocateDirect(88).put(hex(CHAIN)).flip();
    long sink = 0;
    for (int i = 0; i < 20_000; i++) { // warm up, so the JIT has compiled what is measured
      sink += walkAll(b);
    }
    long before = Alloc.bytes();
    for (int i = 0; i < 10_000; i++) {
      sink += walkAll(b);
    }
    long used = Alloc.bytes() - before;
    // One object per call would be at least 160,000 bytes; the rest is the JIT's own noise.
    assertTrue(used < 4096, "bytes allocated by 10,000 rounds: " + used + " (sink " + sink + ")");
  }

  private long walkAll(ByteBuffer b) {
    v.wrap(b);
    return v.upperLayerProtocol()
        + v.upperLayerOffset()
        + v.fragmentIdentification()
        + v.sourcePort()
        + v.destinationPort()
        + v.icmpv6Type()
        + (v.check() == null ? 1 : 0)
        + (v.checkForSend() == null ? 1 : 0)
        + (v.isJumbogram() ? 1 : 0);
  }

  @Test
  void addressesAreFormattedAsRfc5952Says() {
    String[][] cases = {
      {"20010db8000000000000000000000001", "2001:db8::1"},
      {"00000000000000000000000000000000", "::"},
      {"00000000000000000000000000000001", "::1"},
      {"fe800000000000000000000000000000", "fe80::"},
      {"20010db8000000010000000000000001", "2001:db8:0:1::1"}, // longest run wins
      {"20010db8000000000001000000000001", "2001:db8::1:0:0:1"}, // first of equal runs
      {"20010db8000100010001000100010001", "2001:db8:1:1:1:1:1:1"},
      {"20010000000100010001000100010001", "2001:0:1:1:1:1:1:1"}, // one zero word stays
      {"00000000000000000000ffff0a000001", "::ffff:a00:1"},
    };
    for (String[] c : cases) {
      ByteBuffer b = displaced(hex(c[0]), 1, 0);
      assertEquals(c[1], Ipv6View.formatAddress(b, 1), c[0]);
    }
  }

  @Test
  void addressesAreCopiedExactly() {
    ByteBuffer b = hex(CHAIN);
    byte[] s = new byte[16];
    v.wrap(b).source(s, 0);
    assertArrayEquals(hex(CHAIN.substring(16, 48)).array(), s);
  }
}
