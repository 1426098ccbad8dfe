package org.divert4j.packet;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongSupplier;
import org.divert4j.DropReason;

/**
 * Reassembles IPv6 datagrams from their fragments (RFC 8200 section 4.5), with bounded memory,
 * per-datagram timeouts on an injected clock, and RFC 5722's overlap rule (SEMANTICS.md S58, S63).
 * The design, bounds and counters are those of the IPv4 {@link Reassembler}; its description holds
 * here with the differences below. The two are separate instances with separate tables, so the
 * families never share a reassembly buffer or an identification space (S63).
 *
 * <p><b>Keys.</b> Fragments belong together when source, destination and the 32-bit Identification
 * match (RFC 8200).
 *
 * <p><b>What {@link #offer} does with a packet</b>, in this order:
 *
 * <ol>
 *   <li>Runs {@link #expire()}.
 *   <li>A packet that fails {@link Ipv6View#check()} is dropped and counted {@link
 *       DropReason#REASSEMBLY_INVALID} (its datagram, if any, is left alone). Notably the check
 *       refuses an M fragment whose payload is not a multiple of 8 and a fragment whose offset plus
 *       payload exceeds 65535 (RFC 8200 section 4.5).
 *   <li>A packet with no Fragment header, or an atomic fragment (offset 0, M 0: RFC 6946), is
 *       returned as is: the same buffer object, untouched, never mixed with other fragments.
 *   <li>A fragment of a datagram discarded earlier is dropped and counted under that reason.
 *   <li>An exact duplicate (same offset and length as a held fragment) is ignored and counted by
 *       {@link #duplicates()}, as Linux does ({@code IPFRAG_DUP}).
 *   <li>These discard the whole datagram, held fragments and this one included: any other overlap
 *       ({@link DropReason#REASSEMBLY_OVERLAP}, RFC 5722); a fragment inconsistent with the
 *       datagram ({@link DropReason#REASSEMBLY_INVALID}: a zero-length fragment, a last fragment
 *       that ends before data held or where another last fragment said the datagram ends, an M
 *       fragment past that end, a reassembled payload over 65535 bytes); the memory or datagram
 *       bound ({@link DropReason#REASSEMBLY_MEMORY}).
 *   <li>Otherwise the fragment is held; the complete datagram is returned.
 * </ol>
 *
 * <p><b>The reassembled datagram</b> is a new heap buffer, position 0, limit its length, owned by
 * the caller: the first fragment's unfragmentable part (the IPv6 header and the extension headers
 * before its Fragment header), whose last Next Header field now names what the Fragment header
 * named, then the fragmentable part; no Fragment header, and the payload length of the whole (S58).
 * Trailing bytes after a fragment's payload length are not part of it.
 *
 * <p><b>Memory.</b> As {@link Reassembler}, and the first fragment's unfragmentable part, kept in
 * an array of its own, is charged with that fragment.
 *
 * <p><b>Threads.</b> Not thread-safe: confine an instance to one thread. No method blocks. Nothing
 * throws for any packet content.
 */
public final class Ipv6Reassembler {
  /** Bytes counted per held fragment on top of its payload; as {@link Reassembler}. */
  public static final int FRAGMENT_OVERHEAD = Reassembler.FRAGMENT_OVERHEAD;

  private static final int POOL_ARRAYS = 64;
  private static final int POOL_BYTES = 256 << 10;
  private static final int TIMEOUT = DropReason.REASSEMBLY_TIMEOUT.ordinal();
  private static final int INVALID = DropReason.REASSEMBLY_INVALID.ordinal();

  private final long memoryBytes;
  private final int maxDatagrams;
  private final long timeoutNanos;
  private final LongSupplier clock;
  private final long seed = ThreadLocalRandom.current().nextLong();
  private final Ipv6View view = new Ipv6View();
  private final long[] drops = new long[DropReason.values().length];
  private final byte[][] pool = new byte[POOL_ARRAYS][];
  private int pooled;
  private int pooledBytes;

