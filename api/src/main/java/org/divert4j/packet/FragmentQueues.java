package org.divert4j.packet;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.LongSupplier;
import org.divert4j.DropReason;

/**
 * The family-neutral part of reassembly that {@link Reassembler} (IPv4) and {@link Ipv6Reassembler}
 * share: the datagrams in flight keyed by source, destination and identification, their held
 * fragments sorted by offset, the overlap and consistency rules, the memory and datagram bounds,
 * the remembered keys of discarded datagrams, expiry, and the counters. The families parse their
 * headers, build the key and the complete datagram; everything described under "Discarded
 * datagrams", "Timeouts", "Memory bounds" and "Counting" in {@link Reassembler} happens here. Each
 * reassembler owns its own instance, so the families never share a buffer or an identification
 * space (S63).
 *
 * <p>Not thread-safe; allocates nothing per fragment once its pools are warm, except the fragment
 * arrays that the pool cannot supply.
 */
final class FragmentQueues {
  /** What {@link #add} did with a fragment. */
  enum Outcome {
    /** Held; the datagram is not complete yet. */
    HELD,
    /** Held, and the datagram is complete: call {@link #assemble} then {@link #finish}. */
    COMPLETE,
    /** An exact duplicate, ignored and counted. */
    DUPLICATE,
    /** The datagram was discarded (overlap, inconsistency or memory), this fragment included. */
    DISCARDED
  }

  private static final int TIMEOUT = DropReason.REASSEMBLY_TIMEOUT.ordinal();

  private final long memoryBytes;
  private final int maxDatagrams;
  private final long timeoutNanos;
  private final LongSupplier clock;
  private final long[] drops = new long[DropReason.values().length];
  private final FragmentArrays arrays = new FragmentArrays();

  private long bytesHeld;
  private long duplicates;
  private long reassembled;
  private int live;
  private int tombs;

  // Every entry, live or discarded, in order of creation, which is deadline order because all
  // datagrams share one timeout: expiry only ever looks at the head.
  private Entry head;
  private Entry tail;
  private Entry free;

  private final DatagramTable table = new DatagramTable();

