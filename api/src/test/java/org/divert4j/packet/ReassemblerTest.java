package org.divert4j.packet;

import static org.divert4j.packet.TestPackets.toHex;
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
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.divert4j.DivertException;
import org.divert4j.DropReason;
import org.junit.jupiter.api.Test;

class ReassemblerTest {
  private static final long SECOND = 1_000_000_000L;

  private long now = 1234;
  private Reassembler r = new Reassembler(4L << 20, 64, 30 * SECOND, () -> now);

  /** A raw datagram (protocol 17, so it is not checksummed as UDP) with counting payload. */
  private static ByteBuffer datagram(int id, int payload) {
    return Ipv4Builder.raw(200)
        .source("10.0.0.1")
        .destination("10.0.0.2")
        .identification(id)
        .payloadLength(payload)
        .build();
  }

  /** A fragment with explicit offset, payload length and MF. */
  private static ByteBuffer frag(int id, int offset, int len, boolean mf) {
    byte[] p = new byte[len];
    for (int i = 0; i < len; i++) {
      p[i] = (byte) (offset + i);
    }
    return Ipv4Builder.raw(200)
        .source("10.0.0.1")
        .destination("10.0.0.2")
        .identification(id)
        .fragmentOffset(offset)
        .moreFragments(mf)
        .payload(p)
        .build();
  }

  private static List<ByteBuffer> fragments(ByteBuffer d, int mtu) throws DivertException {
    return Fragmenter.fragment(d, mtu);
  }

  private void assertEmpty() {
    assertEquals(0, r.bytesHeld());
    assertEquals(0, r.datagramsInFlight());
  }

  @Test
  void aNonFragmentIsReturnedAsIs() {
    ByteBuffer p = datagram(1, 100);
    p.position(0);
    assertSame(p, r.offer(p));
    assertEquals(0, p.position());
    assertEquals(120, p.limit());
    ByteBuffer df = Ipv4Builder.udp(1, 2).dontFragment(true).build();
    assertSame(df, r.offer(df));
    assertEquals(0, r.reassembled());
    assertEmpty();
  }

  @Test
  void reassemblesTheKernelsFragmentsInEveryOrder() {
    ByteBuffer[] k = KernelVectors.pick(KernelVectors.UDP_4000_FRAGMENTS);
    int[][] orders = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    String expected = null;
    for (int[] order : orders) {
      assertNull(r.offer(k[order[0]]));
      assertNull(r.offer(k[order[1]]));
      ByteBuffer d = r.offer(k[order[2]]);
      assertNotNull(d, Arrays.toString(order));
      assertEquals(0, d.position());
      assertEquals(4028, d.limit());
      Ipv4View v = new Ipv4View().wrap(d);
      assertNull(v.check());
      assertFalse(v.isFragment());
      assertEquals(4028, v.totalLength());
      assertTrue(v.isHeaderChecksumValid());
      assertTrue(Checksums.isTransportValid(d, 0), "the kernel's UDP checksum over all 4008");
      assertEquals(40000, v.sourcePort());
      if (expected == null) {
        expected = toHex(d);
      }
      assertEquals(expected, toHex(d));
      assertEmpty();
    }
    assertEquals(6, r.reassembled());
  }

  @Test
  void reassemblesKernelIcmpAndRefragmentsItToTheKernelsFragments() throws DivertException {
    for (int[] set :
        new int[][] {KernelVectors.PING_3000_FRAGMENTS, KernelVectors.PING_3000_REPLY_FRAGMENTS}) {
      ByteBuffer[] k = KernelVectors.pick(set);
      r.offer(k[2]);
      r.offer(k[0]);
      ByteBuffer d = r.offer(k[1]);
      assertNotNull(d);
      assertEquals(3028, d.limit());
      assertTrue(Checksums.isTransportValid(d, 0));
      List<ByteBuffer> again = fragments(d, 1500);
      for (int i = 0; i < 3; i++) {
        assertEquals(toHex(k[i]), toHex(again.get(i)));
      }
    }
  }

