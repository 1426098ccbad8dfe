package org.divert4j.impair;

import java.time.Duration;
import java.util.Locale;

/**
 * What an {@link Impairer} does to the packets of one rule (and so one direction: the rule's
 * chain). Immutable and thread-safe; build one with {@link #builder()}.
 *
 * <p>Each packet goes through the stages in this order, as in Linux {@code tc netem}: loss (random
 * or Gilbert-Elliott), duplication, corruption, the rate limit, then delay with jitter, where
 * reordering lets a packet skip the delay. Every probability is drawn from a stream of its own,
 * seeded from the impairer's seed, so enabling one stage does not change the decisions of another.
 */
public final class Impairment {
  /** No impairment: every packet is written back at once, unchanged. */
  public static final Impairment NONE = builder().build();

  private final long delayNanos;
  private final long jitterNanos;
  private final double loss;
  private final double gePToBad;
  private final double geRToGood;
  private final double geLossBad;
  private final double geLossGood;
  private final boolean gilbertElliott;
  private final double duplicate;
  private final double reorder;
  private final long rateBytesPerSecond;
  private final long burstBytes;
  private final long rateQueueNanos;
  private final double corrupt;
  private final boolean fixChecksum;

  private Impairment(Builder b) {
    this.delayNanos = b.delayNanos;
    this.jitterNanos = b.jitterNanos;
    this.loss = b.loss;
    this.gilbertElliott = b.gilbertElliott;
    this.gePToBad = b.gePToBad;
    this.geRToGood = b.geRToGood;
    this.geLossBad = b.geLossBad;
    this.geLossGood = b.geLossGood;
    this.duplicate = b.duplicate;
    this.reorder = b.reorder;
    this.rateBytesPerSecond = b.rateBytesPerSecond;
    this.burstBytes = b.burstBytes;
    this.rateQueueNanos = b.rateQueueNanos;
    this.corrupt = b.corrupt;
    this.fixChecksum = b.fixChecksum;
  }

  /**
   * @return a builder with no impairment set
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * @return the fixed delay added to every packet, in nanoseconds
   */
  public long delayNanos() {
    return delayNanos;
  }

  /**
   * @return the jitter: each packet's delay is the delay plus a uniform draw in [-jitter, +jitter]
   *     (never below zero), in nanoseconds
   */
  public long jitterNanos() {
    return jitterNanos;
  }

  /**
   * @return the probability of losing a packet independently of the others (0 when {@link
   *     #gilbertElliott()})
   */
  public double loss() {
    return loss;
  }

  /**
   * @return true if losses follow the Gilbert-Elliott two-state model instead of {@link #loss()}
   */
  public boolean gilbertElliott() {
    return gilbertElliott;
  }

  /**
   * @return Gilbert-Elliott: probability of going from the good to the bad state, per packet
   */
  public double geGoodToBad() {
    return gePToBad;
  }

  /**
   * @return Gilbert-Elliott: probability of going from the bad to the good state, per packet
   */
  public double geBadToGood() {
    return geRToGood;
  }

  /**
   * @return Gilbert-Elliott: probability of loss in the bad state
   */
  public double geLossBad() {
    return geLossBad;
  }

  /**
   * @return Gilbert-Elliott: probability of loss in the good state
   */
  public double geLossGood() {
    return geLossGood;
  }

  /**
   * @return the probability that a packet is sent twice
   */
  public double duplicate() {
    return duplicate;
  }

  /**
   * @return the probability that a packet skips the delay and so overtakes the packets before it
   *     (as {@code netem reorder}; needs a delay)
   */
  public double reorder() {
    return reorder;
  }

  /**
   * @return the rate limit in bytes per second of IP packets, 0 for none
   */
  public long rateBytesPerSecond() {
    return rateBytesPerSecond;
  }

  /**
   * @return the token bucket's depth in bytes: this much may pass at once after an idle time (0:
   *     strict pacing, each packet waits its own transmission time)
   */
  public long burstBytes() {
    return burstBytes;
  }

  /**
   * @return the longest a packet may wait for the rate limit before it is dropped instead, in
   *     nanoseconds
   */
  public long rateQueueNanos() {
    return rateQueueNanos;
  }

  /**
   * @return the probability that one bit of a packet's transport payload is flipped
   */
  public double corrupt() {
    return corrupt;
  }

  /**
   * @return true if a corrupted packet's transport checksum is recomputed, so the receiver accepts
   *     the changed bytes; false leaves it wrong, so the receiver's stack drops the packet
   */
  public boolean fixChecksum() {
    return fixChecksum;
  }

  /**
   * @return the longest this impairment holds a packet, in nanoseconds: delay, jitter and the rate
   *     queue
   */
  public long maxHoldNanos() {
    return delayNanos + jitterNanos + (rateBytesPerSecond > 0 ? rateQueueNanos : 0);
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    if (delayNanos > 0) {
      sb.append(" delay ").append(ms(delayNanos));
      if (jitterNanos > 0) {
        sb.append(" ± ").append(ms(jitterNanos));
      }
    }
    if (gilbertElliott) {
      sb.append(
          String.format(
              Locale.ROOT,
              " loss gilbert-elliott p=%s r=%s bad=%s good=%s",
              pct(gePToBad),
              pct(geRToGood),
              pct(geLossBad),
              pct(geLossGood)));
    } else if (loss > 0) {
      sb.append(" loss ").append(pct(loss));
    }
    if (duplicate > 0) {
      sb.append(" duplicate ").append(pct(duplicate));
    }
    if (reorder > 0) {
      sb.append(" reorder ").append(pct(reorder));
    }
    if (rateBytesPerSecond > 0) {
      sb.append(String.format(Locale.ROOT, " rate %.3f Mbit/s", rateBytesPerSecond * 8 / 1e6));
      if (burstBytes > 0) {
        sb.append(" burst ").append(burstBytes).append(" B");
      }
    }
    if (corrupt > 0) {
      sb.append(" corrupt ").append(pct(corrupt));
      sb.append(fixChecksum ? " (checksum fixed)" : " (checksum left wrong)");
    }
    return sb.length() == 0 ? "none" : sb.substring(1);
  }

