package org.divert4j.packet;

import static org.divert4j.packet.TestPackets.bytes;
import static org.divert4j.packet.TestPackets.toHex;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.divert4j.DropReason;
import org.divert4j.MalformedPacketException;
import org.divert4j.PacketTooLargeException;
import org.junit.jupiter.api.Test;

/** {@link Ipv6Fragmenter} and {@link Ipv6Reassembler}, against the kernel's own fragments. */
class Ipv6FragmentTest {
  private final Ipv6View v = new Ipv6View();
  private final long[] clock = {0};
  private final Ipv6Reassembler re =
      new Ipv6Reassembler(1 << 20, 16, 1_000_000_000L, () -> clock[0]);

  private static List<ByteBuffer> kernel(int first, int count) {
    return KernelVectors6.capture().subList(first, first + count);
  }

  @Test
  void reassemblesTheKernelsFragmentsAndCutsThemAgainByteForByte() throws Exception {
    for (int[] d :
        new int[][] {
          {KernelVectors6.ECHO_3000_FIRST, 3},
          {KernelVectors6.ECHO_REPLY_3000_FIRST, 3},
          {KernelVectors6.UDP_4000_FIRST, 4}
        }) {
      List<ByteBuffer> frags = kernel(d[0], d[1]);
      ByteBuffer whole = null;
      for (int i = frags.size() - 1; i >= 0; i--) { // in reverse, to make it work
        ByteBuffer out = re.offer(frags.get(i));
        if (i > 0) {
          assertNull(out);
        } else {
          whole = out;
        }
      }
      assertNotNull(whole);
      v.wrap(whole);
      assertNull(v.check());
      assertFalse(v.hasFragmentHeader(), "S58: no Fragment header");
      assertEquals(whole.remaining() - 40, v.payloadLength(), "S58: the full payload length");
      assertTrue(Checksums.isTransportValid6(whole, 0), "the kernel's checksum covers the whole");
      assertEquals(bytes(frags.get(0)).length, 1280);

      // Linux cuts at (1280 - 48) & ~7 = 1232 bytes, as this does: the same fragments come back.
      int id = new Ipv6View().wrap(frags.get(0)).fragmentIdentification();
      List<ByteBuffer> again = Ipv6Fragmenter.fragment(whole, 1280, id);
      assertEquals(frags.size(), again.size());
      for (int i = 0; i < frags.size(); i++) {
        assertEquals(toHex(frags.get(i)), toHex(again.get(i)), "fragment " + i);
      }
    }
    assertEquals(3, re.reassembled());
    assertEquals(0, re.bytesHeld());
  }

  /** IPv6 header, hop-by-hop, dest options, routing, dest options, UDP: the RFC 8200 split. */
  private static ByteBuffer withHeaders(int data) {
    return Ipv6Builder.udp(5, 6)
        .source("2001:db8::1")
        .destination("2001:db8::2")
        .hopByHop(new byte[6])
        .destinationOptions(new byte[6])
        .routing(new byte[] {0, 0, 0, 0, 0, 0})
        .destinationOptions(new byte[14])
        .payloadLength(data)
        .build();
  }

  @Test
  void theUnfragmentablePartEndsAfterTheRoutingHeader() throws Exception {
    ByteBuffer d = withHeaders(1000);
    List<ByteBuffer> fs = Ipv6Fragmenter.fragment(d, 300, 0x01020304);
    int unfrag = 40 + 8 + 8 + 8;
    int chunk = (300 - unfrag - 8) & ~7;
    int fragmentable = d.remaining() - unfrag;
    assertEquals((fragmentable + chunk - 1) / chunk, fs.size());
    int expectOffset = 0;
    for (int i = 0; i < fs.size(); i++) {
      ByteBuffer f = fs.get(i);
      v.wrap(f);
      assertNull(v.check());
      assertTrue(f.remaining() <= 300);
      assertArrayEquals(
          Arrays.copyOfRange(bytes(d), 0, 4), Arrays.copyOfRange(bytes(f), 0, 4), "flow kept");
      assertEquals(44, f.get(56), "the routing header names the Fragment header");
      assertEquals(unfrag, v.fragmentHeaderOffset());
      assertEquals(60, f.get(unfrag), "the Fragment header names the dest options");
      assertEquals(expectOffset, v.fragmentOffset());
      assertEquals(i < fs.size() - 1, v.moreFragments());
      assertEquals(0x01020304, v.fragmentIdentification());
      expectOffset += f.remaining() - unfrag - 8;
    }
    assertEquals(fragmentable, expectOffset);

    ByteBuffer whole = null;
    for (ByteBuffer f : fs) {
      whole = re.offer(f);
    }
    assertNotNull(whole);
    assertArrayEquals(bytes(d), bytes(whole), "reassembly gives the datagram back");

    ByteBuffer plain = Ipv6Builder.udp(1, 2).payloadLength(200).build();
    List<ByteBuffer> two = Ipv6Fragmenter.fragment(plain, 150, 7);
    assertEquals(17, two.get(0).get(40), "the first Next Header names the protocol");
    assertEquals(44, two.get(0).get(6));
    ByteBuffer hbhOnly =
        Ipv6Builder.udp(1, 2)
            .hopByHop(new byte[6])
            .destinationOptions(new byte[6])
            .payloadLength(200)
            .build();
    List<ByteBuffer> h = Ipv6Fragmenter.fragment(hbhOnly, 150, 7);
    assertEquals(44, h.get(0).get(40), "hop-by-hop alone is unfragmentable, dest options not");
    assertEquals(60, h.get(0).get(48));
  }

