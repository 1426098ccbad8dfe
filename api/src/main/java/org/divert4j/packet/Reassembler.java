package org.divert4j.packet;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongSupplier;
import org.divert4j.DropReason;

/**
 * Reassembles IPv4 datagrams from their fragments (RFC 791 section 3.2, RFC 815), with bounded
 * memory, per-datagram timeouts on an injected clock, and the overlap policy of Linux since the
 * CVE-2018-5391 fix (SEMANTICS.md S21, S24).
 *
 * <p><b>Keys.</b> Fragments belong together when source, destination, protocol and identification
 * match (RFC 791).
 *
 * <p><b>What {@link #offer} does with a packet</b>, in this order:
 *
 * <ol>
 *   <li>Runs {@link #expire()}: datagrams whose timeout has passed are discarded first.
 *   <li>A packet that fails {@link Ipv4View#check()} is dropped and counted {@link
 *       DropReason#REASSEMBLY_INVALID}; its datagram, if any, is left alone (a damaged packet is
 *       not evidence against the others). Notably the check refuses an MF fragment whose payload is
 *       not a multiple of 8 (Linux trims it instead) and a fragment whose offset plus payload
 *       exceeds 65535 (the "ping of death").
 *   <li>A packet that is not a fragment (MF clear, offset 0) is returned as is: the same buffer
 *       object, untouched.
 *   <li>A fragment of a datagram discarded earlier (see "Discarded datagrams") is dropped and
 *       counted under the reason the datagram was discarded for.
 *   <li>A fragment with the same offset and length as one already held is an exact duplicate: it is
 *       ignored and counted by {@link #duplicates()}, and the datagram goes on (Linux {@code
 *       IPFRAG_DUP}). Its bytes are not compared.
 *   <li>These discard the whole datagram, held fragments and this one included: any other overlap
 *       with a held fragment ({@link DropReason#REASSEMBLY_OVERLAP}; RFC 5722's rule for IPv6,
 *       applied to IPv4 by Linux since CVE-2018-5391, so teardrop-style attacks cannot pick which
 *       bytes win). Note that Linux is slightly more lenient: it also ignores, as a duplicate, a
 *       fragment that lies wholly inside a contiguous run already received; here only exact
 *       duplicates are. A fragment inconsistent with the datagram ({@link
 *       DropReason#REASSEMBLY_INVALID}, as Linux {@code ip_frag_queue}): a zero-length fragment; a
 *       last fragment (MF clear) that ends before data already held or where another last fragment
 *       said the datagram ends; an MF fragment past that end; a datagram that would exceed 65535
 *       bytes with the first fragment's header. A fragment that would take the held bytes over the
 *       memory bound, or start a datagram when {@code maxDatagrams} are in flight ({@link
 *       DropReason#REASSEMBLY_MEMORY}).
 *   <li>Otherwise the fragment's payload is copied and held. When the datagram is complete (the
 *       first fragment, the last fragment and every byte between have arrived) it is returned.
 * </ol>
 *
 * <p><b>The reassembled datagram</b> is a new heap buffer, position 0, limit its length, owned by
 * the caller. Its header is the first fragment's header (options included) with MF clear, offset 0,
 * total length set to the full size and a valid header checksum. DF is set if any fragment had DF
 * and the reserved flag is cleared, as Linux {@code ip_frag_reasm} does.
 *
 * <p><b>Discarded datagrams.</b> The key of a discarded datagram is remembered until the timeout of
 * that datagram, which runs from its first fragment; its later fragments are dropped on arrival
 * instead of starting a new datagram that could never complete and would hold memory until its own
 * timeout. (Linux forgets the key at once.) At most {@code maxDatagrams} keys are remembered; past
 * that, discards are simply not remembered.
 *
 * <p><b>Timeouts.</b> Each datagram expires {@code timeoutNanos} after its first fragment arrived,
 * by the injected clock (monotonic nanoseconds, like {@link System#nanoTime()}). Expiry runs on
 * every {@link #offer} and on {@link #expire()}; fragments of an expired datagram are counted
 * {@link DropReason#REASSEMBLY_TIMEOUT}.
 *
 * <p><b>Memory bounds.</b> {@link #bytesHeld()} counts each held fragment as its payload length
 * plus {@link #FRAGMENT_OVERHEAD} bytes (a byte array header, index slots and the stored first
 * header), and never exceeds {@code memoryBytes}: this is close to the real heap use, because each
 * fragment's payload is copied into an array of exactly its size. At most {@code maxDatagrams}
 * datagrams are in flight, and at most as many discarded keys are remembered, so the bookkeeping
 * outside that count is bounded by {@code maxDatagrams} too: up to {@code 2 * maxDatagrams} pooled
 * key objects of about 300 bytes each (index arrays that grew past 64 fragments are dropped when a
 * datagram ends) and a hash table of at most {@code 8 * maxDatagrams} references. Pick {@code
 * maxDatagrams} with that in mind (Linux has no count bound, only memory). Freed fragment arrays
 * are cached for reuse (at most 64 arrays and 256 KiB), so that steady traffic allocates little
 * more than the datagrams it returns. A 65535-byte datagram in 8-byte fragments needs 8189
 * fragments, about 590 KB by this count: the bound decides whether such a datagram can be
 * reassembled at all.
 *
 * <p><b>Counting.</b> {@link #discarded(DropReason)} counts packets (fragments), like the drop
 * counters of {@link org.divert4j.HostStats}: a datagram discarded with three fragments held counts
 * four (the three and the one that caused it). Duplicates count separately.
 *
 * <p><b>Threads.</b> Not thread-safe: confine an instance to one thread (or lock around it). No
 * method blocks. Nothing here throws for any packet content; only the argument checks of the
 * constructor and a null packet throw.
 */
