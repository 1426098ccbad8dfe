package org.divert4j.filter;

import java.nio.ByteBuffer;

/**
 * The tests of a {@link Program} that compare a field with a literal of 0 or more, planned at
 * compile time so that evaluating one is a few array loads, one buffer read and a branch-free
 * comparison: the field's load from {@link Loads} with the test's masks folded in, and the verdict
 * for less, equal and greater as bits 0, 1 and 2 of one int. A field {@link Loads} does not
 * describe ({@code Loads.SPECIAL}) is computed by {@code Values.value}. Other tests (literal on the
 * left, field against field, negative literals) are not planned and go through {@code
 * Program.test}. Both give the same verdict for every packet (FilterTest, FilterPropertyTest).
 */
final class FastPath {
  // What a planned test reads. LOAD: a plain header field from Loads; the others are the fields
  // whose value is a flag or a length of the layout or the context, or a word at an index.
  static final int SLOW = 0; // not planned: Program.test decides
  static final int LOAD = 1;
  static final int INBOUND = 2;
  static final int OUTBOUND = 3;
  static final int LOOPBACK = 4;
  static final int IF_IDX = 5;
  static final int LENGTH = 6;
  static final int FRAGMENT = 7;
  static final int IP = 8;
  static final int IPV6 = 9;
  static final int ICMP = 10;
  static final int ICMPV6 = 11;
  static final int TCP = 12;
  static final int UDP = 13;
  static final int TCP_PAYLOAD_LENGTH = 14;
  static final int UDP_PAYLOAD_LENGTH = 15;
  static final int PACKET_WORD = 16;
  static final int TCP_WORD = 17;
  static final int UDP_WORD = 18;
  static final int OTHER = 19; // Values.value

  // One record per test, so that a test touches two arrays: ints (kind, anchor, offset, width,
  // shift, accept bits, word index) and longs (mask, bits to set, literal low and high, high mask).
  static final int IS = 8;
  static final int LS = 5;
  final int[] ints;
  final long[] longs;

  FastPath(int capacity) {
    ints = new int[capacity * IS];
    longs = new long[capacity * LS];
  }

  /** Plans test {@code i} of {@code p} if it is a field against a literal of 0 or more. */
  void plan(Program p, int i) {
    Field f = p.lField[i];
    if (f == null || p.rField[i] != null || p.rNeg[i]) {
      return;
    }
    int k = f.ordinal();
    int x = i * IS;
    int y = i * LS;
    ints[x] = Loads.ANCHOR[k] != Loads.SPECIAL ? LOAD : kind(f);
    ints[x + 1] = Loads.ANCHOR[k];
    ints[x + 2] = Loads.OFFSET[k];
    ints[x + 3] = Loads.WIDTH[k];
    ints[x + 4] = Loads.SHIFT[k];
    ints[x + 5] = acceptBits(p.op[i]);
    ints[x + 6] = p.lIndex[i];
    ints[x + 7] = f.wordSize;
    longs[y] = ints[x] == LOAD ? Loads.MASK[k] & p.maskLo[i] : p.maskLo[i];
    longs[y + 1] = Loads.OR[k] & p.maskLo[i];
    longs[y + 2] = p.rLo[i];
    longs[y + 3] = p.rHi[i];
    longs[y + 4] = p.maskHi[i];
  }

  private static int kind(Field f) {
    return switch (f) {
      case INBOUND -> INBOUND;
      case OUTBOUND -> OUTBOUND;
      case LOOPBACK -> LOOPBACK;
      case IF_IDX -> IF_IDX;
      case LENGTH -> LENGTH;
      case FRAGMENT -> FRAGMENT;
      case IP -> IP;
      case IPV6 -> IPV6;
      case ICMP -> ICMP;
      case ICMPV6 -> ICMPV6;
      case TCP -> TCP;
      case UDP -> UDP;
      case TCP_PAYLOAD_LENGTH -> TCP_PAYLOAD_LENGTH;
      case UDP_PAYLOAD_LENGTH -> UDP_PAYLOAD_LENGTH;
      case PACKET, PACKET16, PACKET32 -> PACKET_WORD;
      case TCP_PAYLOAD, TCP_PAYLOAD16, TCP_PAYLOAD32 -> TCP_WORD;
      case UDP_PAYLOAD, UDP_PAYLOAD16, UDP_PAYLOAD32 -> UDP_WORD;
      default -> OTHER;
    };
  }