  @Test
  void reassemblesKernelFragmentsWithOptionsUsingTheFirstHeader() {
    // ping -R -s 2000: the second fragment keeps IHL 15 with the RR option NOPed out by Linux.
    ByteBuffer[] k = KernelVectors.pick(KernelVectors.PING_RR_2000_FRAGMENTS);
    assertNull(r.offer(k[1]));
    ByteBuffer d = r.offer(k[0]);
    assertNotNull(d);
    Ipv4View v = new Ipv4View().wrap(d);
    assertEquals(60, v.headerLength());
    assertEquals(60 + 2008, v.totalLength());
    assertEquals(0x07, d.get(21), "Record Route from the first fragment");
    assertTrue(v.isHeaderChecksumValid());
    assertTrue(Checksums.isTransportValid(d, 0));
  }

  @Test
  void roundTripsThroughTheFragmenter() throws DivertException {
    ByteBuffer d = datagram(7, 10_000);
    List<ByteBuffer> fs = fragments(d, 576);
    Collections.shuffle(fs, new Random(1));
    ByteBuffer out = null;
    for (ByteBuffer f : fs) {
      ByteBuffer o = r.offer(f);
      if (o != null) {
        assertNull(out, "exactly once");
        out = o;
      }
    }
    assertEquals(toHex(d), toHex(out));
    assertEquals(1, r.reassembled());
    assertEmpty();
  }

  @Test
  void theCallerMayReuseItsBufferAfterOffer() throws DivertException {
    ByteBuffer d = datagram(3, 3000);
    List<ByteBuffer> fs = fragments(d, 1500);
    ByteBuffer reused = ByteBuffer.allocate(1500);
    ByteBuffer out = null;
    for (ByteBuffer f : fs) {
      reused.clear();
      reused.put(f.duplicate()).flip();
      out = r.offer(reused);
      reused.put(40, (byte) 0x55).put(0, (byte) 0); // scribble after the call
    }
    assertEquals(toHex(d), toHex(out));
  }

  @Test
  void exactDuplicatesAreIgnored() {
    ByteBuffer a = frag(5, 0, 16, true);
    ByteBuffer b = frag(5, 16, 8, false);
    assertNull(r.offer(a));
    assertNull(r.offer(a));
    assertNull(r.offer(TestPackets.copy(a)));
    assertEquals(2, r.duplicates());
    assertEquals(1, r.datagramsInFlight());
    assertEquals(16 + Reassembler.FRAGMENT_OVERHEAD, r.bytesHeld(), "a duplicate holds nothing");
    ByteBuffer d = r.offer(b);
    assertNotNull(d);
    assertEquals(44, d.limit());
    // A duplicate arriving after completion starts a new datagram, which then times out.
    assertNull(r.offer(b));
    assertEquals(1, r.datagramsInFlight());
    for (DropReason reason : DropReason.values()) {
      assertEquals(0, r.discarded(reason), reason.name());
    }
    now += 30 * SECOND;
    assertEquals(1, r.expire());
    assertEquals(1, r.discarded(DropReason.REASSEMBLY_TIMEOUT));
    assertEmpty();
  }

  @Test
  void aDuplicateLastFragmentWithMfClearDoesNotChangeTheDatagram() {
    assertNull(r.offer(frag(5, 0, 8, true)));
    assertNull(r.offer(frag(5, 8, 8, true)));
    assertNull(r.offer(frag(5, 8, 8, false)), "same range: a duplicate, MF ignored");
    assertEquals(1, r.duplicates());
    assertNotNull(r.offer(frag(5, 16, 8, false)));
  }

