package org.divert4j.impair;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.BitSet;
import java.util.List;
import org.divert4j.impair.SimRig.Arrival;
import org.junit.jupiter.api.Test;

/**
 * Exactness on the simulation's virtual clock: each statistic of an impairment lands within the
 * bound its distribution gives (five standard deviations, so a correct impairer fails with
 * probability below one in a million for a seed; the seeds are fixed, so the outcome is too), and
 * one seed gives the same outcome twice.
 */
class ImpairSimTest {
  private static final String RULE = "input udp dport 9000";
  private static final Duration MS = Duration.ofMillis(1);

  private static void within(double expected, double sd, long actual, String what) {
    assertTrue(
        Math.abs(actual - expected) <= 5 * sd,
        what + ": " + actual + " not within 5 sd (" + sd + ") of " + expected);
  }

  private static BitSet lostSeqs(Impairment m, long seed, int n) throws Exception {
    try (SimRig rig = new SimRig(RULE, m, seed)) {
      for (int i = 0; i < n; i++) {
        rig.send(i, 0);
      }
      BitSet lost = new BitSet(n);
      lost.set(0, n);
      for (Arrival a : rig.arrivals) {
        assertTrue(lost.get(a.seq()), "datagram " + a.seq() + " arrived twice");
        lost.clear(a.seq());
      }
      ImpairStats s = rig.impairer.stats();
      assertEquals(n, s.received());
      assertEquals(lost.cardinality(), s.lost(), "every loss is counted, nothing else is lost");
      assertEquals(n - lost.cardinality(), s.sent());
      return lost;
    }
  }

  /** Mean length of the runs of consecutive lost datagrams. */
  private static double meanBurst(BitSet lost) {
    int bursts = 0;
    for (int i = lost.nextSetBit(0); i >= 0; i = lost.nextSetBit(lost.nextClearBit(i))) {
      bursts++;
    }
    return (double) lost.cardinality() / bursts;
  }

  @Test
  void tenPercentLossOverAHundredThousandPacketsIsBinomial() throws Exception {
    int n = 100_000;
    BitSet lost = lostSeqs(Impairment.builder().loss(0.10).build(), 1, n);
    within(n * 0.10, Math.sqrt(n * 0.10 * 0.90), lost.cardinality(), "lost");
    // Independent losses: runs last 1/(1-p) = 1.11 packets on average.
    double burst = meanBurst(lost);
    assertTrue(burst > 1.05 && burst < 1.17, "mean burst " + burst);
  }

  @Test
  void oneSeedGivesTheSameLossesAndAnotherSeedOthers() throws Exception {
    Impairment m = Impairment.builder().loss(0.10).build();
    BitSet a = lostSeqs(m, 7, 20_000);
    BitSet b = lostSeqs(m, 7, 20_000);
    BitSet c = lostSeqs(m, 8, 20_000);
    assertEquals(a, b);
    assertNotEquals(a, c);
  }

  @Test
  void gilbertElliottLosesInBurstsOfTheModelsLengthAndShare() throws Exception {
    int n = 100_000;
    double p = 0.01;
    double r = 0.25;
    BitSet lost = lostSeqs(Impairment.builder().gilbertElliott(p, r, 1, 0).build(), 3, n);
    // Bad-state share p/(p+r) = 3.85 %; bursts are geometric with mean 1/r = 4 packets (sd
    // sqrt(1-r)/r = 3.46), about n*p*r/(p+r) = 962 of them.
    double bursts = n * p * r / (p + r);
    double burstSd = Math.sqrt(1 - r) / r;
    double meanBurst = meanBurst(lost);
    assertTrue(
        Math.abs(meanBurst - 1 / r) <= 5 * burstSd / Math.sqrt(bursts), "mean burst " + meanBurst);
    double lossSd = Math.sqrt(bursts * burstSd * burstSd + (1 / r) * (1 / r) * bursts);
    within(n * p / (p + r), lossSd, lost.cardinality(), "lost");
  }

  @Test
  void delayWithJitterIsUniformOverItsWindow() throws Exception {
    int n = 10_000;
    Impairment m =
        Impairment.builder().delay(Duration.ofMillis(20)).jitter(Duration.ofMillis(5)).build();
    try (SimRig rig = new SimRig(RULE, m, 11)) {
      for (int i = 0; i < n; i++) {
        rig.send(i, 0);
        rig.tick(MS);
      }
      for (int i = 0; i < 30; i++) {
        rig.tick(MS);
      }
      assertEquals(n, rig.arrivals.size());
      // Delays are uniform in [15, 25] ms; the clock moves in whole milliseconds, so each arrives
      // at the first tick at or after its due time: ceil(delay) in 16..25 (15 only if exactly).
      long[] histogram = new long[40];
      for (Arrival a : rig.arrivals) {
        long d = a.delay();
        assertTrue(d >= 15 * 1_000_000L && d <= 25 * 1_000_000L, "delay " + d);
        histogram[(int) (d / 1_000_000L)]++;
      }
      assertTrue(histogram[15] <= 2, "delays of exactly 15 ms: " + histogram[15]);
      for (int ms = 16; ms <= 25; ms++) {
        within(n / 10.0, Math.sqrt(n * 0.1 * 0.9), histogram[ms], "delay " + ms + " ms");
      }
      ImpairStats s = rig.impairer.stats();
      assertEquals(n, s.delayed());
      assertEquals(n, s.sent());
      assertEquals(0, s.held());
    }
  }

