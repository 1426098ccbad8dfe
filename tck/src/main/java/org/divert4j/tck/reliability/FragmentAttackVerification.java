package org.divert4j.tck.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.HostStats;
import org.divert4j.packet.Reassembler;
import org.divert4j.spi.DivertProvider;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Fragment attacks against ALWAYS_DEFRAGMENT mode, the same on every backend that reassembles:
 * teardrop overlaps, pings of death, a flood of datagrams that never complete, and tiny 8-byte
 * fragments, sent raw by the peer with legitimate datagrams interleaved. Each test proves: nothing
 * an attack sends comes out; the reassembly memory held stays within {@link
 * HostOptions#reassemblyMemory()} (plus {@link #memorySlack()}); the discards appear in {@link
 * HostStats} under {@code REASSEMBLY_*} reasons; legitimate datagrams get through whole; after the
 * timeout nothing is held. Each prints one {@code ATTACK} line with its figures; {@code
 * -Ddivert.reliability=long} multiplies the attacks by {@link Sizes#longScale()}.
 *
 * <p>Where backends legitimately differ, a hook says so. A backend on a virtual clock (its test
 * bed's settle time is zero: every packet is processed before the send returns) is checked after
 * every packet, and time passes in the loops at once; on a real clock time passes by itself and
 * receives wait. A backend that counts each discarded fragment ({@link #countsEachFragment()})
 * accounts for every fragment exactly; a kernel counts per datagram. Each backend runs it with a
 * short subclass naming its provider.
 */
public abstract class FragmentAttackVerification {
  /** The divert port. */
  protected static final int PORT = 1234;

  /** The reassembly memory bound of the tests, bytes. */
  protected static final long MEMORY = 256 << 10;

  /**
   * How much of each attack a backend runs (a real clock costs wall time; a virtual one does not).
   *
   * @param longScale the factor of {@code -Ddivert.reliability=long}
   * @param teardrops teardrops
   * @param teardropLegitEvery a legitimate datagram after every so many teardrops
   * @param pingsPerBurst pings of death (of each variant) per burst; a burst must fit the bound
   *     where the backend holds them until the timeout
   * @param pingBursts bursts (times the scale); the timeout passes between two
   * @param floodDatagrams incomplete datagrams of the flood
   * @param floodLegitEvery legitimate datagrams after every so many flood fragments
   * @param tinyFragments 8-byte fragments of the tiny-fragment flood
   * @param tinyLegitEvery a legitimate datagram after every so many of them
   * @param tinyDatagrams sizes of the legitimate datagrams sent in 8-byte fragments
   */
  public record Sizes(
      int longScale,
      int teardrops,
      int teardropLegitEvery,
      int pingsPerBurst,
      int pingBursts,
      int floodDatagrams,
      int floodLegitEvery,
      int tinyFragments,
      int tinyLegitEvery,
      int... tinyDatagrams) {}

  private TestBed bed;
  private FragmentTraffic traffic;
  private int scale;

  // ------------------------------------------------------------------ hooks

  /**
   * @return the backend under test
   */
  protected abstract DivertProvider provider();

  /** Skips (with the reason) when the backend cannot run here. */
  protected void assumeAvailable() {}

  /**
   * @return the attack sizes for this backend
   */
  protected abstract Sizes sizes();

  /**
   * @return the reassembly timeout of the tests' host
   */
  protected Duration reassemblyTimeout() {
    return HostOptions.DEFAULT_REASSEMBLY_TIMEOUT;
  }

  /**
   * @return the reassembly memory the backend holds now, bytes, as it measures it
   * @throws Exception if it cannot be read
   */
  protected abstract long heldBytes() throws Exception;

  /**
   * @return how far above the bound the held memory may be seen (a kernel checks the bound before
   *     it adds a fragment, so one fragment more)
   */
  protected long memorySlack() {
    return 0;
  }

  /**
   * @return true if the backend counts each fragment it discards (so every fragment offered is
   *     accounted for exactly); false if it counts per datagram, as Linux does
   */
  protected boolean countsEachFragment() {
    return false;
  }

  /**
   * @return true if a fragment lying wholly inside data already held is ignored as a duplicate
   *     (Linux: {@code IPFRAG_DUP} in {@code inet_frag_queue_insert}, net/ipv4/inet_fragment.c), so
   *     a teardrop must overlap past the first fragment's end; false if it is an overlap
   */
  protected boolean overlapInsideIsDuplicate() {
    return true;
  }

  /**
   * @return the test bed
   */
  protected final TestBed bed() {
    return bed;
  }

  // ------------------------------------------------------------------ fixture

  @BeforeEach
  final void open() throws Exception {
    assumeAvailable();
    scale = Figures.pick(1, sizes().longScale());
    bed =
        provider()
            .testBed(
                TestBedOptions.builder()
                    .host(
                        HostOptions.builder()
                            .fragments(FragmentMode.ALWAYS_DEFRAGMENT)
                            .reassemblyMemory(MEMORY)
                            .reassemblyTimeout(reassemblyTimeout())
                            .build())
                    .build());
    DivertSocket socket = bed.host().bind(PORT);
    bed.host().addRule(DivertRule.parse("input -p udp -j DIVERT " + PORT));
    traffic = new FragmentTraffic(this, bed, socket);
  }

  @AfterEach
  final void close() {
    if (bed != null) {
      bed.close();
    }
  }

  // ------------------------------------------------------------------ attacks

  /** The most memory seen held was within the bound (plus {@link #memorySlack()}). */
  private void assertHeldWithinBound() {
    assertTrue(
        traffic.maxHeldBytes() <= MEMORY + memorySlack(),
        "memory " + traffic.maxHeldBytes() + ": the bound plus " + memorySlack() + " at most");
  }

  /**
   * Teardrop: the second fragment overlaps the first, and the datagram is discarded. Where a
   * fragment wholly inside held data counts as an overlap, it lands inside the first (8..24, 16..32
   * or 24..40 of 0..32) and the last fragment follows the discard; it is then counted as an overlap
   * too while the discarded datagram's key is remembered, else it starts a datagram of its own that
   * times out (time passes: two teardrops a second, so such leftovers expire instead of starving
   * legitimate datagrams as the flood below does). Where Linux ignores it as a duplicate, the
   * second reaches past the first's end (24..48 or 16..40) and Linux holds nothing after it.
   */
  @Test
  void teardropOverlapsAreDiscardedAndLegitimateDatagramsPass() throws Exception {
    int n = sizes().teardrops() * scale;
    boolean past = overlapInsideIsDuplicate();
    for (int i = 0; i < n; i++) {
      int id = i % 30_000;
      traffic.attack(id, 0, 32, true, 0);
      if (past) {
        traffic.attack(id, 24 - 8 * (i % 2), 24, true, 0);
      } else {
        traffic.attack(id, 8 + 8 * (i % 3), 16, true, 0);
        traffic.attack(id, 32, 8, false, 0);
      }
      if (i % sizes().teardropLegitEvery() == 0) {
        traffic.legit(2000 + i % 1000, 576);
        traffic.letTimePass(Duration.ofSeconds(5));
      }
    }
    Map<DropReason, Long> d = traffic.finish("teardrop");
    long overlap = d.getOrDefault(DropReason.REASSEMBLY_OVERLAP, 0L);
    if (countsEachFragment()) {
      int perTeardrop = past ? 2 : 3;
      assertTrue(overlap >= 2L * n, "both overlapping fragments");
      assertEquals(
          (long) perTeardrop * n,
          overlap + d.getOrDefault(DropReason.REASSEMBLY_TIMEOUT, 0L),
          perTeardrop + " fragments per teardrop");
    } else {
      assertEquals(n, overlap, "one overlap per teardrop");
    }
  }

  /**
   * Pings of death, in bursts with the timeout between them: fragments each valid on their own
   * whose datagram would exceed 65535 bytes with the first fragment's 60-byte header (a last
   * fragment ending at 65528), and the classic variant, a first fragment and one whose own offset
   * plus length passes 65535. Nothing comes out, the legitimate datagrams in between do. A backend
   * counting each fragment discards the first variant at once as invalid, and refuses the classic
   * fragment as malformed before diversion (the simulation's ip_rcv, see docs/reliability.md),
   * without a drop counter; Linux finds a datagram too large only when it is complete, so it holds
   * both until the timeout.
   */
  @Test
  void pingsOfDeathAreDiscarded() throws Exception {
    int perBurst = sizes().pingsPerBurst();
    int bursts = sizes().pingBursts() * scale;
    int classicRefused = 0;
    for (int b = 0; b < bursts; b++) {
      for (int i = b * perBurst; i < (b + 1) * perBurst; i++) {
        traffic.attack(i % 30_000, 0, 1440, true, 40); // 60-byte header
        traffic.attack(i % 30_000, 65488, 40, false, 0); // ends at 65528: 60 + 65528 > 65535
        traffic.attack(30_000 + i % 30_000, 0, 1480, true, 0);
        classicRefused += traffic.classicPingOfDeath(30_000 + i % 30_000) ? 1 : 0;
        if (i % 10 == 0) {
          traffic.legit(2000 + i % 1000, 1500);
        }
      }
      if (b + 1 < bursts) {
        bed.advance(reassemblyTimeout().plusMillis(1500));
      }
    }
    Map<DropReason, Long> d = traffic.finish("ping of death");
    if (countsEachFragment()) {
      System.out.println("  classic fragments refused before diversion: " + classicRefused);
    }
    long pings = (long) bursts * perBurst;
    assertTrue(d.values().stream().mapToLong(Long::longValue).sum() >= pings, "counted");
    if (countsEachFragment()) {
      long invalid = d.getOrDefault(DropReason.REASSEMBLY_INVALID, 0L);
      assertEquals(2L * pings, invalid, "both fragments of each, counted invalid");
    }
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
    int n = sizes().floodDatagrams() * scale;
    int fragmentedThrough = 0;
    Duration briefly = traffic.virtualClock() ? Duration.ZERO : Duration.ofMillis(300);
    for (int i = 0; i < n; i++) {
      traffic.attack(i % 30_000, 0, 1480, true, 0);
      if (i % sizes().floodLegitEvery() == 0) {
        traffic.legit(500, 1500); // unfragmented: passes even while memory is full
        fragmentedThrough +=
            traffic.legit(2500, 1500, false, briefly) ? 1 : 0; // passes or is counted
      }
      if (i % 1000 == 999) {
        traffic.letTimePass(Duration.ofSeconds(10)); // some time passes: old fragments expire
      }
    }
    Map<DropReason, Long> d = traffic.finish("flood of incomplete datagrams");
    System.out.println(
        "  fragmented legitimate datagrams through during the flood: " + fragmentedThrough);
    long memory = d.getOrDefault(DropReason.REASSEMBLY_MEMORY, 0L);
    long timeout = d.getOrDefault(DropReason.REASSEMBLY_TIMEOUT, 0L);
    assertTrue(memory + timeout > 0, "the flood was counted");
    assertHeldWithinBound();
    if (countsEachFragment()) {
      assertTrue(memory > 0, "the flood reached the memory bound");
      assertTrue(timeout > 0, "held fragments timed out");
      assertTrue(
          traffic.maxHeldBytes() > MEMORY - 2 * (1480 + Reassembler.FRAGMENT_OVERHEAD),
          "the bound was used, not undercut");
    }
  }

  /**
   * Tiny fragments: legitimate datagrams in 8-byte fragments are reassembled; a flood of 8-byte
   * fragments of 50 datagrams that never complete stays within the bound. No fragment is sent twice
   * at one place (an exact duplicate is ignored without a drop counter: see the docs).
   */
  @Test
  void tinyFragmentsAreReassembledOrBoundedAndCounted() throws Exception {
    int[] sizes = sizes().tinyDatagrams();
    for (int size : sizes) {
      traffic.legit(size, 8); // a 3000-byte datagram takes 376 fragments
    }
    int n = sizes().tinyFragments() * scale;
    for (int i = 0; i < n; i++) {
      traffic.attack(20_000 + i % 50, 8 * ((i / 50 * 7919 + i % 50) % 8000), 8, true, 0);
      if (i % sizes().tinyLegitEvery() == 0) {
        traffic.legit(500, 1500);
      }
      if (i % 5000 == 4999) {
        traffic.letTimePass(Duration.ofSeconds(31));
      }
    }
    Map<DropReason, Long> d = traffic.finish("tiny fragments");
    assertHeldWithinBound();
    assertTrue(d.values().stream().mapToLong(Long::longValue).sum() > 0, "counted");
    assertEquals(
        sizes.length + 1, traffic.legitDelivered(), "the 8-byte-fragmented datagrams and the last");
    if (countsEachFragment()) {
      assertTrue(d.getOrDefault(DropReason.REASSEMBLY_MEMORY, 0L) > 0, "the bound was reached");
    }
  }

  /** The test machinery: the counters add up on plain traffic too. */
  @Test
  void legitimateTrafficAloneIsFullyAccounted() throws Exception {
    for (int i = 0; i < 50; i++) {
      traffic.legit(100 + 200 * i, Math.min(1500, 68 + 30 * i));
    }
    Map<DropReason, Long> d = traffic.finish("none (control)");
    assertTrue(d.isEmpty(), "no drops without an attack: " + d);
  }
}
