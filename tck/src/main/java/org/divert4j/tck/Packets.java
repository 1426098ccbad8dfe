package org.divert4j.tck;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import org.divert4j.Ipv4;

/**
 * The TCK's own IPv4, UDP and ICMP helpers: building packets with correct checksums, fragmenting,
 * reassembling and reading header fields. Deliberately independent of the packet toolkit in the api
 * module, which backends use: a judge must not share the code it judges (a checksum bug in the
 * toolkit would otherwise cancel out). Stateless.
 */
final class Packets {
  static final int ICMP = 1;
  static final int UDP = 17;
  static final int DF = 0x4000;
  static final int MF = 0x2000;
  static final int ECHO_REQUEST = 8;
  static final int ECHO_REPLY = 0;

  private Packets() {}

  /** A packet under construction; {@link #build()} fills total length and checksum unless set. */
  static final class Ip {
    int tos;
    int id = 0x2345;
    int flags;
    int fragmentOffset;
    int ttl = 64;
    int protocol = UDP;
    int source;
    int destination;
    byte[] options = new byte[0];
    byte[] payload = new byte[0];
    Integer totalLength;
    Integer checksum;

    Ip id(int v) {
      id = v;
      return this;
    }

    Ip flags(int v) {
      flags = v;
      return this;
    }

    Ip ttl(int v) {
      ttl = v;
      return this;
    }

    Ip tos(int v) {
      tos = v;
      return this;
    }

    Ip offset(int bytes) {
      fragmentOffset = bytes;
      return this;
    }

    Ip options(byte[] v) {
      options = v;
      return this;
    }

    Ip totalLength(int v) {
      totalLength = v;
      return this;
    }

    Ip checksum(int v) {
      checksum = v;
      return this;
    }

    byte[] build() {
      if (options.length % 4 != 0) {
        throw new IllegalArgumentException("IP options must fill whole words");
      }
      int ihl = 20 + options.length;
      byte[] p = new byte[ihl + payload.length];
      p[0] = (byte) (0x40 | ihl / 4);
      p[1] = (byte) tos;
      put16(p, 2, totalLength != null ? totalLength : p.length);
      put16(p, 4, id);
      put16(p, 6, flags | fragmentOffset / 8);
      p[8] = (byte) ttl;
      p[9] = (byte) protocol;
      put32(p, 12, source);
      put32(p, 16, destination);
      System.arraycopy(options, 0, p, 20, options.length);
      System.arraycopy(payload, 0, p, ihl, payload.length);
      put16(p, 10, checksum != null ? checksum : Packets.checksum(p, 0, ihl));
      return p;
    }
  }

  /**
   * A UDP datagram as an IPv4 packet under construction, with a correct UDP checksum. The addresses
   * are IPv4 ({@link Probe#udpPacket} builds either family).
   */
  static Ip udp(InetAddress src, InetAddress dst, int sport, int dport, byte[] data) {
    Ip ip = new Ip();
    ip.protocol = UDP;
    ip.source = Ipv4.toInt((Inet4Address) src);
    ip.destination = Ipv4.toInt((Inet4Address) dst);
    ip.payload = udpSegment(ip.source, ip.destination, sport, dport, data);
    return ip;
  }

  /** An ICMP echo request or reply as an IPv4 packet under construction (IPv4 addresses). */
  static Ip icmpEcho(InetAddress src, InetAddress dst, int type, int ident, int seq, byte[] data) {
    Ip ip = new Ip();
    ip.protocol = ICMP;
    ip.source = Ipv4.toInt((Inet4Address) src);
    ip.destination = Ipv4.toInt((Inet4Address) dst);
    byte[] m = new byte[8 + data.length];
    m[0] = (byte) type;
    put16(m, 4, ident);
    put16(m, 6, seq);
    System.arraycopy(data, 0, m, 8, data.length);
    put16(m, 2, checksum(m, 0, m.length));
    ip.payload = m;
    return ip;
  }

