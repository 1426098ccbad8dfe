package org.divert4j;

/**
 * A snapshot of a host's own counters: packets that never reached a socket (no listener, reassembly
 * discards, losses below the divert layer), and packets the backend could not transmit ({@link
 * DropReason#TRANSMIT}). Immutable.
 */
public final class HostStats extends Counters {
  private final long passedNoListener;
  private final long reassembled;

  /**
   * For backends.
   *
   * @param passedNoListener packets that matched a rule with no socket and passed through (S12)
   * @param reassembled datagrams reassembled in ALWAYS_DEFRAGMENT mode
   * @param dropped drops, indexed by {@link DropReason#ordinal()}
   */
  public HostStats(long passedNoListener, long reassembled, long[] dropped) {
    super(dropped);
    this.passedNoListener = passedNoListener;
    this.reassembled = reassembled;
  }

  /**
   * @return packets that matched a DIVERT rule with no listener and continued (PASS_THROUGH)
   */
  public long passedNoListener() {
    return passedNoListener;
  }

  /**
   * @return datagrams reassembled before diversion
   */
  public long reassembled() {
    return reassembled;
  }

  @Override
  public String toString() {
    return "passedNoListener="
        + passedNoListener
        + " reassembled="
        + reassembled
        + " dropped="
        + drops();
  }
}
