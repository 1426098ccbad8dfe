package org.divert4j.rawsocket.internal;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The ticket bookkeeping of one socket: the packets it holds ({@link TicketRing}) under their lock,
 * and the socket's serial, which a ticket carries in its top bits so that a ticket of another
 * socket is never taken for one of ours.
 *
 * <p>Adding, finding and removing take the lock. Reading an entry's fields through {@link #ring()}
 * needs no lock by the holder of the socket's send lock: only sends, drops and expiry remove or
 * move entries, and all of them hold that lock; receivers only add into empty slots. Allocates
 * nothing.
 */
final class Tickets {
  private static final AtomicLong SERIALS = new AtomicLong();
  private static final long SEQ_MASK = (1L << 40) - 1;

  private final TicketRing ring;
  private final ReentrantLock lock = new ReentrantLock();
  private final long serial = SERIALS.incrementAndGet() & ((1L << 23) - 1);

  /**
   * @param kernelLimit the most packets the kernel queues may hold at once
   * @param syntheticLimit the most fragments of S19 cuts held at once
   */
  Tickets(int kernelLimit, int syntheticLimit) {
    this.ring = new TicketRing(kernelLimit, syntheticLimit);
  }

  /**
   * @return the ring, to read entries' fields (see the class comment for when that is safe)
   */
  TicketRing ring() {
    return ring;
  }

  /**
   * Records a delivered packet.
   *
   * @return its ticket, or 0 if the table is full
   */
  long add(
      byte kind,
      int lane,
      int id,
      int chain,
      int flags,
      int mark,
      int len,
      int out,
      int rule,
      long hash,
      long deadline) {
    long s;
    lock.lock();
    try {
      s = ring.add(kind, lane, id, chain, flags, mark, len, out, rule, hash, deadline);
    } finally {
      lock.unlock();
    }
    return s == 0 ? 0 : (serial << 40) | s;
  }

  /**
   * @param ticket a ticket from any socket, or 0
   * @return the slot of the live entry it names, or -1
   */
  int find(long ticket) {
    if (ticket == 0 || (ticket >>> 40) != serial) {
      return -1;
    }
    lock.lock();
    try {
      return ring.find(ticket & SEQ_MASK);
    } finally {
      lock.unlock();
    }
  }

  /**
   * @param slot a slot from {@link #find}
   */
  void remove(int slot) {
    lock.lock();
    try {
      ring.remove(slot);
    } finally {
      lock.unlock();
    }
  }

  /** See {@link TicketRing#noKernelEntryBefore}. */
  boolean noKernelEntryBefore(long limit, int lane, int maxScan) {
    lock.lock();
    try {
      return ring.noKernelEntryBefore(limit, lane, maxScan);
    } finally {
      lock.unlock();
    }
  }

  /** Removes every entry whose deadline has passed, telling the visitor first. */
  void expire(long now, TicketRing.Visitor v) {
    lock.lock();
    try {
      ring.expire(now, v);
    } finally {
      lock.unlock();
    }
  }

  /**
   * @return {held kernel packets, held synthetic fragments}, read together
   */
  long[] sizes() {
    lock.lock();
    try {
      int synthetic = ring.syntheticSize();
      return new long[] {ring.size() - synthetic, synthetic};
    } finally {
      lock.unlock();
    }
  }
}
