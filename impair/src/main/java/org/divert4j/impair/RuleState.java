package org.divert4j.impair;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import org.divert4j.packet.Checksums;

/**
 * The decisions for one rule's packets: its {@link Impairment}, one random stream per stage, the
 * Gilbert-Elliott state and the token bucket. Used by the impairer's thread only; allocates nothing
 * per packet.
 */
final class RuleState {
  /** {@link #depart} result: the rate limit would hold the packet too long. */
  static final long RATE_DROP = Long.MIN_VALUE;

  private static final int PROTOCOL_ICMP = 1;
  private static final int PROTOCOL_TCP = 6;
  private static final int PROTOCOL_UDP = 17;

  final Impairment impairment;
  private final SplittableRandom lossRandom;
  private final SplittableRandom duplicateRandom;
  private final SplittableRandom corruptRandom;
  private final SplittableRandom jitterRandom;
  private final SplittableRandom reorderRandom;
  private boolean bad;

  /** Whether the last {@link #due} reordered its packet. */
  boolean reordered;

  // Token bucket, in bytes; tokens as of tokensAt (nanoseconds).
  private double tokens;
  private long tokensAt;
  private long lastDeparture = Long.MIN_VALUE;
  private boolean bucketStarted;

  /**
   * @param impairment what to do
   * @param seed the impairer's seed
   * @param index the rule's index: each rule gets streams of its own
   */
  RuleState(Impairment impairment, long seed, int index) {
    this.impairment = impairment;
    // SplittableRandom.split() is deterministic for a seed: the streams, and so every decision,
    // depend only on (seed, rule index, stage).
    SplittableRandom root = new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * (index + 1)));
    this.lossRandom = root.split();
    this.duplicateRandom = root.split();
    this.corruptRandom = root.split();
    this.jitterRandom = root.split();
    this.reorderRandom = root.split();
  }

  /**
   * @return true if the next packet is lost
   */
  boolean lose() {
    Impairment m = impairment;
    if (m.gilbertElliott()) {
      // Transition first, then the loss of the new state (as netem's loss_gilb_ell).
      if (bad) {
        if (m.geBadToGood() > 0 && lossRandom.nextDouble() < m.geBadToGood()) {
          bad = false;
        }
      } else if (m.geGoodToBad() > 0 && lossRandom.nextDouble() < m.geGoodToBad()) {
        bad = true;
      }
      double p = bad ? m.geLossBad() : m.geLossGood();
      return p > 0 && lossRandom.nextDouble() < p;
    }
    return m.loss() > 0 && lossRandom.nextDouble() < m.loss();
  }

  /**
   * @return true if the next packet is sent twice
   */
  boolean duplicate() {
    double p = impairment.duplicate();
    return p > 0 && duplicateRandom.nextDouble() < p;
  }

  /**
   * Maybe corrupts the packet in place: flips one random bit of the transport payload (of the bytes
   * after the IP header when there is no payload or the packet is a later fragment), then
   * recomputes the transport checksum if the impairment says so.
   *
   * @param p the IP packet, from 0 to its limit
   * @return true if a bit was flipped
   */
  boolean corrupt(ByteBuffer p) {
    double prob = impairment.corrupt();
    if (prob == 0 || corruptRandom.nextDouble() >= prob) {
      return false;
    }
    int len = p.limit();
    if (len < 20) {
      return false;
    }
    int ihl = (p.get(0) & 0x0f) * 4;
    boolean laterFragment = (p.getShort(6) & 0x1fff) != 0;
    int from = ihl;
    if (!laterFragment) {
      int th = transportHeaderLength(p, ihl, len);
      if (ihl + th < len) {
        from = ihl + th;
      }
    }
    if (from >= len) {
      return false;
    }
    int bit = corruptRandom.nextInt((len - from) * 8);
    int at = from + bit / 8;
    p.put(at, (byte) (p.get(at) ^ (1 << (bit & 7))));
    if (impairment.fixChecksum()) {
      try {
        Checksums.fillTransport(p, 0);
      } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
        // A packet whose transport header does not add up has no checksum to fix: it leaves
        // corrupted, as it came in malformed.
      }
    }
    return true;
  }

  private static int transportHeaderLength(ByteBuffer p, int ihl, int len) {
    switch (p.get(9) & 0xff) {
      case PROTOCOL_UDP:
      case PROTOCOL_ICMP:
        return 8;
      case PROTOCOL_TCP:
        return ihl + 13 <= len ? ((p.get(ihl + 12) >> 4) & 0x0f) * 4 : len - ihl;
      default:
        return 0;
    }
  }

  /**
   * The token bucket: when the packet may leave. Without a rate limit, now.
   *
   * @param now the time
   * @param length the packet's length in bytes
   * @return its departure time, or {@link #RATE_DROP} if it would wait longer than the rate queue
   *     allows (the bucket is then unchanged)
   */
  long depart(long now, int length) {
    long rate = impairment.rateBytesPerSecond();
    if (rate == 0) {
      return now;
    }
    if (!bucketStarted) {
      bucketStarted = true;
      tokens = impairment.burstBytes();
      tokensAt = now;
      lastDeparture = now;
    }
    // Packets leave in arrival order: a packet starts no earlier than the one before it left.
    long t = Math.max(now, lastDeparture);
    double cap = Math.max(impairment.burstBytes(), length);
    double have = Math.min(cap, tokens + (t - tokensAt) * (double) rate / 1e9);
    long departure;
    double left;
    if (have >= length) {
      departure = t;
      left = have - length;
    } else {
      departure = t + (long) Math.ceil((length - have) * 1e9 / rate);
      left = 0;
    }
    if (departure - now > impairment.rateQueueNanos()) {
      return RATE_DROP;
    }
    tokens = left;
    tokensAt = departure;
    lastDeparture = departure;
    return departure;
  }

  /**
   * @param departure when the rate limit lets the packet go
   * @return when it is due: departure plus delay and jitter, or departure if it is reordered
   *     ({@link #reordered} then tells so)
   */
  long due(long departure) {
    Impairment m = impairment;
    reordered = m.reorder() > 0 && reorderRandom.nextDouble() < m.reorder();
    if (reordered) {
      return departure;
    }
    long d = m.delayNanos();
    long j = m.jitterNanos();
    if (j > 0) {
      d += jitterRandom.nextLong(-j, j + 1);
    }
    return departure + Math.max(0, d);
  }
}
