package org.divert4j.filter;

import java.nio.ByteBuffer;
import org.divert4j.Direction;

/**
 * The values of the fields that are not one plain header read ({@link Loads#SPECIAL}): flags and
 * lengths of the {@link Layout} or the {@link FilterContext}, and words at an index. One small
 * static method each, so that both {@link FastPath} and the bytecode {@link FilterCompiler} emits
 * call them and the JIT inlines them there. A value the packet lacks is {@link Program#MISSING}.
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
