package org.divert4j.sim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.divert4j.DivertAddress;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.HostStats;
import org.divert4j.fuzz.FuzzRun;
import org.divert4j.packet.Fragmenter;
import org.divert4j.packet.Ipv4Builder;
import org.divert4j.packet.Reassembler;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Fragment attacks against ALWAYS_DEFRAGMENT mode on the simulation (deterministic, virtual clock):
 * teardrop overlaps, pings of death, a flood of datagrams that never complete, and tiny 8-byte
 * fragments, sent by the peer with legitimate fragmented datagrams interleaved. Each test proves:
 * the reassembly memory held stays within {@link HostOptions#reassemblyMemory()} (derived from the
 * counters: every fragment offered is part of a delivered datagram, counted as dropped for a
 * reason, or held, and what is held times its charge fits the bound); every discard is counted
 * under its {@code REASSEMBLY_*} reason in {@link HostStats}; legitimate datagrams get through.
 * Each prints one {@code ATTACK} line with its figures. {@code -Ddivert.reliability=long}
 * multiplies the attack sizes by 20.
 */
class FragmentAttackTest {
  private static final int PORT = 1234;
  private static final long MEMORY = 256 << 10;
  private static final int SCALE = FuzzRun.LONG ? 20 : 1;
  private static final int PEER = 0x0A000102;
  private static final int HOST = 0x0A000101;

  private TestBed bed;
  private DivertSocket socket;
  private final ByteBuffer rx = ByteBuffer.allocate(65535);
  private final Random rnd = new Random(8);
  private long attackFragments;
  private long legitFragments;
  private long legitOffered;
  private long legitDelivered;
  private long legitDeliveredFragments;
  private long wholeOffered;
  private long wholeDelivered;
  private long maxHeldBytes;
  private int legitId = 40_000;

  @BeforeEach
  void open() throws Exception {
    bed =
        new SimProvider()
            .testBed(
                TestBedOptions.builder()
                    .host(
                        HostOptions.builder()
                            .fragments(FragmentMode.ALWAYS_DEFRAGMENT)
                            .reassemblyMemory(MEMORY)
                            .build())
                    .build());
    socket = bed.host().bind(PORT);
    bed.host().addRule(DivertRule.parse("input -p udp -j DIVERT " + PORT));
  }

  @AfterEach
  void close() {
    bed.close();
  }

  // ------------------------------------------------------------------ traffic

  /** A crafted UDP fragment from the peer: {@code len} payload bytes at {@code offset}. */
  private void attack(int id, int offset, int len, boolean mf, int optionBytes) throws Exception {
    ByteBuffer f =
        Ipv4Builder.raw(17)
            .source(PEER)
            .destination(HOST)
            .identification(id)
            .fragmentOffset(offset)
            .moreFragments(mf)
            .options(new byte[optionBytes])
            .payloadLength(len)
            .build();
    bed.peer().sendRaw(f);
    attackFragments++;
    drainAttack();
  }

  /** A legitimate UDP datagram of {@code size} bytes cut to {@code mtu}: it must come out whole. */
  private void legit(int size, int mtu, boolean mustArrive) throws Exception {
    byte[] payload = new byte[size];
    rnd.nextBytes(payload);
    ByteBuffer d =
        Ipv4Builder.udp(5000, 7000)
            .source(PEER)
            .destination(HOST)
            .identification(legitId++)
            .payload(payload)
            .build();
    List<ByteBuffer> fs = mtu == 8 ? eightByteFragments(d) : Fragmenter.fragment(d, mtu);
    for (ByteBuffer f : fs) {
      bed.peer().sendRaw(f);
    }
    boolean whole = fs.size() == 1;
    if (whole) {
      wholeOffered++;
    } else {
      legitOffered++;
      legitFragments += fs.size();
    }
    DivertAddress a = socket.receive(rx.clear(), Duration.ZERO);
    if (a != null) {
      rx.flip();
      byte[] got = new byte[rx.remaining()];
      rx.get(got);
      d.rewind();
      byte[] want = new byte[d.remaining()];
      d.get(want);
      assertArrayEquals(want, got, "the datagram comes out whole and unchanged");
      socket.drop(a);
      if (whole) {
        wholeDelivered++;
      } else {
        legitDelivered++;
        legitDeliveredFragments += fs.size();
      }
    }
    if (mustArrive) {
      assertNotNull(a, "legitimate datagram " + (legitId - 1) + " of " + size + " bytes");
    }
    assertNull(socket.receive(rx.clear(), Duration.ZERO), "nothing else comes out");
    checkBound();
  }

