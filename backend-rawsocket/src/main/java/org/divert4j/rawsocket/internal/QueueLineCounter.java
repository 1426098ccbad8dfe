package org.divert4j.rawsocket.internal;

import java.util.HashMap;
import java.util.Map;

/**
 * A running total of the packets the rule lines sending towards one divert port's queues have
 * counted ({@link RuleCounts#queueLines}), that does not fall back when a line goes away.
 *
 * <p>The rule writer keeps a line's counter across a rewrite only while the line's chain and text
 * stay the same ({@link RuleWriter}: counters are kept by chain and text); a line that is removed
 * (its rule deleted) or rewritten with another text (a new line, counting from 0) would take its
 * packets out of a plain sum. So the last count read of every line is kept, and a line that is no
 * longer there adds that count to a retired total. Packets a line counted between the last read and
 * its removal are missed, so the total is a lower bound of the packets sent. Thread-safe.
 */
final class QueueLineCounter {
  private final Map<String, Long> last = new HashMap<>();
  private long retired;

  /**
   * @param lines each line's key (family, table, chain and text) and packet count now, or null if
   *     they could not be read
   * @return the packets every line ever seen has counted, or -1 if {@code lines} is null
   */
  synchronized long total(Map<String, Long> lines) {
    if (lines == null) {
      return -1;
    }
    for (Map.Entry<String, Long> e : last.entrySet()) {
      if (!lines.containsKey(e.getKey())) {
        retired += e.getValue();
      }
    }
    last.keySet().retainAll(lines.keySet());
    long sum = retired;
    for (Map.Entry<String, Long> e : lines.entrySet()) {
      Long before = last.get(e.getKey());
      long now = e.getValue();
      if (before != null && now < before) {
        // the counter went back: the writer restored it from a save taken before our last read
        // (the packets in between were counted by us but not in the restored value) or the line
        // lost it. Either way what was read stays counted and only increments from now on add:
        // exact for a restore, lower by the packets since the reset for a reset
        retired += before - now;
        sum += before - now;
      }
      last.put(e.getKey(), now);
      sum += now;
    }
    return sum;
  }
}
