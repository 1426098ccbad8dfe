package org.divert4j.rawsocket.internal;

import org.divert4j.DropReason;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.HostStats;

/**
 * A host's statistics: what its no-listener lines dropped or passed (S11, S12), and for
 * ALWAYS_DEFRAGMENT the namespace's IP reassembly counters since the host opened (S24).
 * Thread-safe.
 */
final class HostLedger {
  private final HostOptions options;
  private final RuleBook book;
  private final NamespaceCounters proc;
  private final long[] reassemblyAtOpen;

  HostLedger(HostOptions options, RuleBook book, NamespaceCounters proc) {
    this.options = options;
    this.book = book;
    this.proc = proc;
    this.reassemblyAtOpen = proc.reassembly();
  }

  /**
   * @return the statistics now (reads the firewall's counters and /proc)
   */
  HostStats stats() {
    long[] d = new long[DropReason.values().length];
    long[] nl = book.noListenerCounters();
    d[DropReason.NO_LISTENER.ordinal()] = nl[0];
    long passed = nl[1];
    long reassembled = 0;
    if (options.fragments() == FragmentMode.ALWAYS_DEFRAGMENT) {
      // namespace-wide IP reassembly counters since the host opened: timeouts (ip_expire) and
      // overlaps are told apart; the other failures are almost always "reassembly memory full"
      // (ip_find fails above ipfrag_high_thresh), with the rare invalid fragment among them
      long[] now = proc.reassembly();
      long[] then = reassemblyAtOpen;
      long timeouts = Math.max(0, now[0] - then[0]);
      long overlaps = Math.max(0, now[3] - then[3]);
      reassembled = now[1] - then[1];
      d[DropReason.REASSEMBLY_TIMEOUT.ordinal()] = timeouts;
      d[DropReason.REASSEMBLY_OVERLAP.ordinal()] = overlaps;
      d[DropReason.REASSEMBLY_MEMORY.ordinal()] =
          Math.max(0, now[2] - then[2] - timeouts - overlaps);
    }
    return new HostStats(passed, Math.max(0, reassembled), d);
  }
}