  /** Bits 0, 1, 2: the verdict of an operator when the left side is less, equal, greater. */
  private static int acceptBits(int op) {
    return switch (op) {
      case Program.EQ -> 0b010;
      case Program.NE -> 0b101;
      case Program.LT -> 0b001;
      case Program.LE -> 0b011;
      case Program.GT -> 0b100;
      default -> 0b110; // GE
    };
  }

  /**
   * The verdict of test {@code i}; a field the packet lacks is false (S65). Each value is the one
   * {@code Values.value} gives.
   */
  boolean test(Program p, int i, ByteBuffer b, Layout l, FilterContext c) {
    // Kept under the JIT's inlining limit (FreqInlineSize, 325 bytecodes), so that the common
    // case, a header field of at most 32 bits, runs inside Program.matches' loop without a call.
    int x = i * IS;
    int y = i * LS;
    int kind = ints[x];
    long v;
    if (kind == LOAD) {
      int at = l.anchors[ints[x + 1]];
      if (at < 0) {
        return false;
      }
      at += ints[x + 2];
      int w = ints[x + 3];
      if (w == 2) {
        v = Bytes.u16(b, at);
      } else if (w == 1) {
        v = b.get(at) & 0xff;
      } else if (w == 4) {
        v = Bytes.u32(b, at);
      } else {
        return address(p, i, b, at);
      }
      v = ((v >>> ints[x + 4]) & longs[y]) | longs[y + 1];
    } else if (kind == SLOW) {
      return p.test(i, b, l, c);
    } else {
      v = other(p, i, kind, b, l, c);
      if (v == Program.MISSING) {
        return false;
      }
      v &= longs[y];
    }
    // only IPv6 addresses have high 64 bits; v's are 0, below a literal whose high half is not
    int r = longs[y + 3] == 0 ? Long.compareUnsigned(v, longs[y + 2]) : -1;
    return ((ints[x + 5] >>> (r + 1)) & 1) != 0;
  }

  /** An IPv6 address at {@code at} (its low half; the high half precedes it). */
  private boolean address(Program p, int i, ByteBuffer b, int at) {
    int x = i * IS;
    int y = i * LS;
    long v = Bytes.u64(b, at) & longs[y];
    long hi = Bytes.u64(b, at - 8) & longs[y + 4];
    long rh = longs[y + 3];
    int r = hi == rh ? Long.compareUnsigned(v, longs[y + 2]) : Long.compareUnsigned(hi, rh);
    return ((ints[x + 5] >>> (r + 1)) & 1) != 0;
  }

  /** The value of a field that is not a plain header field, or {@code Program.MISSING}. */
  private long other(Program p, int i, int kind, ByteBuffer b, Layout l, FilterContext c) {
    int x = i * IS;
    return switch (kind) {
      case INBOUND -> Values.inbound(c);
      case OUTBOUND -> Values.outbound(c);
      case LOOPBACK -> Values.loopback(c);
      case IF_IDX -> Values.ifIdx(c);
      case LENGTH -> Values.length(l);
      case FRAGMENT -> Values.fragment(l);
      case IP -> Values.ip(l);
      case IPV6 -> Values.ipv6(l);
      case ICMP -> Values.icmp(l);
      case ICMPV6 -> Values.icmpv6(l);
      case TCP -> Values.tcp(l);
      case UDP -> Values.udp(l);
      case TCP_PAYLOAD_LENGTH -> Values.tcpPayloadLength(l);
      case UDP_PAYLOAD_LENGTH -> Values.udpPayloadLength(l);
      case PACKET_WORD -> Values.packetWord(b, l, ints[x + 6], ints[x + 7]);
      case TCP_WORD -> Values.tcpWord(b, l, ints[x + 6], ints[x + 7]);
      case UDP_WORD -> Values.udpWord(b, l, ints[x + 6], ints[x + 7]);
      default -> Values.value(p.lField[i], p.lIndex[i], b, l, c);
    };
  }
}
