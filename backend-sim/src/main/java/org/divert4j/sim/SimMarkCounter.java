package org.divert4j.sim;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;
import org.divert4j.testbed.MarkCounter;

/**
 * Counts a simulated node's outgoing UDP datagrams by the mark they leave its divert engine with
 * ({@link org.divert4j.testbed.TestNode#countOutgoingMarks}): the node's engine hands every packet
 * it transmits, with its mark, to {@link #offer}. Thread-safe.
 */
final class SimMarkCounter implements MarkCounter {
  private final int port;
  private final int significant;
  private final int[] marks;
  private final AtomicLongArray counts;
  private final List<SimMarkCounter> registry;

  SimMarkCounter(int port, int significant, int[] marks, List<SimMarkCounter> registry) {
    this.port = port;
    this.significant = significant;
    this.marks = marks.clone();
    this.counts = new AtomicLongArray(marks.length);
    this.registry = registry;
    registry.add(this);
  }

  /** Counts a transmitted packet if it is a UDP datagram (or its first fragment) to the port. */
  void offer(ByteBuffer p, int mark) {
    int base = p.position();
    int ihl = (p.get(base) & 0x0f) * 4;
    boolean first = (p.getShort(base + 6) & 0x1fff) == 0;
    if (p.get(base + 9) != 17 || !first || p.remaining() < ihl + 4) {
      return;
    }
    if ((p.getShort(base + ihl + 2) & 0xffff) != port) {
      return;
    }
    for (int i = 0; i < marks.length; i++) {
      if (((mark ^ marks[i]) & significant) == 0) {
        counts.incrementAndGet(i);
      }
    }
  }

  @Override
  public long count(int mark) {
    for (int i = 0; i < marks.length; i++) {
      if (marks[i] == mark) {
        return counts.get(i);
      }
    }
    throw new IllegalArgumentException("not counted: 0x" + Integer.toHexString(mark));
  }

  @Override
  public void close() {
    registry.remove(this);
  }
}