  @Test
  void anyOtherOverlapDiscardsTheDatagramAndItsLaterFragments() {
    assertNull(r.offer(frag(9, 0, 24, true)));
    assertNull(r.offer(frag(9, 48, 8, true)));
    assertNull(r.offer(frag(9, 16, 16, true)), "overlaps [0,24)");
    assertEquals(3, r.discarded(DropReason.REASSEMBLY_OVERLAP), "two held plus the overlapping");
    assertEmpty();
    // The rest of the datagram is dropped on arrival until its timeout...
    assertNull(r.offer(frag(9, 24, 24, true)));
    assertNull(r.offer(frag(9, 56, 8, false)));
    assertEquals(5, r.discarded(DropReason.REASSEMBLY_OVERLAP));
    assertEmpty();
    // ...which runs from its first fragment; then the key may be used again.
    now += 30 * SECOND;
    assertEquals(0, r.expire(), "a discarded datagram is not counted as expired");
    assertNull(r.offer(frag(9, 0, 8, true)));
    assertNotNull(r.offer(frag(9, 8, 8, false)));
    assertEquals(5, r.discarded(DropReason.REASSEMBLY_OVERLAP));
    assertEquals(0, r.discarded(DropReason.REASSEMBLY_TIMEOUT));
  }

  @Test
  void overlapShapes() {
    // Same offset, other length.
    assertOverlap(frag(1, 0, 16, true), frag(1, 0, 8, true));
    assertOverlap(frag(2, 0, 8, true), frag(2, 0, 16, true));
    // Teardrop: the second lies inside the first (Linux ignores this one as a duplicate).
    assertOverlap(frag(3, 0, 32, true), frag(3, 8, 8, true));
    // Straddles the end of the previous fragment, or the start of the next.
    assertOverlap(frag(4, 8, 16, true), frag(4, 0, 16, true));
    assertOverlap(frag(5, 8, 16, true), frag(5, 16, 16, true));
    // Covers a held fragment entirely.
    assertOverlap(frag(6, 8, 8, true), frag(6, 0, 24, true));
    // Overlapping last fragment.
    assertOverlap(frag(7, 0, 16, true), frag(7, 8, 20, false));
    // Adjacent is fine.
    assertNull(r.offer(frag(8, 8, 8, true)));
    assertNull(r.offer(frag(8, 16, 3, false)));
    assertNotNull(r.offer(frag(8, 0, 8, true)));
  }

  private void assertOverlap(ByteBuffer first, ByteBuffer second) {
    long before = r.discarded(DropReason.REASSEMBLY_OVERLAP);
    assertNull(r.offer(first));
    assertNull(r.offer(second));
    assertEquals(before + 2, r.discarded(DropReason.REASSEMBLY_OVERLAP));
    assertEmpty();
  }

  @Test
  void malformedPacketsAreDroppedAloneAsInvalid() {
    assertNull(r.offer(frag(4, 0, 8, true)));
    ByteBuffer bad = frag(4, 8, 8, false);
    new Ipv4View().wrap(bad).setTotalLength(100); // total length past the end
    assertNull(r.offer(bad));
    assertNull(r.offer(ByteBuffer.allocate(5)));
    ByteBuffer v6 = frag(4, 8, 8, false);
    new Ipv4View().wrap(v6).setVersion(6);
    assertNull(r.offer(v6));
    // MF with a payload that is not a multiple of 8 (Linux would trim it).
    assertNull(r.offer(frag(4, 8, 7, true)));
    // The ping of death: offset 65528 + 16 bytes.
    assertNull(r.offer(frag(4, 65528, 16, false)));
    assertEquals(5, r.discarded(DropReason.REASSEMBLY_INVALID));
    // The datagram they claimed to belong to is unharmed.
    assertEquals(1, r.datagramsInFlight());
    assertNotNull(r.offer(frag(4, 8, 8, false)));
  }