public final class Reassembler {
  /**
   * Bytes counted per held fragment on top of its payload, for the bookkeeping that holding it
   * costs (array header, index slots, share of the stored first header). Linux charges the skb
   * truesize in the same spirit.
   */
  public static final int FRAGMENT_OVERHEAD = 64;

  /** The largest {@code maxDatagrams} accepted. */
  public static final int MAX_DATAGRAMS_LIMIT = 1 << 24;

  // Freed fragment arrays are kept for reuse by exact length: fragments cut to one MTU mostly share
  // one length, so steady traffic stops allocating them, and an exact match keeps bytesHeld equal
  // to the bytes really held. The cache is small and bounded on its own.
  private static final int POOL_ARRAYS = 64;
  private static final int POOL_BYTES = 256 << 10;

  private static final int TIMEOUT = DropReason.REASSEMBLY_TIMEOUT.ordinal();
  private static final int INVALID = DropReason.REASSEMBLY_INVALID.ordinal();
  private static final int DF = 0x4000;

  private final long memoryBytes;
  private final int maxDatagrams;
  private final long timeoutNanos;
  private final LongSupplier clock;
  private final long seed = ThreadLocalRandom.current().nextLong();
  private final Ipv4View view = new Ipv4View();
  private final long[] drops = new long[DropReason.values().length];
  private final byte[][] pool = new byte[POOL_ARRAYS][];
  private int pooled;
  private int pooledBytes;

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

  // Open addressing with linear probing and a random per-instance seed, so that an attacker who
  // picks keys cannot aim at one chain (the keys of fragments are attacker-controlled).
  private Entry[] table = new Entry[16];
  private int mapped;