  @Test
  void aFittingDatagramIsTheCallersBufferAndRefusalsAreTyped() throws Exception {
    ByteBuffer d = withHeaders(10);
    List<ByteBuffer> seen = new ArrayList<>();
    assertEquals(1, new Ipv6Fragmenter().fragment(d, 1280, 0, seen::add));
    assertSame(d, seen.get(0));
    assertThrows(IllegalArgumentException.class, () -> Ipv6Fragmenter.fragment(d, 55, 1));
    assertThrows(
        IllegalArgumentException.class, () -> Ipv6Fragmenter.fragment(withHeaders(2000), 1280, 0));
    PacketTooLargeException e =
        assertThrows(
            PacketTooLargeException.class, () -> Ipv6Fragmenter.fragment(withHeaders(100), 72, 1));
    assertEquals(72, e.mtu());
    ByteBuffer bad = withHeaders(100);
    bad.put(41, (byte) 40);
    assertThrows(MalformedPacketException.class, () -> Ipv6Fragmenter.fragment(bad, 100, 1));
    assertThrows(
        PacketTooLargeException.class,
        () -> Ipv6Fragmenter.fragment(ByteBuffer.allocate(65576).put(0, (byte) 0x60), 1280, 1));
  }

  @Test
  void theFirstFragmentCarriesTheWholeHeaderChain() throws Exception {
    // 40 + 16 bytes of destination options + 20 of TCP: at MTU 104 the first fragment has room
    // for 56 bytes after its Fragment header, 36 are needed; at MTU 80, 32 bytes: refused.
    ByteBuffer d =
        Ipv6Builder.tcp(1, 2).destinationOptions(new byte[14]).payloadLength(200).build();
    List<ByteBuffer> fs = Ipv6Fragmenter.fragment(d, 104, 3);
    v.wrap(fs.get(0));
    assertNull(v.check());
    assertEquals(2, v.destinationPort(), "RFC 7112: the ports are in the first fragment");
    PacketTooLargeException e =
        assertThrows(PacketTooLargeException.class, () -> Ipv6Fragmenter.fragment(d, 80, 3));
    assertTrue(e.getMessage().contains("header chain of 76 bytes"), e.getMessage());
  }

  @Test
  void aFragmentIsCutAgainUnderItsOwnIdentification() throws Exception {
    ByteBuffer middle =
        Ipv6Builder.raw(17).fragmentHeader(1232, true, 0xABCD).payloadLength(1232).build();
    List<ByteBuffer> fs = Ipv6Fragmenter.fragment(middle, 600, 99);
    int offset = 1232;
    for (ByteBuffer f : fs) {
      v.wrap(f);
      assertNull(v.check());
      assertEquals(0xABCD, v.fragmentIdentification());
      assertEquals(offset, v.fragmentOffset());
      assertTrue(v.moreFragments(), "the last piece keeps M");
      offset += f.remaining() - 48;
    }
    assertEquals(2464, offset);
  }

  @Test
  void atomicFragmentsAndWholePacketsAreDeliveredAsTheyAre() {
    ByteBuffer atomic = Ipv6Builder.udp(1, 2).fragmentHeader(0, false, 5).payloadLength(9).build();
    assertSame(atomic, re.offer(atomic), "RFC 6946");
    ByteBuffer first = Ipv6Builder.raw(17).fragmentHeader(0, true, 5).payloadLength(16).build();
    assertNull(re.offer(first));
    assertSame(atomic, re.offer(atomic), "an atomic fragment never joins a datagram of its id");
    ByteBuffer plain = Ipv6Builder.udp(1, 2).build();
    assertSame(plain, re.offer(plain));
    assertEquals(1, re.datagramsInFlight());
  }