  @Test
  void fragmentsInconsistentWithTheirDatagramDiscardIt() {
    // Zero-length fragment (Linux: end == offset discards the queue).
    assertInvalid(frag(1, 0, 8, true), frag(1, 8, 0, true));
    // A last fragment ending before data already held.
    assertInvalid(frag(2, 64, 8, true), frag(2, 8, 16, false));
    // Two last fragments that disagree on the end.
    assertInvalid(frag(3, 64, 8, false), frag(3, 80, 8, false));
    // An MF fragment past the known end.
    assertInvalid(frag(4, 16, 8, false), frag(4, 24, 8, true));
    // Larger than 65535 with a 20-byte header: 65528 + 7 + 20.
    long before = r.discarded(DropReason.REASSEMBLY_INVALID);
    assertNull(r.offer(frag(5, 65528, 7, false)));
    assertEquals(before + 1, r.discarded(DropReason.REASSEMBLY_INVALID));
    assertEmpty();
  }

  private void assertInvalid(ByteBuffer first, ByteBuffer second) {
    long before = r.discarded(DropReason.REASSEMBLY_INVALID);
    assertNull(r.offer(first));
    assertNull(r.offer(second));
    assertEquals(before + 2, r.discarded(DropReason.REASSEMBLY_INVALID));
    assertEmpty();
  }

  @Test
  void theLargestDatagramDependsOnTheFirstHeader() throws DivertException {
    // 65535 bytes exactly, with a 20-byte header: fine.
    ByteBuffer max = datagram(11, 65515);
    ByteBuffer out = null;
    r = new Reassembler(4L << 20, 64, 30 * SECOND, () -> now);
    List<ByteBuffer> fs = Fragmenter.fragment(max, 9000);
    Collections.reverse(fs);
    for (ByteBuffer f : fs) {
      out = r.offer(f);
    }
    assertNotNull(out);
    assertEquals(toHex(max), toHex(out));
    // A last fragment that fits with 20 bytes of header but not with the first one's 60.
    byte[] opts = new byte[40];
    Arrays.fill(opts, (byte) 1);
    ByteBuffer last = frag(12, 65472, 40, false); // ends at 65512: 20 + 65512 <= 65535
    assertNull(r.offer(last));
    assertEquals(0, r.discarded(DropReason.REASSEMBLY_INVALID));
    ByteBuffer first =
        Ipv4Builder.raw(200)
            .source("10.0.0.1")
            .destination("10.0.0.2")
            .identification(12)
            .moreFragments(true)
            .options(opts)
            .payloadLength(8)
            .build();
    assertNull(r.offer(first), "60 + 65512 > 65535");
    assertEquals(2, r.discarded(DropReason.REASSEMBLY_INVALID));
    assertEmpty();
  }

  @Test
  void timeoutRunsFromTheFirstFragment() {
    assertNull(r.offer(frag(1, 0, 8, true)));
    now += 29 * SECOND;
    assertNull(r.offer(frag(1, 16, 8, true)));
    assertNull(r.offer(frag(2, 0, 8, true)));
    assertEquals(0, r.expire());
    now += SECOND - 1;
    assertEquals(0, r.expire());
    now += 1;
    assertEquals(1, r.expire(), "30 s after datagram 1's first fragment");
    assertEquals(2, r.discarded(DropReason.REASSEMBLY_TIMEOUT), "its two fragments");
    assertEquals(1, r.datagramsInFlight());
    // Expiry also runs lazily on offer: datagram 2 goes when any packet arrives later.
    now += 29 * SECOND;
    assertNotNull(r.offer(datagram(3, 8)), "a non-fragment passes, after expiry ran");
    assertEquals(3, r.discarded(DropReason.REASSEMBLY_TIMEOUT));
    assertEmpty();
    // The late fragment of datagram 1 starts a new datagram, which never completes.
    assertNull(r.offer(frag(1, 8, 8, false)));
    assertEquals(1, r.datagramsInFlight());
  }

