package org.divert4j.stack;

/**
 * An {@link EngineSocket}'s held slots: the packets its program has received and not yet written
 * back or dropped (S15 counts them against the queue length), their tickets, and their expiry after
 * the hold time. Allocates nothing after construction. Not thread-safe: used under the socket's
 * lock.
 */
final class HeldSlots {
  private final int serial;
  private final long holdNanos;
  private final HeldPacket[] held;
  private final int[] free;
  private int freeCount;
  private int count;
  private long generation;
  private long nextScan = Long.MAX_VALUE;

  /**
   * @param capacity how many packets may be held
   * @param serial the socket's serial, the top 16 bits of its tickets
   * @param holdNanos the hold time; 0 or less holds packets until the socket closes
   */
  HeldSlots(int capacity, int serial, long holdNanos) {
    this.serial = serial;
    this.holdNanos = holdNanos;
    this.held = new HeldPacket[capacity];
    this.free = new int[capacity];
    for (int i = 0; i < capacity; i++) {
      held[i] = new HeldPacket(i);
      free[i] = capacity - 1 - i;
    }
    this.freeCount = capacity;
  }

  /**
   * @return how many packets are held
   */
  int count() {
    return count;
  }

  /**
   * Takes a free slot for a packet just received, with a new ticket; the caller fills in where the
   * packet was diverted. There must be a free slot (waiting plus held never exceed the capacity).
   *
   * @param now the engine's clock
   */
  HeldPacket take(long now) {
    HeldPacket h = held[free[--freeCount]];
    h.busy = true;
    h.ticket = ((long) serial << 48) | ((++generation & 0xffffffffL) << 16) | h.slot;
    h.since = now;
    count++;
    if (nextScan == Long.MAX_VALUE && holdNanos > 0) {
      nextScan = now + holdNanos;
    }
    return h;
  }

  /**
   * @return the held slot a ticket names, if it is this socket's and still held; else null
   */
  HeldPacket find(long ticket) {
    if ((int) (ticket >>> 48) != serial) {
      return null;
    }
    int slot = (int) (ticket & 0xffff);
    if (slot >= held.length) {
      return null;
    }
    HeldPacket h = held[slot];
    return h.busy && h.ticket == ticket ? h : null;
  }

  /** Frees a held slot: its packet was written back, dropped or expired. */
  void release(HeldPacket h) {
    h.busy = false;
    h.ticket = 0;
    free[freeCount++] = h.slot;
    count--;
  }

  /**
   * @return true if held packets may be due to expire (a hold time is set and something is held)
   */
  boolean mayExpire() {
    return holdNanos > 0 && count > 0;
  }

  /**
   * Releases held packets older than the hold time. Cheap when nothing is due: a full scan runs at
   * most every quarter of the hold time, unless forced.
   *
   * @return how many expired
   */
  int expire(long now, boolean force) {
    if (holdNanos <= 0 || count == 0 || (!force && now < nextScan)) {
      return 0;
    }
    int expired = 0;
    for (HeldPacket h : held) {
      if (h.busy && now - h.since >= holdNanos) {
        release(h);
        expired++;
      }
    }
    nextScan = now + Math.max(1, holdNanos / 4);
    return expired;
  }

  /** Forgets every held packet when the socket closes; their tickets no longer name a slot. */
  void clear() {
    for (HeldPacket h : held) {
      if (h.busy) {
        h.busy = false;
        h.ticket = 0;
      }
    }
    count = 0;
  }
}
