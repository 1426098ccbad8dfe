package org.divert4j.rawsocket.internal;

/**
 * The packets a divert socket holds: received by the program and not yet written back, dropped or
 * expired. Each gets a sequence number {@code s} (1, 2, 3, ... in delivery order) that its ticket
 * carries; entries live in parallel primitive arrays indexed by open addressing on {@code s}, so
 * adding, finding and removing allocate nothing and cost O(1).
 *
 * <p>Two kinds of entries: {@link #KERNEL} packets still queued in NFQUEUE (a verdict releases
 * them), and {@link #SYNTHETIC} ones the backend made itself (the fragments of an outbound datagram
 * cut in user space, S19), which have no kernel counterpart. Kernel entries are bounded by the
 * queue length (the kernel never holds more), synthetic ones by a limit given at construction; the
 * table has at least twice that many slots, so probing stays short.
 *
 * <p>Expiry walks sequence numbers from the oldest still possibly live: amortised O(1) per packet.
 *
 * <p>Not thread-safe: the owning socket guards it with a lock.
 */
public final class TicketRing {
  public static final byte EMPTY = 0;
  public static final byte KERNEL = 1;
  public static final byte SYNTHETIC = 2;

  /** Flag: the packet had IP ID 0 when received (writing it back needs an ID, S39). */
  public static final byte F_ID_ZERO = 1;

  /** Flag: a GSO super-packet (S69): the stack segments it, the MTU check does not apply. */
  public static final byte F_GSO = 2;

  /** Flag: its transport checksum was partial (NFQA_SKB_CSUMNOTREADY) when received. */
  public static final byte F_CSUM_PARTIAL = 4;

  private final int mask;
  private final int syntheticLimit;
  private final long[] seq;
  private final byte[] kind;
  private final byte[] chain;
  private final byte[] flags;
  private final byte[] lane;
  private final int[] kernelId;
  private final int[] mark;
  private final int[] length;
  private final int[] outIndex;
  private final int[] ruleId;
  private final long[] hash;
  private final long[] deadline;
  private long next = 1;
  private long oldest = 1;
  private int live;
  private int liveSynthetic;

  /**
   * @param kernelLimit the most kernel entries at once (the NFQUEUE queue length)
   * @param syntheticLimit the most synthetic entries at once
   */
  public TicketRing(int kernelLimit, int syntheticLimit) {
    int want = 2 * (kernelLimit + syntheticLimit);
    int cap = Integer.highestOneBit(Math.max(16, want - 1)) << 1;
    this.mask = cap - 1;
    this.syntheticLimit = syntheticLimit;
    seq = new long[cap];
    kind = new byte[cap];
    chain = new byte[cap];
    flags = new byte[cap];
    lane = new byte[cap];
    kernelId = new int[cap];
    mark = new int[cap];
    length = new int[cap];
    outIndex = new int[cap];
    ruleId = new int[cap];
    hash = new long[cap];
    deadline = new long[cap];
  }

  /**
   * @return the number of slots
   */
  public int capacity() {
    return mask + 1;
  }

  /**
   * @return the number of live entries
   */
  public int size() {
    return live;
  }

  /**
   * @return the number of live synthetic entries
   */
  public int syntheticSize() {
    return liveSynthetic;
  }

  /**
   * @return true if no further synthetic entry may be added
   */
  public boolean syntheticFull() {
    return liveSynthetic >= syntheticLimit;
  }

  /**
   * Adds an entry.
   *
   * @param k {@link #KERNEL} or {@link #SYNTHETIC}
   * @param ln the lane (queue index within the socket)
   * @param id the NFQUEUE packet id (kernel entries)
   * @param ch the chain ordinal
   * @param fl flags
   * @param mk the packet mark when it was queued
   * @param len the packet length as delivered
   * @param out the output interface index (0 if none)
   * @param rule the rule id (0 if unknown)
   * @param h the content hash as delivered
   * @param dl the deadline (System.nanoTime), or Long.MAX_VALUE for none
   * @return the entry's sequence number, or 0 if the table is full
   */
  public long add(
      byte k, int ln, int id, int ch, int fl, int mk, int len, int out, int rule, long h, long dl) {
    if (live >= capacity() - 1 || (k == SYNTHETIC && syntheticFull())) {
      return 0;
    }
    long s = next++;
    int i = (int) s & mask;
    while (kind[i] != EMPTY) {
      i = (i + 1) & mask;
    }
    seq[i] = s;
    kind[i] = k;
    lane[i] = (byte) ln;
    kernelId[i] = id;
    chain[i] = (byte) ch;
    flags[i] = (byte) fl;
    mark[i] = mk;
    length[i] = len;
    outIndex[i] = out;
    ruleId[i] = rule;
    hash[i] = h;
    deadline[i] = dl;
    live++;
    if (k == SYNTHETIC) {
      liveSynthetic++;
    }
    return s;
  }

