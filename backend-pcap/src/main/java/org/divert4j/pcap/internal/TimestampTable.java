package org.divert4j.pcap.internal;

import java.nio.ByteBuffer;

/**
 * Remembers the capture timestamps of recent input packets by their IP identity (source,
 * destination, protocol, identification, and fragment position), so that a packet the program
 * writes back later is written to the output capture with the timestamp it had in the input (a
 * reassembled datagram: that of its last fragment). For IPv6 the identity is the addresses, the
 * upper-layer protocol, a hash of the first 8 bytes after the extension headers and the Fragment
 * header's offset and M flag: IPv6 has no Identification outside fragments, and a reassembled IPv6
 * datagram gets the replay clock. A direct-mapped cache: a newer packet may evict an older one,
 * whose packets then get the replay clock instead. Not thread-safe; allocates nothing.
 */
final class TimestampTable {
  private static final int SIZE = 1 << 16;
  private static final long DATAGRAM = 1L << 40;

  private final long[] k1 = new long[SIZE];
  private final long[] k2 = new long[SIZE];
  private final long[] ts = new long[SIZE];
  private final long[] sourceMacs = new long[SIZE];
  private final long[] destinationMacs = new long[SIZE];
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
    put(a, b, timestamp, sourceMac, destinationMac);
    put(a, (b & ~0xffffL) | DATAGRAM, timestamp, sourceMac, destinationMac);
  }

  /**
   * Looks a packet up; the MACs of its input frame are then {@link #foundSource()} and {@link
   * #foundDestination()}.
   *
   * @param p an IP packet about to be written, from its position
   * @return the timestamp of the input packet it comes from, or -1 if unknown
   */
  long lookup(ByteBuffer p) {
    long a = key1(p);
    long b = key2(p);
    long t = get(a, b);
    return t != -1 ? t : get(a, (b & ~0xffffL) | DATAGRAM);
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

  private void put(long a, long b, long t, long sourceMac, long destinationMac) {
    int i = index(a, b);
    k1[i] = a;
    k2[i] = b | (1L << 41); // never 0 for a used slot
    ts[i] = t;
    sourceMacs[i] = sourceMac;
    destinationMacs[i] = destinationMac;
  }

  private long get(long a, long b) {
    int i = index(a, b);
    if (k1[i] == a && k2[i] == (b | (1L << 41))) {
      foundSource = sourceMacs[i];
      foundDestination = destinationMacs[i];
      return ts[i];
    }
    foundSource = LinkLayer.NONE;
    foundDestination = LinkLayer.NONE;
    return -1;
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

  private static int index(long a, long b) {
    // murmur3's fmix64 over both keys: keys that differ only in high bits (an IPv6 packet's hash,
    // an IPv4 identification) still land in different slots
    return (int) mix(a * 0x9e3779b97f4a7c15L + b) & (SIZE - 1);
  }
}
