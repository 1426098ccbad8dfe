package org.divert4j.pcap.internal;

import java.nio.ByteBuffer;

/**
 * Remembers the capture timestamps of recent input packets by their IP identity (source,
 * destination, protocol, identification, and fragment position), so that a packet the program
 * writes back later is written to the output capture with the timestamp it had in the input (a
 * reassembled datagram: that of its last fragment). For IPv6 the identity is the addresses, the
 * upper-layer protocol, a hash of the first 8 bytes after the extension headers and the Fragment
 * header's offset and M flag: IPv6 has no Identification outside fragments, and a reassembled IPv6
 * datagram gets the replay clock.
 *
 * <p>Identical packets share an identity (an IPv6 multicast listener report sent twice, an IPv4
 * packet repeated with the same Identification): each one read is its own entry, and each lookup
 * takes the oldest entry of its identity that no lookup has taken yet, so the copies leave with
 * their own timestamps in input order (a lookup after all are taken gets the newest one again: a
 * packet the program writes twice). A set-associative cache of {@value #WAYS} ways: a new packet
 * replaces a taken entry first, else the oldest of its set, whose packet then gets the replay
 * clock. Not thread-safe; allocates nothing.
 */
final class TimestampTable {
  static final int WAYS = 8;
  private static final int SETS = 1 << 13;
  private static final int SIZE = SETS * WAYS;
  private static final long DATAGRAM = 1L << 40;

  private final long[] k1 = new long[SIZE];
  private final long[] k2 = new long[SIZE];
  private final long[] ts = new long[SIZE];
  private final long[] sourceMacs = new long[SIZE];
  private final long[] destinationMacs = new long[SIZE];

  /** When each entry was remembered (0: never used); negative once a lookup has taken it. */
  private final long[] ages = new long[SIZE];

  private long age;
  private long foundSource = LinkLayer.NONE;
  private long foundDestination = LinkLayer.NONE;

  /**
   * @param p an IP packet, from its position
   * @param timestamp its capture timestamp
   */
  void remember(ByteBuffer p, long timestamp) {
    remember(p, timestamp, LinkLayer.NONE, LinkLayer.NONE);
  }

  /**
   * @param p an IP packet, from its position
   * @param timestamp its capture timestamp
   * @param sourceMac its frame's source MAC, or {@link LinkLayer#NONE}
   * @param destinationMac its frame's destination MAC, or {@link LinkLayer#NONE}
   */
  void remember(ByteBuffer p, long timestamp, long sourceMac, long destinationMac) {
    long a = key1(p);
    long b = key2(p);
    put(victim(a, b), a, b, timestamp, sourceMac, destinationMac);
    if ((b & 0xffffL) != 0) { // a fragment: its datagram's latest timestamp, one entry per datagram
      long d = (b & ~0xffffL) | DATAGRAM;
      int i = find(a, d);
      put(i >= 0 ? i : victim(a, d), a, d, timestamp, sourceMac, destinationMac);
    }
  }

  /**
   * Looks a packet up and takes its entry; the MACs of its input frame are then {@link
   * #foundSource()} and {@link #foundDestination()}.
   *
   * @param p an IP packet about to be written, from its position
   * @return the timestamp of the input packet it comes from, or -1 if unknown
   */
  long lookup(ByteBuffer p) {
    long a = key1(p);
    long b = key2(p);
    int i = take(a, b);
    if (i < 0) {
      i = find(a, (b & ~0xffffL) | DATAGRAM); // a datagram's entry serves all its pieces
    }
    if (i < 0) {
      foundSource = LinkLayer.NONE;
      foundDestination = LinkLayer.NONE;
      return -1;
    }
    foundSource = sourceMacs[i];
    foundDestination = destinationMacs[i];
    return ts[i];
  }

  /**
   * @return the source MAC of the input frame the last {@link #lookup} found, or {@link
   *     LinkLayer#NONE}
   */
  long foundSource() {
    return foundSource;
  }

  /**
   * @return the destination MAC of the input frame the last {@link #lookup} found, or {@link
   *     LinkLayer#NONE}
   */
  long foundDestination() {
    return foundDestination;
  }

  private void put(int i, long a, long b, long t, long sourceMac, long destinationMac) {
    k1[i] = a;
    k2[i] = b;
    ts[i] = t;
    sourceMacs[i] = sourceMac;
    destinationMacs[i] = destinationMac;
    ages[i] = ++age;
  }