  private static ByteBuffer frag(int id, int offset, boolean more, int len) {
    return Ipv6Builder.raw(17)
        .source("2001:db8::1")
        .destination("2001:db8::2")
        .fragmentHeader(offset, more, id)
        .payloadLength(len)
        .build();
  }

  @Test
  void overlapsDiscardTheWholeDatagramAndDuplicatesAreIgnored() {
    assertNull(re.offer(frag(1, 0, true, 16)));
    assertNull(re.offer(frag(1, 0, true, 16)), "an exact duplicate");
    assertEquals(1, re.duplicates());
    assertNull(re.offer(frag(1, 8, true, 16)), "overlaps the first");
    assertEquals(2, re.discarded(DropReason.REASSEMBLY_OVERLAP), "RFC 5722: held one and this one");
    assertNull(re.offer(frag(1, 16, false, 8)), "later fragments of it are dropped too");
    assertEquals(3, re.discarded(DropReason.REASSEMBLY_OVERLAP));
    assertEquals(0, re.bytesHeld());

    assertNull(re.offer(frag(2, 8, false, 8)));
    assertNull(re.offer(frag(2, 16, false, 8)), "a second, different end");
    assertEquals(2, re.discarded(DropReason.REASSEMBLY_INVALID));
  }

  @Test
  void theFamiliesAndIdentificationsNeverMix() {
    // Same addresses, different identification: two datagrams.
    assertNull(re.offer(frag(7, 0, true, 8)));
    assertNull(re.offer(frag(8, 8, false, 8)));
    assertEquals(2, re.datagramsInFlight());
    ByteBuffer other =
        Ipv6Builder.raw(17)
            .source("2001:db8::9")
            .destination("2001:db8::2")
            .fragmentHeader(8, false, 7)
            .payloadLength(8)
            .build();
    assertNull(re.offer(other), "another source with the same id is another datagram");
    assertEquals(3, re.datagramsInFlight());
    ByteBuffer whole = re.offer(frag(7, 8, false, 8));
    assertNotNull(whole);
    assertEquals(56, whole.remaining());
    assertEquals(17, whole.get(6), "the Fragment header's next header, in the IPv6 header");
    // An IPv4 packet is malformed here, and IPv4 fragments with the same numbers go elsewhere.
    assertNull(re.offer(Ipv4Builder.raw(17).moreFragments(true).payloadLength(8).build()));
    assertEquals(1, re.discarded(DropReason.REASSEMBLY_INVALID));
  }

  @Test
  void timeoutsAndBoundsHold() {
    Ipv6Reassembler small = new Ipv6Reassembler(200, 2, 1000, () -> clock[0]);
    assertNull(small.offer(frag(1, 0, true, 8)));
    assertEquals(
        8 + 40 + Ipv6Reassembler.FRAGMENT_OVERHEAD,
        small.bytesHeld(),
        "payload, unfragmentable part, overhead");
    assertNull(small.offer(frag(2, 8, true, 8)));
    assertNull(small.offer(frag(3, 8, true, 8)), "a third datagram is one too many");
    assertEquals(1, small.discarded(DropReason.REASSEMBLY_MEMORY));
    assertNull(small.offer(frag(2, 16, true, 96)), "over the memory bound");
    assertEquals(3, small.discarded(DropReason.REASSEMBLY_MEMORY));
    assertTrue(small.bytesHeld() <= 200);
    clock[0] += 1000;
    assertEquals(1, small.expire());
    assertEquals(1, small.discarded(DropReason.REASSEMBLY_TIMEOUT));
    assertEquals(0, small.bytesHeld());
    assertEquals(0, small.datagramsInFlight());
    assertThrows(IllegalArgumentException.class, () -> new Ipv6Reassembler(0, 1, 1, () -> 0));
    assertThrows(IllegalArgumentException.class, () -> new Ipv6Reassembler(1, 0, 1, () -> 0));
    assertThrows(IllegalArgumentException.class, () -> new Ipv6Reassembler(1, 1, 0, () -> 0));
  }

  @Test
  void aReassembledPayloadOver65535IsInvalid() {
    ByteBuffer big =
        Ipv6Builder.raw(17)
            .hopByHop(new byte[14])
            .fragmentHeader(65520, false, 4)
            .payloadLength(8)
            .build();
    // 16 bytes of hop-by-hop plus 65528 of fragmentable part: over 65535.
    assertNull(re.offer(big));
    assertEquals(1, re.discarded(DropReason.REASSEMBLY_INVALID), re.toString());
  }
}