  static byte[] udpSegment(int src, int dst, int sport, int dport, byte[] data) {
    byte[] u = new byte[8 + data.length];
    put16(u, 0, sport);
    put16(u, 2, dport);
    put16(u, 4, u.length);
    System.arraycopy(data, 0, u, 8, data.length);
    long sum = pseudoHeaderSum(src, dst, UDP, u.length);
    int c = fold(sum + rawSum(u, 0, u.length));
    put16(u, 6, c == 0 ? 0xffff : c);
    return u;
  }

  /**
   * A TCP segment (20-byte header, sequence 1000, acknowledgment 2000, window 65535) with a correct
   * checksum.
   */
  static byte[] tcpSegment(int src, int dst, int sport, int dport, int flags, byte[] data) {
    byte[] t = new byte[20 + data.length];
    put16(t, 0, sport);
    put16(t, 2, dport);
    put32(t, 4, 1000);
    put32(t, 8, 2000);
    t[12] = 0x50;
    t[13] = (byte) flags;
    put16(t, 14, 65535);
    System.arraycopy(data, 0, t, 20, data.length);
    put16(t, 16, fold(pseudoHeaderSum(src, dst, 6, t.length) + rawSum(t, 0, t.length)));
    return t;
  }

  /** Deterministic bytes that differ per position and seed, so misplaced bytes show. */
  static byte[] pattern(int size, int seed) {
    byte[] b = new byte[size];
    for (int i = 0; i < size; i++) {
      b[i] = (byte) (i * 31 + seed * 7 + (i >> 8));
    }
    return b;
  }

  /**
   * Splits a whole datagram into fragments of at most {@code mtu} bytes, as a router would: every
   * fragment but the last carries a multiple of 8 payload bytes and MF; each gets a valid header
   * checksum.
   */
  static List<byte[]> fragment(byte[] datagram, int mtu) {
    int ihl = ihl(datagram);
    int len = totalLength(datagram);
    int chunk = (mtu - ihl) / 8 * 8;
    List<byte[]> out = new ArrayList<>();
    for (int off = 0; off < len - ihl; off += chunk) {
      int n = Math.min(chunk, len - ihl - off);
      boolean last = off + n >= len - ihl;
      byte[] f = new byte[ihl + n];
      System.arraycopy(datagram, 0, f, 0, ihl);
      System.arraycopy(datagram, ihl + off, f, ihl, n);
      put16(f, 2, f.length);
      put16(f, 6, (get16(datagram, 6) & DF) | (last ? 0 : MF) | off / 8);
      fixHeaderChecksum(f);
      out.add(f);
    }
    return out;
  }

  /**
   * Reassembles fragments (in any order) into the whole datagram, with MF and offset 0 and a valid
   * header checksum.
   *
   * @throws AssertionError saying what is wrong if they are not one complete datagram
   */
  static byte[] reassemble(Collection<byte[]> fragments) {
    if (fragments.isEmpty()) {
      throw new AssertionError("no fragments to reassemble");
    }
    List<byte[]> list = new ArrayList<>(fragments);
    list.sort(Comparator.comparingInt(Packets::fragmentOffset));
    byte[] first = list.get(0);
    int ihl = ihl(first);
    if (fragmentOffset(first) != 0) {
      throw new AssertionError("the first fragment (offset 0) is missing: " + describeAll(list));
    }
    int expected = 0;
    java.io.ByteArrayOutputStream data = new java.io.ByteArrayOutputStream();
    for (int i = 0; i < list.size(); i++) {
      byte[] f = list.get(i);
      if (id(f) != id(first)
          || source(f) != source(first)
          || destination(f) != destination(first)) {
        throw new AssertionError("fragments of different datagrams: " + describeAll(list));
      }
      if (fragmentOffset(f) != expected) {
        throw new AssertionError(
            "fragments are not contiguous (expected offset "
                + expected
                + "): "
                + describeAll(list));
      }
      boolean last = i == list.size() - 1;
      if (moreFragments(f) == last) {
        throw new AssertionError("MF flags do not end at the last fragment: " + describeAll(list));
      }
      int n = totalLength(f) - ihl(f);
      data.write(f, ihl(f), n);
      expected += n;
    }
    byte[] payload = data.toByteArray();
    byte[] whole = new byte[ihl + payload.length];
    System.arraycopy(first, 0, whole, 0, ihl);
    System.arraycopy(payload, 0, whole, ihl, payload.length);
    put16(whole, 2, whole.length);
    put16(whole, 6, get16(first, 6) & DF);
    fixHeaderChecksum(whole);
    return whole;
  }

