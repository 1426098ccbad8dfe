package org.divert4j;

import java.util.EnumMap;
import java.util.Map;

/**
 * A snapshot of drop counters by reason, shared by {@link SocketStats} and {@link HostStats}.
 * Immutable.
 */
abstract sealed class Counters permits SocketStats, HostStats {
  private final long[] dropped;

  Counters(long[] dropped) {
    if (dropped.length != DropReason.values().length) {
      throw new IllegalArgumentException("need one counter per DropReason");
    }
    this.dropped = dropped.clone();
  }

  /**
   * @param reason a drop reason
   * @return how many packets were dropped for it
   */
  public long dropped(DropReason reason) {
    return dropped[reason.ordinal()];
  }

  /**
   * @return all drops, whatever the reason
   */
  public long droppedTotal() {
    long sum = 0;
    for (long d : dropped) {
      sum += d;
    }
    return sum;
  }

  /**
   * @return the non-zero drop counters by reason
   */
  public Map<DropReason, Long> drops() {
    Map<DropReason, Long> m = new EnumMap<>(DropReason.class);
    for (DropReason r : DropReason.values()) {
      if (dropped[r.ordinal()] != 0) {
        m.put(r, dropped[r.ordinal()]);
      }
    }
    return m;
  }
}
