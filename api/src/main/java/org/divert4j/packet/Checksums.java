package org.divert4j.packet;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * Internet checksums (RFC 1071) for IPv4 headers, ICMP, UDP and TCP, full and incremental (RFC
 * 1624), and the IPv6 transport checksums with the IPv6 pseudo-header (methods ending in 6, and
 * {@link #icmpv6}).
 *
 * <p>All methods are static, allocate nothing, never block and are safe to call from any thread (as
 * long as no other thread changes the bytes being summed). Buffers are read and written with
 * absolute indexes only: their position, limit, mark and byte order are never changed, and any byte
 * order works (values are always network order). Indexes past the buffer's limit throw {@link
 * IndexOutOfBoundsException}.
 *
 * <p>Vocabulary: a <em>sum</em> is the 16-bit one's-complement sum of the data, folded, not
 * complemented (0..0xFFFF); a <em>checksum</em> is the complement of a sum, the value stored in a
 * header. Checksums computed here treat the packet's own checksum field as zero, whatever it holds.
 */
public final class Checksums {
  static final int UDP_HEADER = 8;
  static final int TCP_HEADER = 20;
  static final int ICMP_HEADER = 4;

  private Checksums() {}

  // ------------------------------------------------------------------------------ raw sums

  /**
   * The one's-complement sum of {@code length} bytes starting at {@code offset} (RFC 1071), as
   * 16-bit big-endian words; an odd last byte is padded with a zero byte.
   *
   * <p>Why it is fast: RFC 1071 section 2 (A) and (C) let us add wider words and fold at the end,
   * because 2^16 = 1 (mod 0xFFFF). Eight bytes are read at a time with {@code getLong} and split
   * into two 32-bit halves, so the 64-bit accumulator cannot overflow for any int length.
   *
   * @param buf the data
   * @param offset index of the first byte
   * @param length number of bytes, may be odd or zero
   * @return the folded sum, 0..0xFFFF (0 only when every byte is zero)
   * @throws IndexOutOfBoundsException if the range is not within {@code 0..buf.limit()}
   */
  public static int sum(ByteBuffer buf, int offset, int length) {
    Objects.checkFromIndexSize(offset, length, buf.limit());
    return OnesComplement.fold(OnesComplement.add(buf, offset, length));
  }

  /**
   * The checksum of a range: the complement of {@link #sum}.
   *
   * @param buf the data
   * @param offset index of the first byte
   * @param length number of bytes
   * @return {@code ~sum & 0xFFFF}
   * @throws IndexOutOfBoundsException if the range is not within {@code 0..buf.limit()}
   */
  public static int checksum(ByteBuffer buf, int offset, int length) {
    return ~sum(buf, offset, length) & 0xffff;
  }

  /**
   * Adds two sums in one's-complement arithmetic. Chaining sums of consecutive ranges this way is
   * only correct when every range but the last has an even length.
   *
   * @param a a sum, 0..0xFFFF
   * @param b a sum, 0..0xFFFF
   * @return the folded sum of both
   */
  public static int combine(int a, int b) {
    int s = (a & 0xffff) + (b & 0xffff);
    return (s & 0xffff) + (s >>> 16);
  }

  /**
   * The sum of the TCP/UDP pseudo-header (RFC 793, RFC 768): source, destination, zero, protocol
   * and transport length.
   *
   * @param source host-order source address
   * @param destination host-order destination address
   * @param protocol IP protocol number
   * @param length transport length in bytes (header plus data)
   * @return the folded sum
   */
  public static int pseudoHeaderSum(int source, int destination, int protocol, int length) {
    long s =
        (source >>> 16)
            + (source & 0xffff)
            + (destination >>> 16)
            + (destination & 0xffff)
            + (protocol & 0xff)
            + (length & 0xffff);
    return OnesComplement.fold(s);
  }

  // ----------------------------------------------------------------------------- IPv4 header

  /**
   * Computes the header checksum of the IPv4 header at {@code base}, as if its checksum field were
   * zero.
   *
   * @param buf the packet
   * @param base index of the first header byte
   * @return the checksum to store
   * @throws IllegalArgumentException if the IHL is under 5
   * @throws IndexOutOfBoundsException if the header does not fit below the limit
   */
  public static int ipv4Header(ByteBuffer buf, int base) {
    int hl = headerLength(buf, base);
    Objects.checkFromIndexSize(base, hl, buf.limit());
    return OnesComplement.checksumWithoutField(buf, base, hl, base + 10, 0);
  }

  /**
   * Computes and stores the header checksum of the IPv4 header at {@code base}.
   *
   * @param buf the packet; written at {@code base + 10}
   * @param base index of the first header byte
   * @return the checksum stored
   * @throws IllegalArgumentException if the IHL is under 5
   * @throws IndexOutOfBoundsException if the header does not fit below the limit
   */
  public static int fillIpv4Header(ByteBuffer buf, int base) {
    int c = ipv4Header(buf, base);
    Bytes.put16(buf, base + 10, c);
    return c;
  }

  /**
   * @param buf the packet
   * @param base index of the first header byte
   * @return true if the stored header checksum is correct (the header sums to 0xFFFF); false if it
   *     is wrong, the IHL is under 5, or the header does not fit below the limit
   */
  public static boolean isIpv4HeaderValid(ByteBuffer buf, int base) {
    if (base < 0 || base >= buf.limit()) {
      return false;
    }
    int hl = (Bytes.u8(buf, base) & 0x0f) << 2;
    if (hl < Ipv4View.MIN_HEADER_LENGTH || base + hl > buf.limit()) {
      return false;
    }
    return OnesComplement.fold(OnesComplement.add(buf, base, hl)) == 0xffff;
  }

  private static int headerLength(ByteBuffer buf, int base) {
    int hl = (Bytes.u8(buf, base) & 0x0f) << 2;
    if (hl < Ipv4View.MIN_HEADER_LENGTH) {
      throw new IllegalArgumentException("IHL under 5: " + (hl >> 2));
    }
    return hl;
  }

  // ------------------------------------------------------------------------------- transport

  /**
   * Computes the UDP checksum of the datagram whose IPv4 header is at {@code base}: pseudo-header
   * plus the UDP header and data, over the UDP length field (as Linux {@code udp_rcv} verifies it;
   * bytes after it up to the IP total length are padding). A computed 0 is returned as 0xFFFF,
   * because 0 on the wire means "no checksum" (RFC 768).
   *
   * <p>Transport checksums cover the whole datagram: on a fragment the result is meaningless.
   *
   * @param buf the packet
   * @param base index of the first IP header byte
   * @return the checksum to store, 1..0xFFFF
   * @throws IllegalArgumentException if the IHL is under 5, or the UDP length field is under 8 or
   *     past the IP total length
   * @throws IndexOutOfBoundsException if the datagram does not fit below the limit
   */
  public static int udp(ByteBuffer buf, int base) {
    int at = transport(buf, base, UDP_HEADER);
    int ulen = udpLength(buf, base, at);
    if (ulen < 0) {
      throw new IllegalArgumentException(
          "UDP length field " + Bytes.u16(buf, at + 4) + " does not fit the IP datagram");
    }
    int c =
        OnesComplement.checksumWithoutField(
            buf, at, ulen, at + 6, pseudo(buf, base, Ipv4View.PROTOCOL_UDP, ulen));
    return c == 0 ? 0xffff : c;
  }

  /**
   * Computes the TCP checksum of the datagram whose IPv4 header is at {@code base}: pseudo-header
   * plus the segment, which runs to the IP total length.
   *
   * @param buf the packet
   * @param base index of the first IP header byte
   * @return the checksum to store
   * @throws IllegalArgumentException if the IHL is under 5 or fewer than 20 TCP bytes are present
   * @throws IndexOutOfBoundsException if the datagram does not fit below the limit
   */
  public static int tcp(ByteBuffer buf, int base) {
    int at = transport(buf, base, TCP_HEADER);
    int len = base + Bytes.u16(buf, base + 2) - at;
    return OnesComplement.checksumWithoutField(
        buf, at, len, at + 16, pseudo(buf, base, Ipv4View.PROTOCOL_TCP, len));
  }

  /**
   * Computes the ICMP checksum of the datagram whose IPv4 header is at {@code base}: the ICMP
   * message to the IP total length, without pseudo-header (RFC 792).
   *
   * @param buf the packet
   * @param base index of the first IP header byte
   * @return the checksum to store
   * @throws IllegalArgumentException if the IHL is under 5 or fewer than 4 ICMP bytes are present
   * @throws IndexOutOfBoundsException if the datagram does not fit below the limit
   */
  public static int icmp(ByteBuffer buf, int base) {
    int at = transport(buf, base, ICMP_HEADER);
    int len = base + Bytes.u16(buf, base + 2) - at;
    return OnesComplement.checksumWithoutField(buf, at, len, at + 2, 0);
  }

  /**
   * Computes and stores the transport checksum by the protocol field: TCP, UDP or ICMP. Nothing is
   * written for other protocols or for a fragment (MF or a non-zero offset), because a transport
   * checksum covers bytes that are in other fragments. The IP header checksum is not touched.
   *
   * @param buf the packet; written in the transport header
   * @param base index of the first IP header byte
   * @return true if a checksum was stored, false if the protocol has none known here or the packet
   *     is a fragment
   * @throws IllegalArgumentException as {@link #udp}, {@link #tcp}, {@link #icmp}
   * @throws IndexOutOfBoundsException if the datagram does not fit below the limit
   */
  public static boolean fillTransport(ByteBuffer buf, int base) {
    if (isFragment(buf, base)) {
      return false;
    }
    int hl = headerLength(buf, base);
    switch (Bytes.u8(buf, base + 9)) {
      case Ipv4View.PROTOCOL_UDP:
        Bytes.put16(buf, base + hl + 6, udp(buf, base));
        return true;
      case Ipv4View.PROTOCOL_TCP:
        Bytes.put16(buf, base + hl + 16, tcp(buf, base));
        return true;
      case Ipv4View.PROTOCOL_ICMP:
        Bytes.put16(buf, base + hl + 2, icmp(buf, base));
        return true;
      default:
        return false;
    }
  }

  /**
   * Verifies the transport checksum by the protocol field. Meant as a filter ("is this known to be
   * bad?"), so it answers true whenever it cannot tell: for protocols other than TCP, UDP and ICMP,
   * for fragments (the checksum covers other fragments), and for UDP with a stored 0 (no checksum,
   * RFC 768). Never throws for malformed input.
   *
   * @param buf the packet
   * @param base index of the first IP header byte
   * @return false if the datagram is a whole TCP, UDP or ICMP datagram whose checksum is wrong or
   *     whose IP or transport header is truncated; true otherwise
   */
  public static boolean isTransportValid(ByteBuffer buf, int base) {
    if (base < 0 || base + Ipv4View.MIN_HEADER_LENGTH > buf.limit()) {
      return false;
    }
    if (isFragment(buf, base)) {
      return true;
    }
    int hl = (Bytes.u8(buf, base) & 0x0f) << 2;
    int total = Bytes.u16(buf, base + 2);
    int protocol = Bytes.u8(buf, base + 9);
    boolean known =
        protocol == Ipv4View.PROTOCOL_UDP
            || protocol == Ipv4View.PROTOCOL_TCP
            || protocol == Ipv4View.PROTOCOL_ICMP;
    if (!known) {
      return true;
    }
    if (hl < Ipv4View.MIN_HEADER_LENGTH || total < hl || base + total > buf.limit()) {
      return false;
    }
    int at = base + hl;
    int len = total - hl;
    switch (protocol) {
      case Ipv4View.PROTOCOL_UDP:
        if (len < UDP_HEADER) {
          return false;
        }
        if (Bytes.u16(buf, at + 6) == 0) {
          return true;
        }
        int ulen = udpLength(buf, base, at);
        return ulen >= 0
            && OnesComplement.fold(
                    OnesComplement.add(buf, at, ulen)
                        + pseudo(buf, base, Ipv4View.PROTOCOL_UDP, ulen))
                == 0xffff;
      case Ipv4View.PROTOCOL_TCP:
        return len >= TCP_HEADER
            && OnesComplement.fold(
                    OnesComplement.add(buf, at, len)
                        + pseudo(buf, base, Ipv4View.PROTOCOL_TCP, len))
                == 0xffff;
      default:
        return len >= ICMP_HEADER
            && OnesComplement.fold(OnesComplement.add(buf, at, len)) == 0xffff;
    }
  }

  private static boolean isFragment(ByteBuffer buf, int base) {
    return (Bytes.u16(buf, base + 6) & 0x3fff) != 0;
  }

  /** Index of the transport header, after checking that {@code need} bytes of it are present. */
  private static int transport(ByteBuffer buf, int base, int need) {
    int hl = headerLength(buf, base);
    int total = Bytes.u16(buf, base + 2);
    if (total < hl + need) {
      throw new IllegalArgumentException(
          "IP total length "
              + total
              + " leaves fewer than "
              + need
              + " transport bytes after the "
              + hl
              + "-byte header");
    }
    Objects.checkFromIndexSize(base, total, buf.limit());
    return base + hl;
  }

  /** The UDP length field if it fits the IP datagram, else -1. */
  private static int udpLength(ByteBuffer buf, int base, int at) {
    int ulen = Bytes.u16(buf, at + 4);
    int room = base + Bytes.u16(buf, base + 2) - at;
    return ulen < UDP_HEADER || ulen > room ? -1 : ulen;
  }

  private static int pseudo(ByteBuffer buf, int base, int protocol, int length) {
    return pseudoHeaderSum(Bytes.i32(buf, base + 12), Bytes.i32(buf, base + 16), protocol, length);
  }

  // ------------------------------------------------------------------------------------ IPv6

  /**
   * The sum of the IPv6 pseudo-header (RFC 8200 section 8.1): source and destination address of the
   * IPv6 header at {@code base}, the 32-bit upper-layer length and the next header value.
   *
   * @param buf the packet
   * @param base index of the first IPv6 header byte
   * @param protocol the upper-layer protocol (e.g. 58 for ICMPv6)
   * @param length the upper-layer packet length in bytes
   * @return the folded sum
   * @throws IndexOutOfBoundsException if the 40-byte header does not fit below the limit
   */
  public static int ipv6PseudoHeaderSum(ByteBuffer buf, int base, int protocol, int length) {
    Objects.checkFromIndexSize(base, Ipv6View.HEADER_LENGTH, buf.limit());
    return OnesComplement.fold(Ipv6Checksums.pseudo6(buf, base, protocol, length));
  }

  /**
   * Computes the UDP checksum of the IPv6 datagram at {@code base}: the walk of {@link Ipv6View}
   * finds the UDP header after any extension headers; the sum covers the pseudo-header and the UDP
   * length field's bytes. A computed 0 is returned as 0xFFFF: over IPv6 a zero UDP checksum is
   * invalid (RFC 8200 section 8.1), so 0xFFFF is what is sent (S61).
   *
   * @param buf the packet
   * @param base index of the first IPv6 header byte
   * @return the checksum to store, 1..0xFFFF
   * @throws IllegalArgumentException if the extension headers run past the payload length, or the
   *     UDP length field is under 8 or past the datagram
   * @throws IndexOutOfBoundsException if the datagram (by its payload length) does not fit below
   *     the limit
   */
  public static int udp6(ByteBuffer buf, int base) {
    return Ipv6Checksums.udp(buf, base);
  }

  /**
   * Computes the TCP checksum of the IPv6 datagram at {@code base}: pseudo-header plus the segment
   * after the extension headers, to the end given by the payload length.
   *
   * @param buf the packet
   * @param base index of the first IPv6 header byte
   * @return the checksum to store
   * @throws IllegalArgumentException if the extension headers run past the payload length or fewer
   *     than 20 TCP bytes follow them
   * @throws IndexOutOfBoundsException if the datagram does not fit below the limit
   */
  public static int tcp6(ByteBuffer buf, int base) {
    return Ipv6Checksums.tcp(buf, base);
  }

  /**
   * Computes the ICMPv6 checksum of the IPv6 datagram at {@code base}. Unlike ICMP for IPv4, it
   * covers the pseudo-header (RFC 4443 section 2.3).
   *
   * @param buf the packet
   * @param base index of the first IPv6 header byte
   * @return the checksum to store
   * @throws IllegalArgumentException if the extension headers run past the payload length or fewer
   *     than 4 ICMPv6 bytes follow them
   * @throws IndexOutOfBoundsException if the datagram does not fit below the limit
   */
  public static int icmpv6(ByteBuffer buf, int base) {
    return Ipv6Checksums.icmp(buf, base);
  }

  /**
   * Computes and stores the transport checksum of an IPv6 datagram by its upper-layer protocol
   * (found by walking the extension headers): TCP, UDP or ICMPv6. Nothing is written for other
   * protocols, when the header chain runs past the end, or for a fragment (M set or a non-zero
   * offset; an atomic fragment is whole and is filled).
   *
   * @param buf the packet; written in the transport header
   * @param base index of the first IPv6 header byte
   * @return true if a checksum was stored
   * @throws IllegalArgumentException as {@link #udp6}, {@link #tcp6}, {@link #icmpv6}
   * @throws IndexOutOfBoundsException if the datagram does not fit below the limit
   */
  public static boolean fillTransport6(ByteBuffer buf, int base) {
    return Ipv6Checksums.fillTransport(buf, base);
  }

  /**
   * Verifies the transport checksum of an IPv6 datagram by its upper-layer protocol, as a filter
   * like {@link #isTransportValid}: true whenever it cannot tell (other protocols, fragments). A
   * stored UDP checksum of 0 is invalid over IPv6 (RFC 8200 section 8.1). Never throws.
   *
   * @param buf the packet
   * @param base index of the first IPv6 header byte
   * @return false if the datagram is a whole TCP, UDP or ICMPv6 datagram whose checksum is wrong,
   *     or whose IPv6 header, extension headers or transport header is truncated; true otherwise
   */
  public static boolean isTransportValid6(ByteBuffer buf, int base) {
    return Ipv6Checksums.isTransportValid(buf, base);
  }

  // ----------------------------------------------------------------------------- incremental

  /**
   * Updates a checksum for one changed 16-bit word, by RFC 1624 equation 3: {@code HC' = ~(~HC + ~m
   * + m')}.
   *
   * <p>The 0x0000/0xFFFF corner: equation 3 was chosen by RFC 1624 because, unlike RFC 1141's
   * {@code HC' = HC + m - m'}, it never yields 0xFFFF (negative zero) where a full recomputation
   * yields 0x0000; its result is always the one a full recomputation gives, except when {@code HC}
   * is 0xFFFF, which a correct full computation never stores for data that is not all zero. The one
   * protocol where 0 and 0xFFFF differ on the wire is UDP (0 means "no checksum"): use {@link
   * #adjustUdp} there.
   *
   * @param checksum the stored checksum, 0..0xFFFF
   * @param oldValue the word's old value, 0..0xFFFF
   * @param newValue the word's new value, 0..0xFFFF
   * @return the new checksum
   */
  public static int adjust(int checksum, int oldValue, int newValue) {
    int s = (~checksum & 0xffff) + (~oldValue & 0xffff) + (newValue & 0xffff);
    s = (s & 0xffff) + (s >>> 16);
    s = (s & 0xffff) + (s >>> 16);
    return ~s & 0xffff;
  }

  /**
   * Updates a checksum for one changed 32-bit field (an address, a sequence number), by RFC 1624
   * equation 3 applied to both halves. See {@link #adjust} for the 0/0xFFFF corner.
   *
   * @param checksum the stored checksum, 0..0xFFFF
   * @param oldValue the field's old value
   * @param newValue the field's new value
   * @return the new checksum
   */
  public static int adjust32(int checksum, int oldValue, int newValue) {
    long s =
        (~checksum & 0xffff)
            + (~oldValue >>> 16 & 0xffff)
            + (~oldValue & 0xffff)
            + (newValue >>> 16)
            + (newValue & 0xffff);
    return ~OnesComplement.fold(s) & 0xffff;
  }

  /**
   * {@link #adjust} for a UDP checksum: a stored 0 ("no checksum", RFC 768) stays 0, and a result
   * of 0 is stored as 0xFFFF, as a full computation ({@link #udp}) would.
   *
   * @param checksum the stored UDP checksum
   * @param oldValue the word's old value
   * @param newValue the word's new value
   * @return the new UDP checksum
   */
  public static int adjustUdp(int checksum, int oldValue, int newValue) {
    if (checksum == 0) {
      return 0;
    }
    int c = adjust(checksum, oldValue, newValue);
    return c == 0 ? 0xffff : c;
  }

  /**
   * {@link #adjust32} for a UDP checksum; see {@link #adjustUdp}.
   *
   * @param checksum the stored UDP checksum
   * @param oldValue the field's old value
   * @param newValue the field's new value
   * @return the new UDP checksum
   */
  public static int adjustUdp32(int checksum, int oldValue, int newValue) {
    if (checksum == 0) {
      return 0;
    }
    int c = adjust32(checksum, oldValue, newValue);
    return c == 0 ? 0xffff : c;
  }
}
