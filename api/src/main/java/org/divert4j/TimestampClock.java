package org.divert4j;

/** The clock of {@link PacketMetadata#timestamp(int)} on a host (S75). */
public enum TimestampClock {
  /** Wall-clock nanoseconds since 1970-01-01 UTC, as {@code CLOCK_REALTIME}. */
  REALTIME,
  /** Monotonic nanoseconds, as {@code CLOCK_MONOTONIC} and {@link System#nanoTime()}. */
  MONOTONIC,
  /** The test bed's virtual clock in nanoseconds (the simulation). */
  VIRTUAL,
  /** The backend gives no timestamps. */
  NONE
}