  private long bytesHeld;
  private long duplicates;
  private long reassembled;
  private int live;
  private int tombs;

  private Entry head;
  private Entry tail;
  private Entry free;
  private Entry[] table = new Entry[16];
  private int mapped;

  /**
   * Creates a reassembler; the arguments are those of {@link Reassembler#Reassembler}.
   *
   * @param memoryBytes the most bytes held at once; positive
   * @param maxDatagrams the most datagrams in flight at once, 1..{@link
   *     Reassembler#MAX_DATAGRAMS_LIMIT}
   * @param timeoutNanos how long a datagram may wait for its fragments, from its first; positive
   *     (Linux {@code ip6frag_time} is 60 s)
   * @param clock monotonic time in nanoseconds
   * @throws IllegalArgumentException if a bound is out of range
   */
  public Ipv6Reassembler(
      long memoryBytes, int maxDatagrams, long timeoutNanos, LongSupplier clock) {
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
   * Takes one packet; see the class description for everything that can happen to it.
   *
   * @param packet an IPv6 packet from its position to its limit; read only, position and limit
   *     unchanged; its bytes are copied when held
   * @return null if the packet was held, ignored or dropped; {@code packet} itself if it is not a
   *     fragment (or is an atomic one); or the complete datagram in a new buffer owned by the
   *     caller
   * @throws NullPointerException if {@code packet} is null
   */
  public ByteBuffer offer(ByteBuffer packet) {
    long now = clock.getAsLong();
    expire(now);
    Ipv6View v = view.wrap(packet);
    if (v.check() != null) {
      drops[INVALID]++;
      return null;
    }
    if (!v.isFragment()) {
      return packet;
    }
    int base = v.offset();
    long s0 = u64(packet, base + 8);
    long s1 = u64(packet, base + 16);
    long d0 = u64(packet, base + 24);
    long d1 = u64(packet, base + 32);
    int id = v.fragmentIdentification();
    int hash = hash(s0, s1, d0, d1, id);
    Entry e = find(s0, s1, d0, d1, id, hash);
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

    int fh = v.fragmentHeaderOffset();
    int unfrag = fh - base;
    int off = v.fragmentOffset();
    int from = fh + Ipv6View.FRAGMENT_HEADER_LENGTH;
    int len = base + Ipv6View.HEADER_LENGTH + v.payloadLength() - from;
    int end = off + len;
    boolean mf = v.moreFragments();
    // Every fragment carries the unfragmentable part; the first fragment's is the one kept.
    int held = off != 0 && e.unfragmentable != null ? e.unfragmentable.length : unfrag;

    // Consistency with what the datagram already told us, in the order of Linux ip6_frag_queue.
    if (len == 0
        || (mf
            ? e.totalEnd >= 0 && end > e.totalEnd
            : end < e.maxEnd || (e.totalEnd >= 0 && end != e.totalEnd))
        || held - Ipv6View.HEADER_LENGTH + Math.max(end, e.maxEnd) > Ipv6View.MAX_PAYLOAD_LENGTH) {
      discard(e, DropReason.REASSEMBLY_INVALID);
      return null;
    }

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
    long charge = (long) len + FRAGMENT_OVERHEAD + (off == 0 ? unfrag : 0);
    if (bytesHeld + charge > memoryBytes) {
      discard(e, DropReason.REASSEMBLY_MEMORY);
      return null;
    }

    byte[] data = take(len);
    packet.get(from, data, 0, len);
    insert(e, i, off, end, data);
    if (off == 0) {
      e.unfragmentable = new byte[unfrag];
      packet.get(base, e.unfragmentable, 0, unfrag);
      e.nextHeaderAt = previousNextHeader(packet, base, fh);
      e.nextHeader = Bytes.u8(packet, fh);
    }
    if (!mf) {
      e.totalEnd = end;
    }
    e.maxEnd = Math.max(e.maxEnd, end);
    e.received += len;
    e.charged += charge;
    bytesHeld += charge;
    if (e.unfragmentable != null && e.totalEnd >= 0 && e.received == e.totalEnd) {
      return complete(e);
    }
    return null;
  }

  /** Eight bytes big-endian, whatever the buffer's order (fragments may come in either). */
  private static long u64(ByteBuffer b, int i) {
    return (long) Bytes.i32(b, i) << 32 | (Bytes.i32(b, i + 4) & 0xffffffffL);
  }

  /** Where the Next Header field that names the Fragment header at {@code fh} is, from base. */
  private static int previousNextHeader(ByteBuffer p, int base, int fh) {
    int field = 6;
    int at = base + Ipv6View.HEADER_LENGTH;
    while (at < fh) { // only hop-by-hop, routing and destination options lie before it
      field = at - base;
      at += (Bytes.u8(p, at + 1) + 1) << 3;
    }
    return field;
  }

  /**
   * Discards every datagram whose timeout has passed, counting its fragments as {@link
   * DropReason#REASSEMBLY_TIMEOUT}, and forgets discarded keys whose timeout has passed.
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
   * @return bytes held now; never more than the memory bound
   */
  public long bytesHeld() {
    return bytesHeld;
  }

  /**
   * @return incomplete datagrams being reassembled now
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
    return "Ipv6Reassembler(held "
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
    byte[] u = e.unfragmentable;
    int total = u.length + e.totalEnd;
    ByteBuffer out = ByteBuffer.allocate(total);
    byte[] a = out.array();
    System.arraycopy(u, 0, a, 0, u.length);
    for (int k = 0; k < e.count; k++) {
      System.arraycopy(e.data[k], 0, a, u.length + e.offs[k], e.ends[k] - e.offs[k]);
    }
    Bytes.put16(out, 4, total - Ipv6View.HEADER_LENGTH);
    Bytes.put8(out, e.nextHeaderAt, e.nextHeader);
    reassembled++;
    release(e);
    live--;
    unlink(e);
    unmap(e);
    recycle(e);
    return out;
  }

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
    e.unfragmentable = null;
    e.nextHeaderAt = 0;
    e.nextHeader = 0;
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

  private int hash(long s0, long s1, long d0, long d1, int id) {
    long x = mix(s0 ^ seed);
    x = mix(x ^ s1);
    x = mix(x ^ d0);
    x = mix(x ^ d1);
    x = mix(x ^ id);
    return (int) (x ^ x >>> 32);
  }

  /** The SplitMix64 finaliser: every input bit affects every output bit. */
  private static long mix(long z) {
    z = (z ^ z >>> 30) * 0xbf58476d1ce4e5b9L;
    z = (z ^ z >>> 27) * 0x94d049bb133111ebL;
    return z ^ z >>> 31;
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

  private Entry find(long s0, long s1, long d0, long d1, int id, int hash) {
    Entry[] t = table;
    int mask = t.length - 1;
    for (int i = hash & mask; ; i = i + 1 & mask) {
      Entry e = t[i];
      if (e == null
          || (e.hash == hash
              && e.id == id
              && e.s0 == s0
              && e.s1 == s1
              && e.d0 == d0
              && e.d1 == d1)) {
        return e;
      }
    }
  }

  /** One datagram in flight, or the key of a discarded one. Pooled. */
  private static final class Entry {
    static final int INITIAL_SLOTS = 8;
    static final int KEEP_SLOTS = 64;

    long s0; // source address, as two big-endian halves
    long s1;
    long d0; // destination address
    long d1;
    int id;
    int hash;
    long deadline;
    Entry prev;
    Entry next;
    DropReason discarded;

    byte[] unfragmentable; // null until the fragment at offset 0 arrives
    int nextHeaderAt; // offset of the Next Header field that names the Fragment header
    int nextHeader; // what the first fragment's Fragment header names
    int totalEnd = -1;
    int maxEnd;
    int received;
    long charged;
    int count;
    int[] offs = new int[INITIAL_SLOTS];
    int[] ends = new int[INITIAL_SLOTS];
    byte[][] data = new byte[INITIAL_SLOTS][];
  }
}