  @Test
  void theClockMayStartAnywhereIncludingNearOverflow() {
    now = Long.MAX_VALUE - SECOND;
    assertNull(r.offer(frag(1, 0, 8, true)));
    now += 2 * SECOND; // wraps to negative, as System.nanoTime may
    assertEquals(0, r.expire());
    assertNotNull(r.offer(frag(1, 8, 8, false)));
    assertNull(r.offer(frag(2, 0, 8, true)));
    now += 30 * SECOND;
    assertEquals(1, r.expire());
  }

  @Test
  void memoryBoundDiscardsTheDatagramThatWouldExceedIt() {
    int per = 1480 + Reassembler.FRAGMENT_OVERHEAD;
    r = new Reassembler(2L * per + 10, 64, 30 * SECOND, () -> now);
    assertNull(r.offer(frag(1, 0, 1480, true)));
    assertNull(r.offer(frag(2, 0, 1480, true)));
    assertEquals(2L * per, r.bytesHeld());
    assertNull(r.offer(frag(3, 0, 1480, true)), "no room");
    assertEquals(1, r.discarded(DropReason.REASSEMBLY_MEMORY));
    assertNull(r.offer(frag(3, 1480, 8, false)), "its later fragments go too");
    assertEquals(2, r.discarded(DropReason.REASSEMBLY_MEMORY));
    assertNull(r.offer(frag(1, 1480, 1480, true)), "datagram 1 would exceed: discarded whole");
    assertEquals(4, r.discarded(DropReason.REASSEMBLY_MEMORY));
    assertEquals(per, r.bytesHeld());
    assertNotNull(r.offer(frag(2, 1480, 8, false)), "fits now that datagram 1 is gone");
    assertEmpty();
  }

  @Test
  void maxDatagramsBoundsDatagramsInFlightAndRememberedDiscards() {
    r = new Reassembler(4L << 20, 2, 30 * SECOND, () -> now);
    assertNull(r.offer(frag(1, 0, 8, true)));
    assertNull(r.offer(frag(2, 0, 8, true)));
    assertNull(r.offer(frag(3, 0, 8, true)), "a third is one too many");
    assertEquals(2, r.datagramsInFlight());
    assertEquals(1, r.discarded(DropReason.REASSEMBLY_MEMORY));
    assertNull(r.offer(frag(4, 0, 8, true)));
    assertEquals(2, r.discarded(DropReason.REASSEMBLY_MEMORY));
    // Two discards are remembered (the bound), the fifth is not: its later fragment would start
    // a new datagram if there were room.
    assertNull(r.offer(frag(5, 0, 8, true)));
    assertNotNull(r.offer(frag(1, 8, 8, false)));
    assertNull(r.offer(frag(3, 8, 8, false)), "remembered: dropped");
    assertEquals(4, r.discarded(DropReason.REASSEMBLY_MEMORY));
    assertNull(r.offer(frag(5, 8, 8, false)), "forgotten: starts a new datagram");
    assertEquals(2, r.datagramsInFlight());
    assertNotNull(r.offer(frag(2, 8, 8, false)));
  }

  @Test
  void reassembledFlagsFollowLinux() {
    // DF on fragments (Linux IPSKB_FRAG_PMTU) survives; the reserved flag does not.
    ByteBuffer a = frag(1, 0, 8, true);
    new Ipv4View().wrap(a).setFlags(true, true).setReservedFlag(true).fillHeaderChecksum();
    ByteBuffer b = frag(1, 8, 8, false);
    new Ipv4View().wrap(b).setFlags(true, false).fillHeaderChecksum();
    assertNull(r.offer(b));
    ByteBuffer d = r.offer(a);
    Ipv4View v = new Ipv4View().wrap(d);
    assertTrue(v.dontFragment());
    assertFalse(v.reservedFlag());
    assertFalse(v.isFragment());
    assertTrue(v.isHeaderChecksumValid());
    // Without DF anywhere, none.
    r.offer(frag(2, 8, 8, false));
    assertFalse(new Ipv4View().wrap(r.offer(frag(2, 0, 8, true))).dontFragment());
  }