  @Test
  void tokenBucketPacesToTheRateAndDropsWhatWouldWaitTooLong() throws Exception {
    // 1 Mbit/s = 125,000 B/s; 1,000-byte IP packets (972 payload + 8 UDP + 20 IP) take 8 ms each.
    // Offered: one per millisecond (8 Mbit/s) for 3 s.
    Impairment m = Impairment.builder().rate(1_000_000).rateQueue(Duration.ofMillis(100)).build();
    try (SimRig rig = new SimRig(RULE, m, 5)) {
      for (int i = 0; i < 3000; i++) {
        rig.send(i, 972 - 12);
        rig.tick(MS);
      }
      for (int i = 0; i < 200; i++) {
        rig.tick(MS);
      }
      long inWindow =
          rig.arrivals.stream()
              .filter(a -> a.arrivedAt() >= 500_000_000L && a.arrivedAt() < 2_500_000_000L)
              .count();
      // Departures are exactly 8 ms apart while the queue is never empty: 250 in 2 s.
      assertTrue(Math.abs(inWindow - 250) <= 1, "packets in 2 s at 1 Mbit/s: " + inWindow);
      ImpairStats s = rig.impairer.stats();
      assertEquals(3000, s.received());
      assertEquals(rig.arrivals.size(), s.sent());
      assertEquals(3000, s.sent() + s.rateDropped());
      // Accepted: what leaves in 3 s plus a queue of at most 100 ms (12 packets of 8 ms).
      assertTrue(Math.abs(s.sent() - (3000 / 8 + 12)) <= 2, "accepted " + s.sent());
    }
  }

  @Test
  void aFullBucketLetsItsBurstPassAtOnce() throws Exception {
    Impairment m = Impairment.builder().rate(1_000_000).burst(10_000).build();
    try (SimRig rig = new SimRig(RULE, m, 5)) {
      rig.tick(Duration.ofSeconds(1));
      for (int i = 0; i < 11; i++) {
        rig.send(i, 972 - 12);
      }
      assertEquals(10, rig.arrivals.size(), "10,000 bytes of burst: ten packets at once");
      for (int i = 0; i < 7; i++) {
        rig.tick(MS);
      }
      assertEquals(10, rig.arrivals.size(), "the eleventh waits its 8 ms");
      rig.tick(MS);
      assertEquals(11, rig.arrivals.size());
    }
  }

  @Test
  void duplicatesArriveTwiceAsOftenAsTheProbabilitySays() throws Exception {
    int n = 20_000;
    try (SimRig rig = new SimRig(RULE, Impairment.builder().duplicate(0.05).build(), 9)) {
      for (int i = 0; i < n; i++) {
        rig.send(i, 0);
      }
      long dups = rig.impairer.stats().duplicated();
      within(n * 0.05, Math.sqrt(n * 0.05 * 0.95), dups, "duplicated");
      assertEquals(n + dups, rig.arrivals.size());
      int[] seen = new int[n];
      for (Arrival a : rig.arrivals) {
        seen[a.seq()]++;
      }
      long twice = 0;
      for (int c : seen) {
        assertTrue(c == 1 || c == 2, "arrived " + c + " times");
        twice += c == 2 ? 1 : 0;
      }
      assertEquals(dups, twice);
    }
  }

  @Test
  void reorderedPacketsSkipTheDelayAndOvertake() throws Exception {
    int n = 8_000;
    Impairment m = Impairment.builder().delay(Duration.ofMillis(10)).reorder(0.25).build();
    try (SimRig rig = new SimRig(RULE, m, 13)) {
      for (int i = 0; i < n; i++) {
        rig.send(i, 0);
        rig.tick(MS);
      }
      for (int i = 0; i < 20; i++) {
        rig.tick(MS);
      }
      assertEquals(n, rig.arrivals.size());
      long reordered = rig.impairer.stats().reordered();
      within(n * 0.25, Math.sqrt(n * 0.25 * 0.75), reordered, "reordered");
      // A reordered datagram arrives at once, before the delayed ones of the last 10 ms; the
      // others arrive 10 ms after they were sent.
      long overtaking = 0;
      for (Arrival a : rig.arrivals) {
        if (a.delay() == 0) {
          overtaking++;
        } else {
          assertEquals(10_000_000L, a.delay());
        }
      }
      assertEquals(reordered, overtaking);
      long inversions = 0;
      for (int i = 1; i < rig.arrivals.size(); i++) {
        if (rig.arrivals.get(i).seq() < rig.arrivals.get(i - 1).seq()) {
          inversions++;
        }
      }
      assertTrue(inversions > reordered / 2, "order changed " + inversions + " times");
    }
  }

  @Test
  void oneSeedGivesTheSameArrivalsWithEveryStageOn() throws Exception {
    Impairment m =
        Impairment.builder()
            .delay(Duration.ofMillis(5))
            .jitter(Duration.ofMillis(3))
            .loss(0.05)
            .duplicate(0.05)
            .reorder(0.1)
            .rate(4_000_000)
            .build();
    assertEquals(arrivals(m, 21), arrivals(m, 21));
    assertNotEquals(arrivals(m, 21), arrivals(m, 22));
  }

  private static List<String> arrivals(Impairment m, long seed) throws Exception {
    try (SimRig rig = new SimRig(RULE, m, seed)) {
      for (int i = 0; i < 2000; i++) {
        rig.send(i, 100);
        rig.tick(MS);
      }
      for (int i = 0; i < 200; i++) {
        rig.tick(MS);
      }
      ImpairStats s = rig.impairer.stats();
      assertEquals(
          s.received() + s.duplicated(),
          s.lost() + s.rateDropped() + s.overflowed() + s.sent() + s.sendErrors() + s.held(),
          "every packet and copy is accounted for once: " + s);
      assertEquals(rig.arrivals.size(), s.sent());
      return rig.arrivals.stream().map(a -> a.seq() + "@" + a.arrivedAt()).toList();
    }
  }
}
