package org.divert4j.packet;

import java.nio.ByteBuffer;

/**
 * The zero-allocation walk of an IPv6 packet's extension headers (RFC 8200 section 4) and the
 * checks that hang on it: where the upper layer starts, which Fragment header there is, whether the
 * chain runs past the end (SEMANTICS.md S55, S56, S62), where a first fragment's transport header
 * starts, and whether a hop-by-hop header holds a Jumbo Payload option (S59). Static and stateless,
 * so that rule matching can call it from any thread without a view; {@link Ipv6View} caches one
 * walk per wrap and keeps the public entry points ({@link Ipv6View#walk} and the decoders of its
 * result).
 */
final class Ipv6HeaderChain {
  private Ipv6HeaderChain() {}

  // The walk's result, packed into a long so that the walk allocates nothing:
  // bits 0-16 upper-layer offset from the header, 17-33 Fragment header offset (0: none),
  // 34-41 upper-layer protocol, 42 the chain runs past the end.
  static final long PAST_END = 1L << 42;

  /** The M (more fragments) bit of the Fragment header's offset word. */
  static final int M_FLAG = 1;

  /** The fragment offset bits of the Fragment header's offset word (already in bytes). */
  static final int OFFSET_MASK = 0xfff8;

  /** See {@link Ipv6View#walk}. */
  static long walk(ByteBuffer b, int base, int end) {
    int nh = Bytes.u8(b, base + 6);
    int at = base + Ipv6View.HEADER_LENGTH;
    long frag = 0;
    while (true) {
      switch (nh) {
        case Ipv6View.NEXT_HOP_BY_HOP:
        case Ipv6View.NEXT_ROUTING:
        case Ipv6View.NEXT_DESTINATION_OPTIONS:
          {
            if (at + 2 > end) {
              return PAST_END | frag << 17;
            }
            int len = (Bytes.u8(b, at + 1) + 1) << 3;
            if (at + len > end) {
              return PAST_END | frag << 17;
            }
            nh = Bytes.u8(b, at);
            at += len;
            break;
          }
        case Ipv6View.NEXT_FRAGMENT:
          {
            if (at + Ipv6View.FRAGMENT_HEADER_LENGTH > end) {
              return PAST_END | frag << 17;
            }
            if (frag == 0) {
              frag = at - base;
            }
            boolean first = (Bytes.u16(b, at + 2) & OFFSET_MASK) == 0;
            nh = Bytes.u8(b, at);
            at += Ipv6View.FRAGMENT_HEADER_LENGTH;
            if (!first) {
              return pack(nh, at - base, frag);
            }
            break;
          }
        default:
          return pack(nh, at - base, frag);
      }
    }
  }

  private static long pack(int protocol, int upper, long frag) {
    return (long) protocol << 34 | frag << 17 | upper;
  }

  static boolean pastEnd(long w) {
    return (w & PAST_END) != 0;
  }

  static int upperProtocol(long w) {
    return pastEnd(w) ? -1 : (int) (w >>> 34) & 0xff;
  }

  static int upperOffset(long w) {
    return pastEnd(w) ? -1 : (int) w & 0x1ffff;
  }

  static int fragmentHeader(long w) {
    return (int) (w >>> 17) & 0x1ffff;
  }

  /**
   * Where the transport header of a walked packet starts ({@link IpView#transportOffset}): the
   * absolute index of the upper layer, if the walk reached it, the packet is a first fragment or
   * whole, its protocol has ports ({@code ports}) or is ICMPv6, and {@code need} bytes of it lie
   * within the datagram; -1 otherwise.
   */
  static int transportOffset(ByteBuffer b, int base, int length, long w, int need, boolean ports) {
    if (pastEnd(w)) {
      return -1;
    }
    int f = fragmentHeader(w);
    if (f != 0 && (Bytes.u16(b, base + f + 2) & OFFSET_MASK) != 0) {
      return -1;
    }
    int p = upperProtocol(w);
    boolean wanted = ports ? IpView.hasPorts(p) : p == Ipv6View.PROTOCOL_ICMPV6;
    int at = base + upperOffset(w);
    if (!wanted || at + need > datagramEnd(b, base, length)) {
      return -1;
    }
    return at;
  }

  /** The absolute index where the datagram ends by its payload length and the bytes present. */
  static int datagramEnd(ByteBuffer b, int base, int length) {
    return base + Math.min(length, Ipv6View.HEADER_LENGTH + Bytes.u16(b, base + 4));
  }

  /**
   * True if the packet at {@code base} starts with a hop-by-hop header that holds a Jumbo Payload
   * option (type 0xC2), looking only at the {@code length} bytes present.
   */
  static boolean jumbo(ByteBuffer b, int base, int length) {
    int hl = Ipv6View.HEADER_LENGTH;
    if (length < hl + 8 || Bytes.u8(b, base + 6) != Ipv6View.NEXT_HOP_BY_HOP) {
      return false;
    }
    int end = base + Math.min(length, hl + ((Bytes.u8(b, base + 41) + 1) << 3));
    for (int i = base + hl + 2; i < end; ) {
      int type = Bytes.u8(b, i);
      if (type == 0) { // Pad1
        i++;
        continue;
      }
      if (type == Ipv6View.OPTION_JUMBO_PAYLOAD) {
        return true;
      }
      if (i + 1 >= end) {
        return false;
      }
      i += 2 + Bytes.u8(b, i + 1);
    }
    return false;
  }
}
