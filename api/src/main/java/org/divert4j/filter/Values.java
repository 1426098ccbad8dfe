package org.divert4j.filter;

import java.nio.ByteBuffer;
import org.divert4j.Direction;

/**
 * The values of a filter's fields in a packet. Those that are not one plain header read ({@link
 * Loads#SPECIAL}: flags and lengths of the {@link Layout} or the {@link FilterContext}, and words
 * at an index) have one small static method each, so that both {@link FastPath} and the bytecode
 * {@link FilterCompiler} emits call them and the JIT inlines them there; {@link #value} gives any
 * field's value, for {@link Program#test} and the fields the fast path does not plan. A value the
 * packet lacks is {@link Program#MISSING}.
 */
final class Values {
  private Values() {}

  static long inbound(FilterContext c) {
    return c.direction == Direction.INBOUND ? 1 : 0;
  }

  static long outbound(FilterContext c) {
    return c.direction == Direction.OUTBOUND ? 1 : 0;
  }

  static long loopback(FilterContext c) {
    return c.loopback ? 1 : 0;
  }

  static long ifIdx(FilterContext c) {
    return c.ifIdx & 0xffff_ffffL;
  }

  static long length(Layout l) {
    return l.end - l.base;
  }

  static long fragment(Layout l) {
    return l.family == 0 ? Program.MISSING : l.fragment ? 1 : 0;
  }

  static long ip(Layout l) {
    return l.family == 4 ? 1 : 0;
  }

  static long ipv6(Layout l) {
    return l.family == 6 ? 1 : 0;
  }

  static long icmp(Layout l) {
    return l.family == 4 && l.protocol == Layout.ICMP ? 1 : 0;
  }

  static long icmpv6(Layout l) {
    return l.family == 6 && l.protocol == Layout.ICMPV6 ? 1 : 0;
  }

  static long tcp(Layout l) {
    return l.protocol == Layout.TCP ? 1 : 0;
  }

  static long udp(Layout l) {
    return l.protocol == Layout.UDP ? 1 : 0;
  }

  static long tcpPayloadLength(Layout l) {
    return l.tcp < 0 ? Program.MISSING : l.datagramEnd - l.tcpPayload;
  }

  static long udpPayloadLength(Layout l) {
    return l.udp < 0 ? Program.MISSING : l.datagramEnd - l.udp - 8;
  }

  static long packetWord(ByteBuffer b, Layout l, int index, int size) {
    return word(b, l.base, l.end, index, size);
  }

  static long tcpWord(ByteBuffer b, Layout l, int index, int size) {
    return l.tcp < 0 ? Program.MISSING : word(b, l.tcpPayload, l.datagramEnd, index, size);
  }

  static long udpWord(ByteBuffer b, Layout l, int index, int size) {
    return l.udp < 0 ? Program.MISSING : word(b, l.udp + 8, l.datagramEnd, index, size);
  }

  /** The high 64 bits of an address field that {@link #value} found present. */
  static long addressHi(Field f, ByteBuffer b, Layout p) {
    return switch (f) {
      case IPV6_SRC_ADDR -> Bytes.u64(b, p.base + 8);
      case IPV6_DST_ADDR -> Bytes.u64(b, p.base + 24);
      default -> 0; // IPv4 addresses are ::ffff:a.b.c.d
    };
  }

  /**
   * A field's value (the low 64 bits for addresses), or {@link #Program.MISSING} when the packet
   * does not have it (S65).
   */
  static long value(Field f, int index, ByteBuffer b, Layout p, FilterContext c) {
    int base = p.base;
    switch (f) {
      case ZERO:
      case FALSE:
        return 0;
      case TRUE:
        return 1;
      case INBOUND:
        return inbound(c);
      case OUTBOUND:
        return outbound(c);
      case LOOPBACK:
        return loopback(c);
      case IF_IDX:
        return ifIdx(c);
      case LENGTH:
        return length(p);
      case FRAGMENT:
        return fragment(p);
      case FLOW_PACKETS:
        // S68; unknown, or a later fragment (no ports, so no connection), is missing (S65)
        return c.flowPackets > 0 && p.firstFragment ? c.flowPackets : Program.MISSING;
      case PACKET:
      case PACKET16:
      case PACKET32:
        return packetWord(b, p, index, f.wordSize);
      case IP:
        return ip(p);
      case IPV6:
        return ipv6(p);
      case ICMP:
        return icmp(p);
      case ICMPV6:
        return icmpv6(p);
      case TCP:
        return tcp(p);
      case UDP:
        return udp(p);
      default:
        break;
    }
    if (f.ordinal() <= Field.IP_DST_ADDR.ordinal()) {
      return p.family == 4 ? ipv4Field(f, b, base) : Program.MISSING;
    }
    if (f.ordinal() <= Field.IPV6_DST_ADDR.ordinal()) {
      return p.family == 6 ? ipv6Field(f, b, base) : Program.MISSING;
    }
    if (f.ordinal() <= Field.ICMP_BODY.ordinal()) {
      return p.icmp < 0
          ? Program.MISSING
          : icmpField(f.ordinal() - Field.ICMP_TYPE.ordinal(), b, p.icmp);
    }
    if (f.ordinal() <= Field.ICMPV6_BODY.ordinal()) {
      return p.icmpv6 < 0
          ? Program.MISSING
          : icmpField(f.ordinal() - Field.ICMPV6_TYPE.ordinal(), b, p.icmpv6);
    }
    if (f.ordinal() <= Field.TCP_PAYLOAD32.ordinal()) {
      return p.tcp < 0 ? Program.MISSING : tcpField(f, index, b, p);
    }
    return p.udp < 0 ? Program.MISSING : udpField(f, index, b, p);
  }

