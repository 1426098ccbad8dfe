package org.divert4j.filter;

import java.nio.ByteBuffer;

/**
 * The tests of a {@link Program} that compare a field with a literal of 0 or more, planned at
 * compile time so that evaluating one is a few array loads, one buffer read and a branch-free
 * comparison: the field's load from {@link Loads} with the test's masks folded in, and the verdict
 * for less, equal and greater as bits 0, 1 and 2 of one int. A field {@link Loads} does not
 * describe ({@code Loads.SPECIAL}) is computed by {@code Program.value}. Other tests (literal on
 * the left, field against field, negative literals) are not planned and go through {@code
 * Program.test}. Both give the same verdict for every packet (FilterTest, FilterPropertyTest).
 */
final class FastPath {
  private final boolean[] planned;
  private final int[] accept;
  private final int[] anchor;
  private final int[] offset;
  private final int[] width;
  private final int[] shift;
  private final long[] mask;
  private final long[] or;

  FastPath(int capacity) {
    planned = new boolean[capacity];
    accept = new int[capacity];
    anchor = new int[capacity];
    offset = new int[capacity];
    width = new int[capacity];
    shift = new int[capacity];
    mask = new long[capacity];
    or = new long[capacity];
  }

  /** Plans test {@code i} of {@code p} if it is a field against a literal of 0 or more. */
  void plan(Program p, int i) {
    Field f = p.lField[i];
    if (f == null || p.rField[i] != null || p.rNeg[i]) {
      return;
    }
    planned[i] = true;
    accept[i] = acceptBits(p.op[i]);
    int k = f.ordinal();
    anchor[i] = Loads.ANCHOR[k];
    offset[i] = Loads.OFFSET[k];
    width[i] = Loads.WIDTH[k];
    shift[i] = Loads.SHIFT[k];
    mask[i] = Loads.MASK[k] & p.maskLo[i];
    or[i] = Loads.OR[k] & p.maskLo[i];
  }

  boolean planned(int i) {
    return planned[i];
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

  /** The verdict of planned test {@code i}; a field the packet lacks is false (S65). */
  boolean test(Program p, int i, ByteBuffer b, Layout l, FilterContext c) {
    int a = anchor[i];
    long v;
    long hi = 0;
    if (a != Loads.SPECIAL) {
      int at = l.anchors[a];
      if (at < 0) {
        return false;
      }
      at += offset[i];
      switch (width[i]) {
        case 1 -> v = b.get(at) & 0xff;
        case 2 -> v = Bytes.u16(b, at);
        case 4 -> v = Bytes.u32(b, at);
        default -> { // the low half of an IPv6 address; the high half precedes it
          v = Bytes.u64(b, at);
          hi = Bytes.u64(b, at - 8) & p.maskHi[i];
        }
      }
      v = ((v >>> shift[i]) & mask[i]) | or[i];
    } else {
      v = Program.value(p.lField[i], p.lIndex[i], b, l, c);
      if (v == Program.MISSING) {
        return false;
      }
      v &= p.maskLo[i];
    }
    long rh = p.rHi[i];
    int r = hi == rh ? Long.compareUnsigned(v, p.rLo[i]) : Long.compareUnsigned(hi, rh);
    return ((accept[i] >>> (r + 1)) & 1) != 0;
  }
}