  // ---- checksums ----

  static int checksum(byte[] b, int from, int length) {
    return fold(rawSum(b, from, length));
  }

  private static long rawSum(byte[] b, int from, int length) {
    long sum = 0;
    int i = from;
    int end = from + length;
    for (; i + 1 < end; i += 2) {
      sum += ((b[i] & 0xff) << 8) | (b[i + 1] & 0xff);
    }
    if (i < end) {
      sum += (b[i] & 0xff) << 8;
    }
    return sum;
  }

  private static long pseudoHeaderSum(int src, int dst, int protocol, int length) {
    return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
  }

  private static int fold(long sum) {
    while ((sum >> 16) != 0) {
      sum = (sum & 0xffff) + (sum >> 16);
    }
    return (int) (~sum & 0xffff);
  }

  static boolean headerChecksumValid(byte[] p) {
    return p.length >= 20 && ihl(p) <= p.length && checksum(p, 0, ihl(p)) == 0;
  }

  static void fixHeaderChecksum(byte[] p) {
    put16(p, 10, 0);
    put16(p, 10, checksum(p, 0, ihl(p)));
  }

  /** True if the UDP checksum of a whole (unfragmented) UDP datagram is correct or absent. */
  static boolean udpChecksumValid(byte[] p) {
    int ihl = ihl(p);
    int n = totalLength(p) - ihl;
    if (get16(p, ihl + 6) == 0) {
      return true;
    }
    long sum = pseudoHeaderSum(source(p), destination(p), UDP, n) + rawSum(p, ihl, n);
    return fold(sum) == 0;
  }

  // ---- reading ----

  static int version(byte[] p) {
    return (p[0] & 0xff) >>> 4;
  }

  static int ihl(byte[] p) {
    return (p[0] & 0x0f) * 4;
  }

  static int tos(byte[] p) {
    return p[1] & 0xff;
  }

  static int totalLength(byte[] p) {
    return get16(p, 2);
  }

  static int id(byte[] p) {
    return get16(p, 4);
  }

  static int flags(byte[] p) {
    return get16(p, 6) & 0xe000;
  }

  static boolean dontFragment(byte[] p) {
    return (get16(p, 6) & DF) != 0;
  }

  static boolean moreFragments(byte[] p) {
    return (get16(p, 6) & MF) != 0;
  }

  /** The fragment offset in bytes. */
  static int fragmentOffset(byte[] p) {
    return (get16(p, 6) & 0x1fff) * 8;
  }

  static boolean isFragment(byte[] p) {
    return moreFragments(p) || fragmentOffset(p) != 0;
  }

  static int ttl(byte[] p) {
    return p[8] & 0xff;
  }

  static int protocol(byte[] p) {
    return p[9] & 0xff;
  }

  static int headerChecksum(byte[] p) {
    return get16(p, 10);
  }

  static int source(byte[] p) {
    return get32(p, 12);
  }

  static int destination(byte[] p) {
    return get32(p, 16);
  }

  /**
   * The bytes after the IP header, up to the total length, or to the end of the array when the
   * total length field is not plausible (a test of S40 may meet packets whose field is wrong).
   */
  static byte[] ipPayload(byte[] p) {
    int ihl = Math.min(ihl(p), p.length);
    int total = totalLength(p);
    int end = total >= ihl && total <= p.length ? total : p.length;
    byte[] out = new byte[end - ihl];
    System.arraycopy(p, ihl, out, 0, out.length);
    return out;
  }