  /**
   * Creates a reassembler.
   *
   * @param memoryBytes the most bytes held at once, counted as in "Memory bounds" above; positive
   * @param maxDatagrams the most datagrams in flight at once, 1..{@link #MAX_DATAGRAMS_LIMIT}
   * @param timeoutNanos how long a datagram may wait for its fragments, from its first; positive
   *     (Linux {@code ipfrag_time} is 30 s)
   * @param clock monotonic time in nanoseconds, e.g. {@code System::nanoTime} or a test clock
   * @throws IllegalArgumentException if a bound is out of range
   */
  public Reassembler(long memoryBytes, int maxDatagrams, long timeoutNanos, LongSupplier clock) {
    if (memoryBytes <= 0) {
      throw new IllegalArgumentException("memory bound must be positive: " + memoryBytes);
    }
    if (maxDatagrams < 1 || maxDatagrams > MAX_DATAGRAMS_LIMIT) {
      throw new IllegalArgumentException(
          "max datagrams must be 1.." + MAX_DATAGRAMS_LIMIT + ": " + maxDatagrams);
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
   * Takes one packet; see the class description for everything that can happen to it.
   *
   * @param packet an IPv4 packet from its position to its limit. Read only, with absolute gets;
   *     position and limit are unchanged. Its bytes are copied when held, so the caller may reuse
   *     the buffer as soon as this returns.
   * @return null if the packet was held, ignored or dropped; {@code packet} itself if it is not a
   *     fragment; or the complete datagram in a new buffer owned by the caller
   * @throws NullPointerException if {@code packet} is null
   */
  public ByteBuffer offer(ByteBuffer packet) {
    long now = clock.getAsLong();
    expire(now);
    Ipv4View v = view.wrap(packet);
    if (v.check() != null) {
      drops[INVALID]++;
      return null;
    }
    if (!v.isFragment()) {
      return packet;
    }
    int src = v.source();
    int dst = v.destination();
    int pid = v.protocol() << 16 | v.identification();
    int hash = hash(src, dst, pid);
    Entry e = find(src, dst, pid, hash);
    if (e != null && e.discarded != null) {
      drops[e.discarded.ordinal()]++;
      return null;
    }
    if (e == null) {
      if (live >= maxDatagrams) {
        remember(src, dst, pid, hash, now);
        return null;
      }
      e = start(src, dst, pid, hash, now);
    }

    int hl = v.headerLength();
    int off = v.fragmentOffset();
    int len = v.payloadLength();
    int end = off + len;
    boolean mf = v.moreFragments();

    // Consistency with what the datagram already told us, in the order of Linux ip_frag_queue.
    if (len == 0
        || (mf
            ? e.totalEnd >= 0 && end > e.totalEnd
            : end < e.maxEnd || (e.totalEnd >= 0 && end != e.totalEnd))
        || (off == 0 ? hl : e.hl > 0 ? e.hl : Ipv4View.MIN_HEADER_LENGTH) + Math.max(end, e.maxEnd)
            > Ipv4View.MAX_LENGTH) {
      discard(e, DropReason.REASSEMBLY_INVALID);
      return null;
    }

    // Where it goes among the held fragments, sorted by offset: exact duplicate, overlap, or gap.
    int i = lowerBound(e, off);
    if (i < e.count && e.offs[i] == off) {
      if (e.ends[i] == end) {
        duplicates++;
        return null;
      }
      discard(e, DropReason.REASSEMBLY_OVERLAP);
      return null;
    }
    if ((i > 0 && e.ends[i - 1] > off) || (i < e.count && e.offs[i] < end)) {
      discard(e, DropReason.REASSEMBLY_OVERLAP);
      return null;
    }
    long charge = (long) len + FRAGMENT_OVERHEAD;
    if (bytesHeld + charge > memoryBytes) {
      discard(e, DropReason.REASSEMBLY_MEMORY);
      return null;
    }

    byte[] data = take(len);
    packet.get(v.payloadOffset(), data, 0, len);
    insert(e, i, off, end, data);
    if (off == 0) {
      packet.get(v.offset(), e.header, 0, hl);
      e.hl = hl;
    }
    if (!mf) {
      e.totalEnd = end;
    }
    e.df |= v.dontFragment();
    e.maxEnd = Math.max(e.maxEnd, end);
    e.received += len;
    e.charged += charge;
    bytesHeld += charge;
    if (e.hl > 0 && e.totalEnd >= 0 && e.received == e.totalEnd) {
      return complete(e);
    }
    return null;
  }

  /**
   * Discards every datagram whose timeout has passed, counting its fragments as {@link
   * DropReason#REASSEMBLY_TIMEOUT}, and forgets discarded keys whose timeout has passed. {@link
   * #offer} does this too, so calling it is only needed to release memory while no packets arrive.
   *
   * @return the number of incomplete datagrams discarded
   */
  public int expire() {
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
      unmap(e);
      recycle(e);
    }
    return n;
  }

  /**
   * @param reason a drop reason; only the four {@code REASSEMBLY_*} reasons are ever counted here
   * @return packets dropped for that reason so far
   */
  public long discarded(DropReason reason) {
    return drops[reason.ordinal()];
  }

  /**
   * @return exact duplicate fragments ignored so far
   */
  public long duplicates() {
    return duplicates;
  }

  /**
   * @return bytes held now: payload plus {@link #FRAGMENT_OVERHEAD} per held fragment; never more
   *     than the memory bound
   */
  public long bytesHeld() {
    return bytesHeld;
  }

  /**
   * @return incomplete datagrams being reassembled now (not counting remembered discards)
   */
  public int datagramsInFlight() {
    return live;
  }

  /**
   * @return datagrams completed and returned so far
   */
  public long reassembled() {
    return reassembled;
  }

  @Override
  public String toString() {
    return "Reassembler(held "
        + bytesHeld
        + "/"
        + memoryBytes
        + " bytes, "
        + live
        + "/"
        + maxDatagrams
        + " datagrams, "
        + reassembled
        + " reassembled)";
  }

  // -------------------------------------------------------------------------------- internals

  private ByteBuffer complete(Entry e) {
    int hl = e.hl;
    int total = hl + e.totalEnd;
    ByteBuffer out = ByteBuffer.allocate(total);
    byte[] a = out.array();
    System.arraycopy(e.header, 0, a, 0, hl);
    for (int k = 0; k < e.count; k++) {
      System.arraycopy(e.data[k], 0, a, hl + e.offs[k], e.ends[k] - e.offs[k]);
    }
    Bytes.put16(out, 2, total);
    Bytes.put16(out, 6, e.df ? DF : 0);
    Checksums.fillIpv4Header(out, 0);
    reassembled++;
    release(e);
    live--;
    unlink(e);
    unmap(e);
    recycle(e);
    return out;
  }

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
      unmap(e);
      recycle(e);
    }
  }

  /** A fragment that would start one datagram too many: counted, and its key remembered. */
  private void remember(int src, int dst, int pid, int hash, long now) {
    drops[DropReason.REASSEMBLY_MEMORY.ordinal()]++;
    if (tombs < maxDatagrams) {
      Entry e = start(src, dst, pid, hash, now);
      live--;
      e.discarded = DropReason.REASSEMBLY_MEMORY;
      tombs++;
    }
  }

  private Entry start(int src, int dst, int pid, int hash, long now) {
    Entry e = free;
    if (e != null) {
      free = e.next;
      e.next = null;
    } else {
      e = new Entry();
    }
    e.src = src;
    e.dst = dst;
    e.pid = pid;
    e.hash = hash;
    e.deadline = now + timeoutNanos;
    e.prev = tail;
    if (tail == null) {
      head = e;
    } else {
      tail.next = e;
    }
    tail = e;
    map(e);
    live++;
    return e;
  }

  /** Frees a datagram's fragments and resets its reassembly state (the key stays). */
  private void release(Entry e) {
    bytesHeld -= e.charged;
    for (int k = 0; k < e.count; k++) {
      give(e.data[k]);
    }
    Arrays.fill(e.data, 0, e.count, null);
    e.count = 0;
    e.charged = 0;
    e.hl = 0;
    e.totalEnd = -1;
    e.maxEnd = 0;
    e.received = 0;
    e.df = false;
    if (e.offs.length > Entry.KEEP_SLOTS) {
      // A datagram of thousands of tiny fragments must not leave its big index arrays behind in
      // the pool, outside the memory bound.
      e.offs = new int[Entry.INITIAL_SLOTS];
      e.ends = new int[Entry.INITIAL_SLOTS];
      e.data = new byte[Entry.INITIAL_SLOTS][];
    }
  }

  /** A fragment array of exactly {@code len} bytes, from the cache if one is there. */
  private byte[] take(int len) {
    for (int i = pooled - 1; i >= 0; i--) {
      byte[] a = pool[i];
      if (a.length == len) {
        pool[i] = pool[--pooled];
        pool[pooled] = null;
        pooledBytes -= len;
        return a;
      }
    }
    return new byte[len];
  }

  private void give(byte[] a) {
    if (pooled < POOL_ARRAYS && pooledBytes + a.length <= POOL_BYTES) {
      pool[pooled++] = a;
      pooledBytes += a.length;
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

  // ------------------------------------------------------------------------------ hash table

  private int hash(int src, int dst, int pid) {
    long x = ((long) src << 32 | (dst & 0xffffffffL)) ^ seed;
    x = mix(x) ^ pid;
    x = mix(x);
    return (int) (x ^ x >>> 32);
  }

  /** The SplitMix64 finaliser: every input bit affects every output bit. */
  private static long mix(long z) {
    z = (z ^ z >>> 30) * 0xbf58476d1ce4e5b9L;
    z = (z ^ z >>> 27) * 0x94d049bb133111ebL;
    return z ^ z >>> 31;
  }

  private Entry find(int src, int dst, int pid, int hash) {
    Entry[] t = table;
    int mask = t.length - 1;
    for (int i = hash & mask; ; i = i + 1 & mask) {
      Entry e = t[i];
      if (e == null || (e.hash == hash && e.src == src && e.dst == dst && e.pid == pid)) {
        return e;
      }
    }
  }

  private void map(Entry e) {
    if ((mapped + 1) * 2 > table.length) {
      Entry[] old = table;
      table = new Entry[old.length * 2];
      for (Entry o : old) {
        if (o != null) {
          place(o);
        }
      }
    }
    place(e);
    mapped++;
  }

  private void place(Entry e) {
    int mask = table.length - 1;
    int i = e.hash & mask;
    while (table[i] != null) {
      i = i + 1 & mask;
    }
    table[i] = e;
  }

  /** Removes an entry, shifting later entries of its probe run back (no tombstone slots). */
  private void unmap(Entry e) {
    Entry[] t = table;
    int mask = t.length - 1;
    int i = e.hash & mask;
    while (t[i] != e) {
      i = i + 1 & mask;
    }
    for (int j = i + 1 & mask; t[j] != null; j = j + 1 & mask) {
      int home = t[j].hash & mask;
      // Move t[j] into the hole at i unless its home slot lies cyclically in (i, j].
      boolean stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (!stays) {
        t[i] = t[j];
        i = j;
      }
    }
    t[i] = null;
    mapped--;
  }

  /** One datagram in flight, or the key of a discarded one. Pooled. */
  private static final class Entry {
    static final int INITIAL_SLOTS = 8;
    static final int KEEP_SLOTS = 64;

    int src;
    int dst;
    int pid; // protocol << 16 | identification
    int hash;
    long deadline;
    Entry prev;
    Entry next;
    DropReason discarded; // non-null: a discarded datagram, remembered until its deadline

    final byte[] header = new byte[Ipv4View.MAX_HEADER_LENGTH];
    int hl; // 0 until the fragment at offset 0 arrives
    int totalEnd = -1; // payload length of the datagram, known from the last fragment (MF clear)
    int maxEnd;
    int received;
    boolean df;
    long charged;
    int count;
    int[] offs = new int[INITIAL_SLOTS];
    int[] ends = new int[INITIAL_SLOTS];
    byte[][] data = new byte[INITIAL_SLOTS][];
  }
}
