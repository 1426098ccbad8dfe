package org.divert4j.impair;

import java.time.Duration;

/**
 * A clock that moves only when {@link #advance(Duration)} is called: for tests on a test bed with a
 * virtual clock, advanced together with {@link org.divert4j.testbed.TestBed#advance(Duration)}.
 * Thread-safe.
 */
public final class ManualClock implements ImpairClock {
  private volatile long nanos;

  /** A clock at zero. */
  public ManualClock() {}

  @Override
  public long nanos() {
    return nanos;
  }

  @Override
  public boolean isManual() {
    return true;
  }

  /**
   * @param d how far to move the clock, zero or more
   */
  public synchronized void advance(Duration d) {
    if (d.isNegative()) {
      throw new IllegalArgumentException("time does not go back: " + d);
    }
    nanos += d.toNanos();
  }
}
