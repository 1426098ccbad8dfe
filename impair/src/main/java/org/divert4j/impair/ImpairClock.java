package org.divert4j.impair;

/**
 * Where an {@link Impairer} reads the time. {@link #SYSTEM} for real traffic; a {@link ManualClock}
 * on a test bed with a virtual clock ({@link org.divert4j.Capability#VIRTUAL_TIME}), advanced
 * together with the test bed, so that every outcome is exact for a seed.
 */
@FunctionalInterface
public interface ImpairClock {
  /** The JVM's monotonic clock, {@link System#nanoTime()}. */
  ImpairClock SYSTEM = System::nanoTime;

  /**
   * @return the time in nanoseconds, monotonic, from an arbitrary origin; called by the thread that
   *     drives the impairer, at least once per step
   */
  long nanos();

  /**
   * @return true if time passes only when someone advances it, so the impairer must never wait for
   *     it (a {@link ManualClock})
   */
  default boolean isManual() {
    return false;
  }
}