  /**
   * @param s a sequence number
   * @return the slot of the live entry with it, or -1
   */
  public int find(long s) {
    if (s <= 0 || s >= next) {
      return -1;
    }
    int i = (int) s & mask;
    while (kind[i] != EMPTY) {
      if (seq[i] == s) {
        return i;
      }
      i = (i + 1) & mask;
    }
    return -1;
  }

  /**
   * Removes the entry in a slot (backward-shift deletion, so no tombstones).
   *
   * @param slot a slot returned by {@link #find}
   */
  public void remove(int slot) {
    if (kind[slot] == SYNTHETIC) {
      liveSynthetic--;
    }
    live--;
    int hole = slot;
    int i = (slot + 1) & mask;
    while (kind[i] != EMPTY) {
      int home = (int) seq[i] & mask;
      // move entry i into the hole if its home is not in the cyclic range (hole, i]
      boolean inRange = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
      if (!inRange) {
        move(i, hole);
        hole = i;
      }
      i = (i + 1) & mask;
    }
    kind[hole] = EMPTY;
    seq[hole] = 0;
  }

  private void move(int from, int to) {
    seq[to] = seq[from];
    kind[to] = kind[from];
    lane[to] = lane[from];
    chain[to] = chain[from];
    flags[to] = flags[from];
    kernelId[to] = kernelId[from];
    mark[to] = mark[from];
    length[to] = length[from];
    outIndex[to] = outIndex[from];
    ruleId[to] = ruleId[from];
    hash[to] = hash[from];
    deadline[to] = deadline[from];
  }

  /** Receives expired or drained entries. */
  public interface Visitor {
    /**
     * @param ring the ring (the slot is still valid during the call)
     * @param slot the entry's slot
     */
    void visit(TicketRing ring, int slot);
  }

  /**
   * Removes every entry whose deadline has passed, oldest first, telling the visitor before each
   * removal.
   *
   * @param now System.nanoTime()
   * @param v the visitor
   * @return how many expired
   */
  public int expire(long now, Visitor v) {
    int n = 0;
    while (oldest < next) {
      int slot = find(oldest);
      if (slot < 0) {
        oldest++;
        continue;
      }
      if (deadline[slot] - now > 0) {
        break;
      }
      v.visit(this, slot);
      remove(slot);
      oldest++;
      n++;
    }
    return n;
  }

  /**
   * Removes every entry, telling the visitor before each removal.
   *
   * @param v the visitor
   */
  public void drain(Visitor v) {
    for (int i = 0; i <= mask; i++) {
      while (kind[i] != EMPTY) {
        v.visit(this, i);
        remove(i);
      }
    }
    oldest = next;
  }

  /**
   * Whether a VERDICT_BATCH ("every queued packet with an id up to N") may be used for a lane: true
   * if no live kernel entry of that lane has a sequence number below {@code limit} (the caller has
   * already removed the entries the batch is for). Scans at most {@code maxScan} sequence numbers;
   * false if that is not enough to tell.
   *
   * @param limit one past the highest sequence number the batch covers
   * @param ln the lane
   * @param maxScan scan bound
   * @return true if the batch would release only the intended packets
   */
  public boolean noKernelEntryBefore(long limit, int ln, int maxScan) {
    while (oldest < limit && find(oldest) < 0) {
      oldest++;
    }
    long s = oldest;
    int scanned = 0;
    while (s < limit) {
      if (++scanned > maxScan) {
        return false;
      }
      int slot = find(s);
      if (slot >= 0 && kind[slot] == KERNEL && lane[slot] == ln) {
        return false;
      }
      s++;
    }
    return true;
  }

  public int lane(int slot) {
    return lane[slot];
  }

  public byte kind(int slot) {
    return kind[slot];
  }

  public long seq(int slot) {
    return seq[slot];
  }

  public int kernelId(int slot) {
    return kernelId[slot];
  }

  public int chain(int slot) {
    return chain[slot];
  }

  public int flags(int slot) {
    return flags[slot];
  }

  public int mark(int slot) {
    return mark[slot];
  }

  public int length(int slot) {
    return length[slot];
  }

  public int outIndex(int slot) {
    return outIndex[slot];
  }

  public int ruleId(int slot) {
    return ruleId[slot];
  }

  public long hash(int slot) {
    return hash[slot];
  }

  public long deadline(int slot) {
    return deadline[slot];
  }
}
