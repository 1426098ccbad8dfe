package org.divert4j.filter;

import static org.divert4j.filter.BpfAssembler.*;

/**
 * One test of a flat {@link Program} as classic BPF: a field against a literal or another field,
 * under the test's mask, jumping to the test's success or failure block. Fields are loaded by
 * {@link BpfFieldLoads}; the code goes into a {@link BpfAssembler}.
 */
final class BpfComparisons {
  private final BpfAssembler asm;
  private final BpfFieldLoads loads;
  private final boolean six;

  BpfComparisons(BpfAssembler asm, BpfFieldLoads loads, boolean six) {
    this.asm = asm;
    this.loads = loads;
    this.six = six;
  }

  /** One test: jumps to its success or failure block. */
  void test(Program p, int i) {
    int ok = block(p.succ[i]);
    int no = block(p.fail[i]);
    int op = p.op[i];
    long mh = p.maskHi[i];
    long ml = p.maskLo[i];
    Field lf = p.lField[i];
    Field rf = p.rField[i];
    if (lf != null && rf == null) {
      fieldVsLiteral(lf, p.lIndex[i], op, p.rNeg[i], p.rHi[i], p.rLo[i], mh, ml, ok, no);
    } else if (lf == null && rf != null) {
      fieldVsLiteral(rf, p.rIndex[i], mirror(op), p.lNeg[i], p.lHi[i], p.lLo[i], mh, ml, ok, no);
    } else {
      fieldVsField(lf, p.lIndex[i], rf, p.rIndex[i], op, mh, ml, ok, no);
    }
  }

  private static int mirror(int op) {
    return switch (op) {
      case Program.LT -> Program.GT;
      case Program.LE -> Program.GE;
      case Program.GT -> Program.LT;
      case Program.GE -> Program.LE;
      default -> op;
    };
  }

  /** The value's bits above the low 32: 0xffff for IPv4 addresses (::ffff:a.b.c.d), else 0. */
  private static long upper(Field f) {
    return f == Field.IP_SRC_ADDR || f == Field.IP_DST_ADDR ? 0xffffL : 0;
  }

  private void fieldVsLiteral(
      Field f, int index, int op, boolean neg, long hi, long lo, long mh, long ml, int ok, int no) {
    if (f == Field.IPV6_SRC_ADDR || f == Field.IPV6_DST_ADDR) {
      address6(f == Field.IPV6_SRC_ADDR ? 8 : 24, op, neg, hi, lo, mh, ml, ok, no);
      return;
    }
    if (!loads.load(f, index, no)) {
      return; // never present: the test is false
    }
    long fieldUpperHi = 0;
    long fieldUpperLo = upper(f) << 32;
    long litUpperHi = hi & mh;
    long litUpperLo = lo & ml & 0xffff_ffff_0000_0000L;
    if (neg || litUpperHi != 0 || litUpperLo != (fieldUpperLo & ml)) {
      // decided by the sign or the upper bits alone, once the field is present
      boolean r =
          Program.compare(
              op, false, fieldUpperHi & mh, fieldUpperLo & ml, neg, litUpperHi, litUpperLo);
      asm.ja(r ? ok : no);
      return;
    }
    int mask = (int) ml;
    if (mask != -1) {
      asm.emit(AND_K, mask);
    }
    compareK(op, (int) (lo & ml), ok, no);
  }

  /**
   * An IPv6 address (four words from {@code at}) against a literal, word by word from the most
   * significant, each under its part of the mask: equal words go on to the next, the first unequal
   * one decides.
   */
  private void address6(
      int at, int op, boolean neg, long hi, long lo, long mh, long ml, int ok, int no) {
    if (neg) { // an address is never negative: decided by the sign
      asm.ja(Program.compare(op, false, 0, 0, true, hi & mh, lo & ml) ? ok : no);
      return;
    }
    long[] lit = {hi >>> 32, hi, lo >>> 32, lo};
    long[] mask = {mh >>> 32, mh, ml >>> 32, ml};
    boolean less = op == Program.LT || op == Program.LE;
    boolean greater = op == Program.GT || op == Program.GE;
    for (int w = 0; w < 4; w++) {
      int m = (int) mask[w];
      if (m == 0) {
        continue; // masked away: equal
      }
      int k = (int) lit[w] & m;
      asm.emit(LD_W_ABS, at + 4 * w);
      if (m != -1) {
        asm.emit(AND_K, m);
      }
      int next = asm.newLabel();
      if (op == Program.EQ) {
        asm.jump(JEQ_K, k, next, no);
      } else if (op == Program.NE) {
        asm.jump(JEQ_K, k, next, ok);
      } else {
        int unequal = asm.newLabel();
        asm.jump(JEQ_K, k, next, unequal);
        asm.label(unequal);
        asm.jump(JGT_K, k, greater ? ok : no, less ? ok : no);
      }
      asm.label(next);
    }
    // every word equal
    boolean equalHolds = op == Program.EQ || op == Program.LE || op == Program.GE;
    asm.ja(equalHolds ? ok : no);
  }

  private void compareK(int op, int k, int ok, int no) {
    switch (op) {
      case Program.EQ -> asm.jump(JEQ_K, k, ok, no);
      case Program.NE -> asm.jump(JEQ_K, k, no, ok);
      case Program.GT -> asm.jump(JGT_K, k, ok, no);
      case Program.GE -> asm.jump(JGE_K, k, ok, no);
      case Program.LT -> asm.jump(JGE_K, k, no, ok);
      default -> asm.jump(JGT_K, k, no, ok); // LE
    }
  }

  private void fieldVsField(
      Field lf, int li, Field rf, int ri, int op, long mh, long ml, int ok, int no) {
    if (six
        && (lf == Field.IPV6_SRC_ADDR
            || lf == Field.IPV6_DST_ADDR
            || rf == Field.IPV6_SRC_ADDR
            || rf == Field.IPV6_DST_ADDR)) {
      throw new IllegalArgumentException(
          "comparing an IPv6 address field with another field is not compiled to classic BPF;"
              + " compare it with an address or a prefix");
    }
    if (!loads.load(lf, li, no)) {
      return;
    }
    asm.emit(ST, M_LEFT);
    if (!loads.load(rf, ri, no)) {
      return;
    }
    long lu = (upper(lf) << 32) & ml;
    long ru = (upper(rf) << 32) & ml;
    if (lu != ru) {
      asm.ja(Program.compare(op, false, 0, lu, false, 0, ru) ? ok : no);
      return;
    }
    int mask = (int) ml;
    if (mask != -1) {
      asm.emit(AND_K, mask);
    }
    asm.emit(TAX, 0); // X = right
    asm.emit(LD_MEM, M_LEFT);
    if (mask != -1) {
      asm.emit(AND_K, mask);
    }
    switch (op) {
      case Program.EQ -> asm.jump(JEQ_X, 0, ok, no);
      case Program.NE -> asm.jump(JEQ_X, 0, no, ok);
      case Program.GT -> asm.jump(JGT_X, 0, ok, no);
      case Program.GE -> asm.jump(JGE_X, 0, ok, no);
      case Program.LT -> asm.jump(JGE_X, 0, no, ok);
      default -> asm.jump(JGT_X, 0, no, ok);
    }
  }
}
