package org.divert4j.filter;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.divert4j.filter.ClassicBpf.Insn;

/**
 * The instruction list of {@link ClassicBpf}'s code generator: classic BPF instructions for one
 * flat {@link Program}, with symbolic jump targets resolved by {@link #assemble}. The opcodes are
 * those of include/uapi/linux/filter.h and bpf_common.h; the scratch memory slots hold what the
 * prologue ({@link BpfFieldLoads#prologue}) computes once (header length, transport kind, payload
 * offset). {@link BpfFieldLoads} and {@link BpfComparisons} emit into it.
 */
final class BpfAssembler {
  static final int LD_B_ABS = 0x30;
  static final int LD_H_ABS = 0x28;
  static final int LD_W_ABS = 0x20;
  static final int LD_B_IND = 0x50;
  static final int LD_H_IND = 0x48;
  static final int LD_W_IND = 0x40;
  static final int LD_W_LEN = 0x80;
  static final int LD_IMM = 0x00;
  static final int LD_MEM = 0x60;
  static final int LDX_MEM = 0x61;
  static final int LDX_MSH = 0xb1;
  static final int ST = 0x02;
  static final int STX = 0x03;
  static final int ADD_K = 0x04;
  static final int SUB_K = 0x14;
  static final int AND_K = 0x54;
  static final int RSH_K = 0x74;
  static final int ADD_X = 0x0c;
  static final int SUB_X = 0x1c;
  static final int JA = 0x05;
  static final int JEQ_K = 0x15;
  static final int JGT_K = 0x25;
  static final int JGE_K = 0x35;
  static final int JSET_K = 0x45;
  static final int JEQ_X = 0x1d;
  static final int JGT_X = 0x2d;
  static final int JGE_X = 0x3d;
  static final int RET_K = 0x06;
  static final int TAX = 0x07;

  /** SKF_AD_OFF + SKF_AD_IFINDEX (include/uapi/linux/filter.h): skb->dev->ifindex. */
  static final int AD_IFINDEX = -0x1000 + 8;

  static final int LOOPBACK_IFINDEX = 1;

  // scratch memory
  static final int M_IHL = 0;
  static final int M_KIND = 1;
  static final int M_PAYLOAD = 2;
  static final int M_ROOM = 3;
  static final int M_LEFT = 4;

  // M_KIND values: which transport header is present (S65)
  static final int KIND_TCP = 1;
  static final int KIND_UDP = 2;
  static final int KIND_ICMP = 4;

  static final int ACCEPT = -1;
  static final int REJECT = -2;

  /** The label of a test's block, or of the ACCEPT and REJECT verdicts. */
  static int block(int i) {
    return i == ACCEPT ? 1 : i == REJECT ? 2 : 10 + i;
  }

  private final List<int[]> code = new ArrayList<>(); // {code, jtLabel, jfLabel, k}
  private final Map<Integer, Integer> labels = new HashMap<>();
  private int nextLabel = 1_000_000;

  int newLabel() {
    return nextLabel++;
  }

  void label(int l) {
    labels.put(l, code.size());
  }

  void emit(int op, int k) {
    code.add(new int[] {op, 0, 0, k});
  }

  void jump(int op, int k, int t, int f) {
    code.add(new int[] {op, t, f, k});
  }

  void ja(int target) {
    code.add(new int[] {JA, target, 0, 0});
  }

  List<Insn> assemble() {
    List<Insn> out = new ArrayList<>();
    for (int i = 0; i < code.size(); i++) {
      int[] c = code.get(i);
      if (c[0] == JA) {
        out.add(new Insn(JA, 0, 0, offset(i, c[1], Integer.MAX_VALUE)));
      } else if ((c[0] & 0x07) == 0x05) {
        out.add(new Insn(c[0], offset(i, c[1], 255), offset(i, c[2], 255), c[3]));
      } else {
        out.add(new Insn(c[0], 0, 0, c[3]));
      }
    }
    return out;
  }

  private int offset(int at, int label, int max) {
    Integer to = labels.get(label);
    if (to == null) {
      throw new IllegalStateException("unplaced label " + label);
    }
    int off = to - at - 1;
    if (off < 0) {
      throw new IllegalStateException("backward jump");
    }
    // a conditional jump beyond 255 only happens in programs far longer than any match holds
    return Math.min(off, max);
  }
}