  /** A datagram cut into fragments of 8 payload bytes (below any MTU the Fragmenter accepts). */
  private static List<ByteBuffer> eightByteFragments(ByteBuffer d) {
    byte[] all = new byte[d.remaining()];
    d.get(d.position(), all);
    List<ByteBuffer> out = new ArrayList<>();
    for (int off = 0; off < all.length - 20; off += 8) {
      int len = Math.min(8, all.length - 20 - off);
      byte[] part = java.util.Arrays.copyOfRange(all, 20 + off, 20 + off + len);
      out.add(
          Ipv4Builder.raw(17)
              .source(PEER)
              .destination(HOST)
              .identification(d.getShort(4) & 0xffff)
              .fragmentOffset(off)
              .moreFragments(off + len < all.length - 20)
              .payload(part)
              .build());
    }
    return out;
  }

  /** Nothing an attack sends may come out. */
  private void drainAttack() throws Exception {
    assertNull(socket.receive(rx.clear(), Duration.ZERO), "an attack completed a datagram");
    checkBound();
  }

  private long drops(HostStats s) {
    long n = 0;
    for (DropReason r :
        new DropReason[] {
          DropReason.REASSEMBLY_TIMEOUT,
          DropReason.REASSEMBLY_OVERLAP,
          DropReason.REASSEMBLY_MEMORY,
          DropReason.REASSEMBLY_INVALID
        }) {
      n += s.dropped(r);
    }
    return n;
  }

  /** The fragments held now, by the counters: offered, minus delivered, minus dropped. */
  private long heldFragments() {
    return attackFragments + legitFragments - legitDeliveredFragments - drops(bed.host().stats());
  }

  /** The engine's reassembly memory in use now: never above the bound. */
  private void checkBound() {
    long bytes = ((SimNode) bed.hostNode()).engine().reassemblyBytesHeld();
    assertTrue(heldFragments() >= 0, "no fragment counted twice");
    maxHeldBytes = Math.max(maxHeldBytes, bytes);
    assertTrue(bytes <= MEMORY, "held " + bytes + " bytes > " + MEMORY);
  }

  /** After the timeout, everything held is dropped and counted; every fragment is accounted for. */
  private Map<DropReason, Long> finish(String name) throws Exception {
    bed.advance(HostOptions.DEFAULT_REASSEMBLY_TIMEOUT.plusSeconds(1));
    legit(3000, 1500, true); // reassembly works again, and the tick has run
    HostStats s = bed.host().stats();
    assertEquals(0, heldFragments(), "all held fragments timed out and were counted");
    assertEquals(
        attackFragments + legitFragments, legitDeliveredFragments + drops(s), "every fragment");
    assertEquals(legitDelivered, s.reassembled(), "reassembled = legitimate datagrams delivered");
    assertEquals(wholeOffered, wholeDelivered, "unfragmented datagrams always pass");
    System.out.printf(
        "ATTACK %s: %d attack fragments, %d legitimate datagrams (%d fragments) of which %d"
            + " delivered, %d unfragmented of which %d delivered; drops %s; max held %d of %d"
            + " bytes%n",
        name,
        attackFragments,
        legitOffered,
        legitFragments,
        legitDelivered,
        wholeOffered,
        wholeDelivered,
        s.drops(),
        maxHeldBytes,
        MEMORY);
    return s.drops();
  }

  // ------------------------------------------------------------------ attacks

  /** Teardrop: the second fragment lands inside the first; the whole datagram is discarded. */
  @Test
  void teardropOverlapsAreDiscardedAndLegitimateDatagramsPass() throws Exception {
    int n = 500 * SCALE;
    for (int i = 0; i < n; i++) {
      int id = i % 30_000;
      attack(id, 0, 32, true, 0);
      attack(id, 8 + 8 * (i % 3), 16, true, 0); // overlaps 0..32
      attack(id, 32, 8, false, 0); // the rest arrives after the discard
      if (i % 10 == 0) {
        legit(2000 + i % 1000, 576, true);
        // Time passes (two teardrops a second): a third fragment that started a datagram of its
        // own expires instead of piling up to maxDatagrams, which would starve legitimate ones
        // exactly as the flood below does.
        bed.advance(Duration.ofSeconds(5));
      }
    }
    Map<DropReason, Long> d = finish("teardrop");
    // The two overlapping fragments are always counted as overlap; the third too while the key of
    // the discarded datagram is remembered (at most maxDatagrams keys, until its timeout), else it
    // starts a datagram of its own that times out.
    assertTrue(d.get(DropReason.REASSEMBLY_OVERLAP) >= 2L * n, "both overlapping fragments");
    assertEquals(
        3L * n,
        d.get(DropReason.REASSEMBLY_OVERLAP) + d.getOrDefault(DropReason.REASSEMBLY_TIMEOUT, 0L),
        "3 fragments per teardrop");
  }