  private static String ms(long nanos) {
    return String.format(Locale.ROOT, "%.3f ms", nanos / 1e6);
  }

  private static String pct(double p) {
    return String.format(Locale.ROOT, "%.4g%%", p * 100);
  }

  /** Builds an {@link Impairment}; not thread-safe. */
  public static final class Builder {
    private long delayNanos;
    private long jitterNanos;
    private double loss;
    private boolean gilbertElliott;
    private double gePToBad;
    private double geRToGood;
    private double geLossBad;
    private double geLossGood;
    private double duplicate;
    private double reorder;
    private long rateBytesPerSecond;
    private long burstBytes;
    private long rateQueueNanos = 100_000_000L;
    private double corrupt;
    private boolean fixChecksum = true;

    private Builder() {}

    /**
     * @param delay added to every packet, zero or more
     * @return this builder
     */
    public Builder delay(Duration delay) {
      this.delayNanos = nonNegative(delay, "delay");
      return this;
    }

    /**
     * @param jitter each packet's delay varies uniformly by up to this much either way
     * @return this builder
     */
    public Builder jitter(Duration jitter) {
      this.jitterNanos = nonNegative(jitter, "jitter");
      return this;
    }

    /**
     * Independent random loss; replaces a Gilbert-Elliott model set before.
     *
     * @param probability 0..1
     * @return this builder
     */
    public Builder loss(double probability) {
      this.loss = probability(probability, "loss");
      this.gilbertElliott = false;
      return this;
    }

    /**
     * Bursty loss by the Gilbert-Elliott model, as {@code netem loss gemodel p r 1-h 1-k}: per
     * packet the state changes first (good to bad with {@code p}, bad to good with {@code r}), then
     * the packet is lost with the new state's loss probability. The mean burst in the bad state
     * lasts {@code 1/r} packets; the bad state's share of packets is {@code p/(p+r)}. Replaces a
     * random loss set before.
     *
     * @param p probability of going from good to bad, 0..1
     * @param r probability of going from bad to good, 0..1 (above 0)
     * @param lossBad probability of loss in the bad state (usually 1)
     * @param lossGood probability of loss in the good state (usually 0)
     * @return this builder
     */
    public Builder gilbertElliott(double p, double r, double lossBad, double lossGood) {
      this.gePToBad = probability(p, "p");
      this.geRToGood = probability(r, "r");
      if (r == 0 && p > 0) {
        throw new IllegalArgumentException("r must be above 0: the bad state would never end");
      }
      this.geLossBad = probability(lossBad, "loss in the bad state");
      this.geLossGood = probability(lossGood, "loss in the good state");
      this.gilbertElliott = true;
      this.loss = 0;
      return this;
    }

    /**
     * @param probability that a packet is sent twice, 0..1
     * @return this builder
     */
    public Builder duplicate(double probability) {
      this.duplicate = probability(probability, "duplicate");
      return this;
    }

    /**
     * @param probability that a packet skips the delay, 0..1; needs a delay
     * @return this builder
     */
    public Builder reorder(double probability) {
      this.reorder = probability(probability, "reorder");
      return this;
    }

    /**
     * @param bitsPerSecond the rate limit for IP packets (header included), 0 for none
     * @return this builder
     */
    public Builder rate(long bitsPerSecond) {
      if (bitsPerSecond < 0) {
        throw new IllegalArgumentException("rate must be 0 or more: " + bitsPerSecond);
      }
      this.rateBytesPerSecond = bitsPerSecond / 8;
      if (bitsPerSecond > 0 && rateBytesPerSecond == 0) {
        throw new IllegalArgumentException("rate must be at least 8 bit/s: " + bitsPerSecond);
      }
      return this;
    }

    /**
     * @param bytes the token bucket's depth (default 0: strict pacing)
     * @return this builder
     */
    public Builder burst(long bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("burst must be 0 or more: " + bytes);
      }
      this.burstBytes = bytes;
      return this;
    }

    /**
     * @param limit the longest a packet waits for the rate limit before it is dropped (default 100
     *     ms)
     * @return this builder
     */
    public Builder rateQueue(Duration limit) {
      this.rateQueueNanos = nonNegative(limit, "rate queue");
      return this;
    }

    /**
     * @param probability that one bit of a packet's transport payload is flipped, 0..1
     * @param fixChecksum true to recompute the transport checksum after the change (default), false
     *     to leave it wrong
     * @return this builder
     */
    public Builder corrupt(double probability, boolean fixChecksum) {
      this.corrupt = probability(probability, "corrupt");
      this.fixChecksum = fixChecksum;
      return this;
    }

    /**
     * @return the impairment
     * @throws IllegalArgumentException if reordering is asked for without a delay
     */
    public Impairment build() {
      if (reorder > 0 && delayNanos == 0) {
        throw new IllegalArgumentException(
            "reorder needs a delay: a reordered packet skips the delay the others wait");
      }
      return new Impairment(this);
    }

    private static long nonNegative(Duration d, String what) {
      if (d.isNegative()) {
        throw new IllegalArgumentException(what + " must not be negative: " + d);
      }
      return d.toNanos();
    }

    private static double probability(double p, String what) {
      if (!(p >= 0 && p <= 1)) {
        throw new IllegalArgumentException(what + " must be a probability in 0..1: " + p);
      }
      return p;
    }
  }
}