  private static long ipv4Field(Field f, ByteBuffer b, int base) {
    return switch (f) {
      case IP_HDR_LENGTH -> b.get(base) & 0x0f;
      case IP_TOS -> Bytes.u8(b, base + 1);
      case IP_LENGTH -> Bytes.u16(b, base + 2);
      case IP_ID -> Bytes.u16(b, base + 4);
      case IP_DF -> (Bytes.u8(b, base + 6) >>> 6) & 1;
      case IP_MF -> (Bytes.u8(b, base + 6) >>> 5) & 1;
      case IP_FRAG_OFF -> Bytes.u16(b, base + 6) & 0x1fff;
      case IP_TTL -> Bytes.u8(b, base + 8);
      case IP_PROTOCOL -> Bytes.u8(b, base + 9);
      case IP_CHECKSUM -> Bytes.u16(b, base + 10);
      case IP_SRC_ADDR -> 0xffff_0000_0000L | Bytes.u32(b, base + 12);
      default -> 0xffff_0000_0000L | Bytes.u32(b, base + 16); // IP_DST_ADDR
    };
  }

  private static long ipv6Field(Field f, ByteBuffer b, int base) {
    return switch (f) {
      case IPV6_TRAFFIC_CLASS -> (Bytes.u16(b, base) >>> 4) & 0xff;
      case IPV6_FLOW_LABEL -> Bytes.u32(b, base) & 0xfffff;
      case IPV6_LENGTH -> Bytes.u16(b, base + 4);
      case IPV6_NEXT_HDR -> Bytes.u8(b, base + 6);
      case IPV6_HOP_LIMIT -> Bytes.u8(b, base + 7);
      case IPV6_SRC_ADDR -> Bytes.u64(b, base + 16);
      default -> Bytes.u64(b, base + 32); // IPV6_DST_ADDR
    };
  }

  /** Type, code, checksum, body: the same layout for ICMP and ICMPv6. */
  private static long icmpField(int which, ByteBuffer b, int at) {
    return switch (which) {
      case 0 -> Bytes.u8(b, at);
      case 1 -> Bytes.u8(b, at + 1);
      case 2 -> Bytes.u16(b, at + 2);
      default -> Bytes.u32(b, at + 4);
    };
  }

  private static long tcpField(Field f, int index, ByteBuffer b, Layout p) {
    int at = p.tcp;
    return switch (f) {
      case TCP_SRC_PORT -> Bytes.u16(b, at);
      case TCP_DST_PORT -> Bytes.u16(b, at + 2);
      case TCP_SEQ_NUM -> Bytes.u32(b, at + 4);
      case TCP_ACK_NUM -> Bytes.u32(b, at + 8);
      case TCP_HDR_LENGTH -> Bytes.u8(b, at + 12) >>> 4;
      case TCP_URG -> (Bytes.u8(b, at + 13) >>> 5) & 1;
      case TCP_ACK -> (Bytes.u8(b, at + 13) >>> 4) & 1;
      case TCP_PSH -> (Bytes.u8(b, at + 13) >>> 3) & 1;
      case TCP_RST -> (Bytes.u8(b, at + 13) >>> 2) & 1;
      case TCP_SYN -> (Bytes.u8(b, at + 13) >>> 1) & 1;
      case TCP_FIN -> Bytes.u8(b, at + 13) & 1;
      case TCP_WINDOW -> Bytes.u16(b, at + 14);
      case TCP_CHECKSUM -> Bytes.u16(b, at + 16);
      case TCP_URG_PTR -> Bytes.u16(b, at + 18);
      case TCP_PAYLOAD_LENGTH -> p.datagramEnd - p.tcpPayload;
      default -> word(b, p.tcpPayload, p.datagramEnd, index, f.wordSize);
    };
  }

  private static long udpField(Field f, int index, ByteBuffer b, Layout p) {
    int at = p.udp;
    return switch (f) {
      case UDP_SRC_PORT -> Bytes.u16(b, at);
      case UDP_DST_PORT -> Bytes.u16(b, at + 2);
      case UDP_LENGTH -> Bytes.u16(b, at + 4);
      case UDP_CHECKSUM -> Bytes.u16(b, at + 6);
      case UDP_PAYLOAD_LENGTH -> p.datagramEnd - at - 8;
      default -> word(b, at + 8, p.datagramEnd, index, f.wordSize);
    };
  }

  /**
   * A word of {@code size} bytes at an index from {@code from} (from {@code to} if negative), or
   * {@link Program#MISSING} outside those bounds.
   */
  private static long word(ByteBuffer b, int from, int to, int index, int size) {
    long at = index >= 0 ? (long) from + index : (long) to + index;
    if (at < from || at + size > to) {
      return Program.MISSING;
    }
    int i = (int) at;
    return switch (size) {
      case 1 -> b.get(i) & 0xff;
      case 2 -> Bytes.u16(b, i);
      default -> Bytes.u32(b, i);
    };
  }
}