  /** The slot for a new entry: an unused one, else the oldest taken one, else the oldest. */
  private int victim(long a, long b) {
    int base = set(a, b);
    int best = base;
    long bestRank = Long.MAX_VALUE;
    for (int i = base; i < base + WAYS; i++) {
      long g = ages[i];
      if (g == 0) {
        return i;
      }
      // taken entries (negative ages) rank before untaken ones, older before newer
      long rank = g < 0 ? Long.MIN_VALUE - g : g;
      if (rank < bestRank) {
        bestRank = rank;
        best = i;
      }
    }
    return best;
  }

  /** The entry of this identity, taken or not, or -1 (datagram entries are unique). */
  private int find(long a, long b) {
    int base = set(a, b);
    for (int i = base; i < base + WAYS; i++) {
      if (ages[i] != 0 && k1[i] == a && k2[i] == b) {
        return i;
      }
    }
    return -1;
  }

  /** Takes the oldest untaken entry of this identity, else returns the newest taken one, or -1. */
  private int take(long a, long b) {
    int base = set(a, b);
    int oldest = -1;
    int newestTaken = -1;
    for (int i = base; i < base + WAYS; i++) {
      long g = ages[i];
      if (g == 0 || k1[i] != a || k2[i] != b) {
        continue;
      }
      if (g > 0) {
        if (oldest < 0 || g < ages[oldest]) {
          oldest = i;
        }
      } else if (newestTaken < 0 || g < ages[newestTaken]) { // -g larger: newer
        newestTaken = i;
      }
    }
    if (oldest >= 0) {
      ages[oldest] = -ages[oldest];
      return oldest;
    }
    return newestTaken;
  }

  private static long key1(ByteBuffer p) {
    int base = p.position();
    if (isIpv6(p)) {
      long h = mix(p.getLong(base + 8));
      h = mix(h ^ p.getLong(base + 16));
      h = mix(h ^ p.getLong(base + 24));
      return mix(h ^ p.getLong(base + 32));
    }
    return ((long) p.getInt(base + 12) << 32) | (p.getInt(base + 16) & 0xffffffffL);
  }

  private static long key2(ByteBuffer p) {
    int base = p.position();
    if (isIpv6(p)) {
      return key2v6(p, base);
    }
    long proto = p.get(base + 9) & 0xff;
    long id = p.getShort(base + 4) & 0xffff;
    long frag = p.getShort(base + 6) & 0x3fff; // MF and offset, not DF
    return proto << 32 | id << 16 | frag;
  }

  private static boolean isIpv6(ByteBuffer p) {
    return p.remaining() >= 40 && (p.get(p.position()) & 0xf0) == 0x60;
  }

  private static long key2v6(ByteBuffer p, int base) {
    int end = base + p.remaining();
    long w = org.divert4j.packet.Ipv6View.walk(p, base, end);
    if (org.divert4j.packet.Ipv6View.pastEnd(w)) {
      return 1L << 42;
    }
    long proto = org.divert4j.packet.Ipv6View.upperProtocol(w);
    int upper = base + org.divert4j.packet.Ipv6View.upperOffset(w);
    long x = upper + 8 <= end ? p.getLong(upper) : 0;
    int f = org.divert4j.packet.Ipv6View.fragmentHeader(w);
    long frag = 0;
    if (f != 0) {
      frag = (p.getShort(base + f + 2) & 0xfff9) | 1; // offset and M; 1: a fragment
      x ^= (p.getInt(base + f + 4) & 0xffffffffL) * 0x9e3779b97f4a7c15L; // its Identification
    }
    long h = mix(x);
    // 37 bits of hash around the fixed fields: bits 16-31 and 43-63
    return (h & 0xffff0000L) | (h & (-1L << 43)) | (proto << 32) | (1L << 42) | (frag & 0xffff);
  }

  /** murmur3's fmix64: every input bit reaches every output bit. */
  private static long mix(long h) {
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    h ^= h >>> 33;
    h *= 0xc4ceb9fe1a85ec53L;
    return h ^ (h >>> 33);
  }

  private static int set(long a, long b) {
    // murmur3's fmix64 over both keys: keys that differ only in high bits (an IPv6 packet's hash,
    // an IPv4 identification) still land in different sets
    return ((int) mix(a * 0x9e3779b97f4a7c15L + b) & (SETS - 1)) * WAYS;
  }
}