  @Test
  void keysIncludeSourceDestinationProtocolAndId() {
    ByteBuffer a = frag(1, 0, 8, true);
    ByteBuffer[] others = new ByteBuffer[4];
    for (int i = 0; i < 4; i++) {
      others[i] = frag(1, 8, 8, false);
    }
    new Ipv4View().wrap(others[0]).setSource(0x0A0000FF);
    new Ipv4View().wrap(others[1]).setDestination(0x0A0000FF);
    new Ipv4View().wrap(others[2]).setProtocol(201);
    new Ipv4View().wrap(others[3]).setIdentification(2);
    assertNull(r.offer(a));
    for (ByteBuffer o : others) {
      assertNull(r.offer(o), "a different datagram");
    }
    assertEquals(5, r.datagramsInFlight());
    assertNotNull(r.offer(frag(1, 8, 8, false)));
  }

  @Test
  void manyDatagramsInFlightAtOnce() throws DivertException {
    // Exercises the hash table: growth, collisions and deletion from the middle of probe runs.
    r = new Reassembler(256L << 20, 20_000, 30 * SECOND, () -> now);
    Random rnd = new Random(7);
    List<List<ByteBuffer>> all = new ArrayList<>();
    List<Integer> ids = new ArrayList<>();
    for (int id = 0; id < 5000; id++) {
      all.add(new ArrayList<>(fragments(datagram(id, 100 + rnd.nextInt(3000)), 576)));
      ids.add(id);
    }
    int done = 0;
    while (!all.isEmpty()) {
      int i = rnd.nextInt(all.size());
      List<ByteBuffer> fs = all.get(i);
      ByteBuffer out = r.offer(fs.remove(rnd.nextInt(fs.size())));
      if (fs.isEmpty()) {
        assertNotNull(out);
        assertEquals((int) ids.remove(i), new Ipv4View().wrap(out).identification());
        all.remove(i);
        done++;
      } else {
        assertNull(out);
      }
    }
    assertEquals(5000, done);
    assertEmpty();
  }

  @Test
  void steadyReassemblyAllocatesLittleMoreThanItsOutput() throws DivertException {
    ByteBuffer d = datagram(8, 65515);
    List<ByteBuffer> fs = fragments(d, 1500);
    for (int i = 0; i < 3; i++) {
      for (ByteBuffer f : fs) {
        r.offer(f);
      }
    }
    long before = Alloc.bytes();
    ByteBuffer out = null;
    for (int i = 0; i < 20; i++) {
      for (ByteBuffer f : fs) {
        ByteBuffer o = r.offer(f);
        out = o == null ? out : o;
      }
    }
    long perDatagram = (Alloc.bytes() - before) / 20;
    assertEquals(toHex(d), toHex(out), "reused fragment arrays are overwritten");
    assertTrue(perDatagram < 65535 + 2048, "allocated " + perDatagram + " bytes per datagram");
  }

  @Test
  void constructorChecksItsBounds() {
    assertThrows(IllegalArgumentException.class, () -> new Reassembler(0, 1, 1, () -> 0));
    assertThrows(IllegalArgumentException.class, () -> new Reassembler(1, 0, 1, () -> 0));
    assertThrows(
        IllegalArgumentException.class,
        () -> new Reassembler(1, Reassembler.MAX_DATAGRAMS_LIMIT + 1, 1, () -> 0));
    assertThrows(IllegalArgumentException.class, () -> new Reassembler(1, 1, 0, () -> 0));
    assertThrows(NullPointerException.class, () -> new Reassembler(1, 1, 1, null));
    assertThrows(NullPointerException.class, () -> r.offer(null));
  }

  @Test
  void toStringShowsTheState() {
    r.offer(frag(1, 0, 8, true));
    assertEquals("Reassembler(held 72/4194304 bytes, 1/64 datagrams, 0 reassembled)", r.toString());
  }
}