  /** The UDP destination port, or -1 if this is not a first UDP fragment or whole datagram. */
  static int udpDestinationPort(byte[] p) {
    if (p.length < 20 || protocol(p) != UDP || fragmentOffset(p) != 0 || p.length < ihl(p) + 4) {
      return -1;
    }
    return get16(p, ihl(p) + 2);
  }

  static int udpSourcePort(byte[] p) {
    if (p.length < 20 || protocol(p) != UDP || fragmentOffset(p) != 0 || p.length < ihl(p) + 4) {
      return -1;
    }
    return get16(p, ihl(p));
  }

  /** The UDP data of a whole datagram. */
  static byte[] udpData(byte[] p) {
    byte[] seg = ipPayload(p);
    if (seg.length < 8) {
      return new byte[0];
    }
    byte[] out = new byte[seg.length - 8];
    System.arraycopy(seg, 8, out, 0, out.length);
    return out;
  }

  static int icmpType(byte[] p) {
    if (protocol(p) != ICMP || fragmentOffset(p) != 0 || p.length <= ihl(p)) {
      return -1;
    }
    return p[ihl(p)] & 0xff;
  }

  static int get16(byte[] b, int i) {
    return (b[i] & 0xff) << 8 | (b[i + 1] & 0xff);
  }

  static int get32(byte[] b, int i) {
    return get16(b, i) << 16 | get16(b, i + 2);
  }

  static void put16(byte[] b, int i, int v) {
    b[i] = (byte) (v >>> 8);
    b[i + 1] = (byte) v;
  }

  static void put32(byte[] b, int i, int v) {
    put16(b, i, v >>> 16);
    put16(b, i + 2, v);
  }

  /** One line about a packet, for failure messages. */
  /** A fragment of {@code whole} with {@code length} payload bytes from {@code offset}. */
  static byte[] slice(byte[] whole, int offset, int length, boolean more) {
    byte[] f = new byte[20 + length];
    System.arraycopy(whole, 0, f, 0, 20);
    System.arraycopy(whole, 20 + offset, f, 20, length);
    Packets.put16(f, 2, f.length);
    Packets.put16(f, 6, (more ? Packets.MF : 0) | offset / 8);
    Packets.fixHeaderChecksum(f);
    return f;
  }

  static String describe(byte[] p) {
    if (p == null) {
      return "null";
    }
    if (p.length < 20 || version(p) != 4) {
      return p.length + " bytes, not IPv4";
    }
    StringBuilder sb = new StringBuilder();
    int proto = protocol(p);
    sb.append(proto == UDP ? "UDP" : proto == ICMP ? "ICMP" : "proto " + proto).append(' ');
    sb.append(Ipv4.toString(source(p)));
    if (udpSourcePort(p) >= 0) {
      sb.append(':').append(udpSourcePort(p));
    }
    sb.append(" > ").append(Ipv4.toString(destination(p)));
    if (udpDestinationPort(p) >= 0) {
      sb.append(':').append(udpDestinationPort(p));
    }
    if (icmpType(p) >= 0) {
      sb.append(" type ").append(icmpType(p));
    }
    sb.append(" len ").append(p.length);
    if (totalLength(p) != p.length) {
      sb.append(" (total length field ").append(totalLength(p)).append(')');
    }
    sb.append(String.format(" id 0x%04x", id(p)));
    sb.append(" off ").append(fragmentOffset(p));
    if (moreFragments(p)) {
      sb.append(" MF");
    }
    if (dontFragment(p)) {
      sb.append(" DF");
    }
    sb.append(" ttl ").append(ttl(p));
    if (!headerChecksumValid(p)) {
      sb.append(" BAD-CHECKSUM");
    }
    return sb.toString();
  }

  static String describeAll(Collection<byte[]> packets) {
    List<String> s = new ArrayList<>();
    for (byte[] p : packets) {
      s.add(describe(p));
    }
    return s.toString();
  }
}