  /**
   * Ping of death: fragments each valid on their own whose datagram would exceed 65535 bytes with
   * the first fragment's 60-byte header (a last fragment ending at 65528). The classic variant, one
   * fragment whose own offset plus length passes 65535, is refused as malformed by the simulation's
   * ip_rcv before diversion (see docs/reliability.md) and never comes out either.
   */
  @Test
  void pingsOfDeathAreDiscardedAsInvalid() throws Exception {
    int n = 500 * SCALE;
    for (int i = 0; i < n; i++) {
      int id = i % 30_000;
      attack(id, 0, 1440, true, 40); // 60-byte header
      attack(id, 65488, 40, false, 0); // ends at 65528: 60 + 65528 > 65535
      if (i % 10 == 0) {
        legit(1000 + i % 3000, 1500, true);
      }
    }
    long invalid = finish("ping of death").get(DropReason.REASSEMBLY_INVALID);
    assertEquals(2L * n, invalid, "both fragments of each, counted invalid");
    long before = bed.host().stats().droppedTotal();
    ByteBuffer classic =
        Ipv4Builder.raw(17)
            .source(PEER)
            .destination(HOST)
            .identification(7)
            .fragmentOffset(65528)
            .payloadLength(16)
            .build();
    bed.peer().sendRaw(classic);
    assertNull(socket.receive(rx.clear(), Duration.ZERO));
    assertEquals(before, bed.host().stats().droppedTotal(), "dropped before the engine");
  }

  /**
   * A flood of first fragments whose datagrams never complete: memory fills to the bound, further
   * fragments are dropped as REASSEMBLY_MEMORY, and the held ones time out as REASSEMBLY_TIMEOUT.
   * Unfragmented datagrams pass throughout; fragmented ones pass once the flood's fragments have
   * expired (while the bound is full they are dropped and counted, as Linux does above
   * ipfrag_high_thresh).
   */
  @Test
  void aFloodOfIncompleteDatagramsStaysWithinTheMemoryBound() throws Exception {
    int n = 5_000 * SCALE;
    long memoryDropsSeen = 0;
    for (int i = 0; i < n; i++) {
      attack(i % 30_000, 0, 1480, true, 0);
      if (i % 25 == 0) {
        legit(500, 1500, true); // unfragmented: passes even while memory is full
        legit(2500, 1500, false); // fragmented: passes or is counted
      }
      if (i % 1000 == 999) {
        bed.advance(Duration.ofSeconds(10)); // some time passes: old fragments expire
      }
    }
    memoryDropsSeen = bed.host().stats().dropped(DropReason.REASSEMBLY_MEMORY);
    Map<DropReason, Long> d = finish("flood of incomplete datagrams");
    assertTrue(memoryDropsSeen > 0, "the flood reached the memory bound");
    assertTrue(d.get(DropReason.REASSEMBLY_TIMEOUT) > 0, "held fragments timed out");
    assertTrue(
        maxHeldBytes > MEMORY - 2 * (1480 + Reassembler.FRAGMENT_OVERHEAD),
        "the bound was used, not undercut");
  }

  /**
   * Tiny fragments: a legitimate datagram in 8-byte fragments is reassembled; a flood of 8-byte
   * fragments of datagrams that never complete stays within the bound.
   */
  @Test
  void tinyFragmentsAreReassembledOrBoundedAndCounted() throws Exception {
    legit(3000, 8, true); // 376 fragments of 8 bytes
    legit(1000, 8, true);
    int n = 20_000 * SCALE;
    for (int i = 0; i < n; i++) {
      // 50 datagrams at a time, each fragment somewhere below 64 KiB, never the last, never twice
      // at one place (an exact duplicate is ignored without a drop counter: see the docs)
      attack(20_000 + i % 50, 8 * ((i / 50 * 7919 + i % 50) % 8000), 8, true, 0);
      if (i % 2000 == 0) {
        legit(500, 1500, true);
      }
      if (i % 5000 == 4999) {
        bed.advance(Duration.ofSeconds(31));
      }
    }
    Map<DropReason, Long> d = finish("tiny fragments");
    assertTrue(d.getOrDefault(DropReason.REASSEMBLY_MEMORY, 0L) > 0, "the bound was reached");
    assertEquals(2 + 1, legitDelivered, "the two 8-byte-fragmented datagrams and the final one");
  }

  /** The test machinery: the counters add up on plain traffic too. */
  @Test
  void legitimateTrafficAloneIsFullyAccounted() throws Exception {
    for (int i = 0; i < 50; i++) {
      legit(100 + 200 * i, Math.min(1500, 68 + 30 * i), true);
    }
    Map<DropReason, Long> d = finish("none (control)");
    assertTrue(d.isEmpty(), "no drops without an attack: " + d);
  }
}
