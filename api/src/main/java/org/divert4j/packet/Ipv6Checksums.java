package org.divert4j.packet;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * The IPv6 transport checksums behind {@link Checksums#udp6}, {@link Checksums#tcp6}, {@link
 * Checksums#icmpv6}, {@link Checksums#fillTransport6} and {@link Checksums#isTransportValid6},
 * whose javadoc states the contract: the upper layer is found by {@link Ipv6View#walk}, and the
 * sums cover the IPv6 pseudo-header (RFC 8200 section 8.1). Static, allocation-free, thread-safe.
 */
final class Ipv6Checksums {
  private Ipv6Checksums() {}

  static int udp(ByteBuffer buf, int base) {
    int end = end6(buf, base);
    int at = transport6(buf, base, end, Checksums.UDP_HEADER);
    int ulen = Bytes.u16(buf, at + 4);
    if (ulen < Checksums.UDP_HEADER || ulen > end - at) {
      throw new IllegalArgumentException(
          "UDP length field " + ulen + " does not fit the IPv6 datagram");
    }
    int c =
        OnesComplement.checksumWithoutField(
            buf,
            at,
            ulen,
            at + 6,
            OnesComplement.fold(pseudo6(buf, base, Ipv4View.PROTOCOL_UDP, ulen)));
    return c == 0 ? 0xffff : c;
  }

  static int tcp(ByteBuffer buf, int base) {
    int end = end6(buf, base);
    int at = transport6(buf, base, end, Checksums.TCP_HEADER);
    int len = end - at;
    return OnesComplement.checksumWithoutField(
        buf, at, len, at + 16, OnesComplement.fold(pseudo6(buf, base, Ipv4View.PROTOCOL_TCP, len)));
  }

  static int icmp(ByteBuffer buf, int base) {
    int end = end6(buf, base);
    int at = transport6(buf, base, end, Checksums.ICMP_HEADER);
    int len = end - at;
    return OnesComplement.checksumWithoutField(
        buf,
        at,
        len,
        at + 2,
        OnesComplement.fold(pseudo6(buf, base, Ipv6View.PROTOCOL_ICMPV6, len)));
  }

  static boolean fillTransport(ByteBuffer buf, int base) {
    int end = end6(buf, base);
    long w = Ipv6View.walk(buf, base, end);
    if (Ipv6View.pastEnd(w) || isFragment6(buf, base, w)) {
      return false;
    }
    int at = base + Ipv6View.upperOffset(w);
    switch (Ipv6View.upperProtocol(w)) {
      case Ipv4View.PROTOCOL_UDP:
        Bytes.put16(buf, at + 6, udp(buf, base));
        return true;
      case Ipv4View.PROTOCOL_TCP:
        Bytes.put16(buf, at + 16, tcp(buf, base));
        return true;
      case Ipv6View.PROTOCOL_ICMPV6:
        Bytes.put16(buf, at + 2, icmp(buf, base));
        return true;
      default:
        return false;
    }
  }

  static boolean isTransportValid(ByteBuffer buf, int base) {
    if (base < 0 || base + Ipv6View.HEADER_LENGTH > buf.limit()) {
      return false;
    }
    int end = base + Ipv6View.HEADER_LENGTH + Bytes.u16(buf, base + 4);
    if (end > buf.limit()) {
      return false;
    }
    long w = Ipv6View.walk(buf, base, end);
    if (Ipv6View.pastEnd(w)) {
      return false;
    }
    int protocol = Ipv6View.upperProtocol(w);
    if (isFragment6(buf, base, w)
        || (protocol != Ipv4View.PROTOCOL_UDP
            && protocol != Ipv4View.PROTOCOL_TCP
            && protocol != Ipv6View.PROTOCOL_ICMPV6)) {
      return true;
    }
    int at = base + Ipv6View.upperOffset(w);
    int len = end - at;
    switch (protocol) {
      case Ipv4View.PROTOCOL_UDP:
        if (len < Checksums.UDP_HEADER) {
          return false;
        }
        int ulen = Bytes.u16(buf, at + 4);
        return Bytes.u16(buf, at + 6) != 0
            && ulen >= Checksums.UDP_HEADER
            && ulen <= len
            && OnesComplement.fold(
                    OnesComplement.add(buf, at, ulen) + pseudo6(buf, base, protocol, ulen))
                == 0xffff;
      case Ipv4View.PROTOCOL_TCP:
        return len >= Checksums.TCP_HEADER
            && OnesComplement.fold(
                    OnesComplement.add(buf, at, len) + pseudo6(buf, base, protocol, len))
                == 0xffff;
      default:
        return len >= Checksums.ICMP_HEADER
            && OnesComplement.fold(
                    OnesComplement.add(buf, at, len) + pseudo6(buf, base, protocol, len))
                == 0xffff;
    }
  }

  static long pseudo6(ByteBuffer buf, int base, int protocol, int length) {
    return OnesComplement.add(buf, base + 8, 32)
        + (length >>> 16)
        + (length & 0xffff)
        + (protocol & 0xff);
  }

  /** The end of the IPv6 datagram by its payload length, after checking it fits the buffer. */
  private static int end6(ByteBuffer buf, int base) {
    Objects.checkFromIndexSize(base, Ipv6View.HEADER_LENGTH, buf.limit());
    int total = Ipv6View.HEADER_LENGTH + Bytes.u16(buf, base + 4);
    Objects.checkFromIndexSize(base, total, buf.limit());
    return base + total;
  }

  private static int transport6(ByteBuffer buf, int base, int end, int need) {
    long w = Ipv6View.walk(buf, base, end);
    if (Ipv6View.pastEnd(w)) {
      throw new IllegalArgumentException("the IPv6 extension headers run past the payload length");
    }
    int at = base + Ipv6View.upperOffset(w);
    if (at + need > end) {
      throw new IllegalArgumentException(
          "the IPv6 payload leaves fewer than " + need + " transport bytes after its headers");
    }
    return at;
  }

  private static boolean isFragment6(ByteBuffer buf, int base, long w) {
    int f = Ipv6View.fragmentHeader(w);
    return f != 0 && (Bytes.u16(buf, base + f + 2) & 0xfff9) != 0;
  }
}