  /**
   * @param memoryBytes the most bytes held at once; positive
   * @param maxDatagrams the most datagrams in flight at once, 1..{@link
   *     Reassembler#MAX_DATAGRAMS_LIMIT}
   * @param timeoutNanos how long a datagram may wait for its fragments, from its first; positive
   * @param clock monotonic time in nanoseconds
   * @throws IllegalArgumentException if a bound is out of range
   */
  FragmentQueues(long memoryBytes, int maxDatagrams, long timeoutNanos, LongSupplier clock) {
    if (memoryBytes <= 0) {
      throw new IllegalArgumentException("memory bound must be positive: " + memoryBytes);
    }
    if (maxDatagrams < 1 || maxDatagrams > Reassembler.MAX_DATAGRAMS_LIMIT) {
      throw new IllegalArgumentException(
          "max datagrams must be 1.." + Reassembler.MAX_DATAGRAMS_LIMIT + ": " + maxDatagrams);
    }
    if (timeoutNanos <= 0) {
      throw new IllegalArgumentException("timeout must be positive: " + timeoutNanos);
    }
    this.memoryBytes = memoryBytes;
    this.maxDatagrams = maxDatagrams;
    this.timeoutNanos = timeoutNanos;
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /**
   * Expires what is due now and returns the current time, for the start of an offer.
   *
   * @return now, by the clock
   */
  long expireNow() {
    long now = clock.getAsLong();
    expire(now);
    return now;
  }

  /** Counts a packet dropped before it reached a datagram (it failed its family's check). */
  void invalid() {
    drops[DropReason.REASSEMBLY_INVALID.ordinal()]++;
  }

  /**
   * The datagram a fragment belongs to, started if new. A fragment of a remembered discarded
   * datagram, or one that would start a datagram beyond the bound, is counted and gets null.
   *
   * @param s0 the key: the family packs source, destination and identification into these
   * @param s1 the key
   * @param d0 the key
   * @param d1 the key
   * @param id the key
   * @param now the time of {@link #expireNow()}
   * @return the datagram, or null when the fragment was dropped
   */
  Entry datagram(long s0, long s1, long d0, long d1, int id, long now) {
    int hash = table.hash(s0, s1, d0, d1, id);
    Entry e = table.find(s0, s1, d0, d1, id, hash);
    if (e != null && e.discarded != null) {
      drops[e.discarded.ordinal()]++;
      return null;
    }
    if (e == null) {
      if (live >= maxDatagrams) {
        remember(s0, s1, d0, d1, id, hash, now);
        return null;
      }
      e = start(s0, s1, d0, d1, id, hash, now);
    }
    return e;
  }

  /**
   * Adds a fragment's payload to its datagram, in the order of Linux {@code ip_frag_queue} and
   * {@code ip6_frag_queue}: consistency, exact duplicate, overlap, memory.
   *
   * @param e the datagram from {@link #datagram}
   * @param off the fragment offset in bytes
   * @param packet the buffer holding the fragment
   * @param from the absolute index of its payload
   * @param len its payload length
   * @param mf whether more fragments follow
   * @param headLength the length of the header the complete datagram will carry, for the size check
   * @param maxLength the largest complete datagram the family allows
   * @param extraCharge bytes charged on top of the payload and {@link
   *     Reassembler#FRAGMENT_OVERHEAD} (the first header the family keeps, for instance)
   * @param headFrom the absolute index of the header to keep when this is the first fragment
   * @param headLen its length
   * @return what happened; the first fragment's header is kept only when it was held
   */
  Outcome add(
      Entry e,
      int off,
      ByteBuffer packet,
      int from,
      int len,
      boolean mf,
      int headLength,
      int maxLength,
      int extraCharge,
      int headFrom,
      int headLen) {
    int end = off + len;
    if (len == 0
        || (mf
            ? e.totalEnd >= 0 && end > e.totalEnd
            : end < e.maxEnd || (e.totalEnd >= 0 && end != e.totalEnd))
        || headLength + Math.max(end, e.maxEnd) > maxLength) {
      discard(e, DropReason.REASSEMBLY_INVALID);
      return Outcome.DISCARDED;
    }
    // Where it goes among the held fragments, sorted by offset: exact duplicate, overlap, or gap.
    int i = lowerBound(e, off);
    if (i < e.count && e.offs[i] == off) {
      if (e.ends[i] == end) {
        duplicates++;
        return Outcome.DUPLICATE;
      }
      discard(e, DropReason.REASSEMBLY_OVERLAP);
      return Outcome.DISCARDED;
    }
    if ((i > 0 && e.ends[i - 1] > off) || (i < e.count && e.offs[i] < end)) {
      discard(e, DropReason.REASSEMBLY_OVERLAP);
      return Outcome.DISCARDED;
    }
    long charge = (long) len + Reassembler.FRAGMENT_OVERHEAD + extraCharge;
    if (bytesHeld + charge > memoryBytes) {
      discard(e, DropReason.REASSEMBLY_MEMORY);
      return Outcome.DISCARDED;
    }
    byte[] data = arrays.take(len);
    packet.get(from, data, 0, len);
    insert(e, i, off, end, data);
    if (off == 0) {
      e.keepHead(packet, headFrom, headLen);
    }
    if (!mf) {
      e.totalEnd = end;
    }
    e.maxEnd = Math.max(e.maxEnd, end);
    e.received += len;
    e.charged += charge;
    bytesHeld += charge;
    return e.headLength > 0 && e.totalEnd >= 0 && e.received == e.totalEnd
        ? Outcome.COMPLETE
        : Outcome.HELD;
  }

  /**
   * Copies a complete datagram's fragmentable part into place.
   *
   * @param e a datagram {@link #add} said is complete
   * @param dst the output array
   * @param at where the fragmentable part starts in it
   */
  static void assemble(Entry e, byte[] dst, int at) {
    for (int k = 0; k < e.count; k++) {
      System.arraycopy(e.data[k], 0, dst, at + e.offs[k], e.ends[k] - e.offs[k]);
    }
  }

  /** Frees a complete datagram after {@link #assemble} and counts it. */
  void finish(Entry e) {
    reassembled++;
    release(e);
    live--;
    unlink(e);
    table.unmap(e);
    recycle(e);
  }

  /**
   * @return the number of incomplete datagrams discarded
   */
  int expire() {
    return expire(clock.getAsLong());
  }

  private int expire(long now) {
    int n = 0;
    for (Entry e = head; e != null && now - e.deadline >= 0; e = head) {
      if (e.discarded == null) {
        drops[TIMEOUT] += e.count;
        release(e);
        live--;
        n++;
      } else {
        tombs--;
      }
      unlink(e);
      table.unmap(e);
      recycle(e);
    }
    return n;
  }

  long discarded(DropReason reason) {
    return drops[reason.ordinal()];
  }

  long duplicates() {
    return duplicates;
  }

  long bytesHeld() {
    return bytesHeld;
  }

  int datagramsInFlight() {
    return live;
  }

  long reassembled() {
    return reassembled;
  }

  @Override
  public String toString() {
    return "held "
        + bytesHeld
        + "/"
        + memoryBytes
        + " bytes, "
        + live
        + "/"
        + maxDatagrams
        + " datagrams, "
        + reassembled
        + " reassembled";
  }

  // -------------------------------------------------------------------------------- internals

  /** Discards a live datagram: counts its fragments and the offending one, remembers its key. */
  private void discard(Entry e, DropReason reason) {
    drops[reason.ordinal()] += e.count + 1L;
    release(e);
    live--;
    if (tombs < maxDatagrams) {
      e.discarded = reason;
      tombs++;
    } else {
      unlink(e);
      table.unmap(e);
      recycle(e);
    }
  }

  /** A fragment that would start one datagram too many: counted, and its key remembered. */
  private void remember(long s0, long s1, long d0, long d1, int id, int hash, long now) {
    drops[DropReason.REASSEMBLY_MEMORY.ordinal()]++;
    if (tombs < maxDatagrams) {
      Entry e = start(s0, s1, d0, d1, id, hash, now);
      live--;
      e.discarded = DropReason.REASSEMBLY_MEMORY;
      tombs++;
    }
  }

  private Entry start(long s0, long s1, long d0, long d1, int id, int hash, long now) {
    Entry e = free;
    if (e != null) {
      free = e.next;
      e.next = null;
    } else {
      e = new Entry();
    }
    e.s0 = s0;
    e.s1 = s1;
    e.d0 = d0;
    e.d1 = d1;
    e.id = id;
    e.hash = hash;
    e.deadline = now + timeoutNanos;
    e.prev = tail;
    if (tail == null) {
      head = e;
    } else {
      tail.next = e;
    }
    tail = e;
    table.map(e);
    live++;
    return e;
  }

  /** Frees a datagram's fragments and resets its reassembly state (the key stays). */
  private void release(Entry e) {
    bytesHeld -= e.charged;
    for (int k = 0; k < e.count; k++) {
      arrays.give(e.data[k]);
    }
    Arrays.fill(e.data, 0, e.count, null);
    e.count = 0;
    e.charged = 0;
    e.headLength = 0;
    e.aux = 0;
    e.aux2 = 0;
    e.totalEnd = -1;
    e.maxEnd = 0;
    e.received = 0;
    if (e.offs.length > Entry.KEEP_SLOTS) {
      // A datagram of thousands of tiny fragments must not leave its big index arrays behind in
      // the pool, outside the memory bound.
      e.offs = new int[Entry.INITIAL_SLOTS];
      e.ends = new int[Entry.INITIAL_SLOTS];
      e.data = new byte[Entry.INITIAL_SLOTS][];
    }
  }

  private void recycle(Entry e) {
    e.discarded = null;
    e.prev = null;
    e.next = free;
    free = e;
  }

  private void unlink(Entry e) {
    if (e.prev == null) {
      head = e.next;
    } else {
      e.prev.next = e.next;
    }
    if (e.next == null) {
      tail = e.prev;
    } else {
      e.next.prev = e.prev;
    }
    e.prev = null;
    e.next = null;
  }

  private static int lowerBound(Entry e, int off) {
    int lo = 0;
    int hi = e.count;
    // Fragments mostly arrive in order: check the end first.
    if (hi > 0 && e.offs[hi - 1] < off) {
      return hi;
    }
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (e.offs[mid] < off) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  private static void insert(Entry e, int i, int off, int end, byte[] data) {
    if (e.count == e.offs.length) {
      int n = e.count * 2;
      e.offs = Arrays.copyOf(e.offs, n);
      e.ends = Arrays.copyOf(e.ends, n);
      e.data = Arrays.copyOf(e.data, n);
    }
    int move = e.count - i;
    if (move > 0) {
      System.arraycopy(e.offs, i, e.offs, i + 1, move);
      System.arraycopy(e.ends, i, e.ends, i + 1, move);
      System.arraycopy(e.data, i, e.data, i + 1, move);
    }
    e.offs[i] = off;
    e.ends[i] = end;
    e.data[i] = data;
    e.count++;
  }

  /**
   * One datagram in flight, or the key of a discarded one. Pooled. The family keeps its first
   * header in {@link #head} ({@link #headLength} bytes, 0 until the fragment at offset 0 arrived)
   * and what else it needs in {@link #aux} and {@link #aux2}.
   */
  static final class Entry {
    static final int INITIAL_SLOTS = 8;
    static final int KEEP_SLOTS = 64;

    long s0;
    long s1;
    long d0;
    long d1;
    int id;
    int hash;
    long deadline;
    Entry prev;
    Entry next;
    DropReason discarded; // non-null: a discarded datagram, remembered until its deadline

    byte[] head = new byte[0]; // grown by the family to the largest first header it keeps
    int headLength; // 0 until the fragment at offset 0 arrives
    int aux; // IPv4: DF seen; IPv6: offset of the Next Header field naming the Fragment header
    int aux2; // IPv6: what the first fragment's Fragment header names
    int totalEnd = -1; // payload length of the datagram, known from the last fragment (MF clear)
    int maxEnd;
    int received;
    long charged;
    int count;
    int[] offs = new int[INITIAL_SLOTS];
    int[] ends = new int[INITIAL_SLOTS];
    byte[][] data = new byte[INITIAL_SLOTS][];

    /**
     * Keeps the first fragment's header.
     *
     * @param packet the fragment
     * @param from the absolute index of its first header byte
     * @param len the header length
     */
    void keepHead(ByteBuffer packet, int from, int len) {
      if (head.length < len) {
        head = new byte[len];
      }
      packet.get(from, head, 0, len);
      headLength = len;
    }
  }
}
