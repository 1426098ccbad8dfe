package org.divert4j.filter;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.divert4j.Direction;
import org.divert4j.filter.ClassicBpf.Insn;

/**
 * The code generator of {@link ClassicBpf}: classic BPF instructions for one flat {@link Program},
 * with symbolic jump targets resolved by {@link #assemble}. The opcodes are those of
 * include/uapi/linux/filter.h and bpf_common.h; the scratch memory slots hold what the prologue
 * computes once (header length, transport kind, payload offset).
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

  private final Direction direction;
  private final boolean six;
  private final List<int[]> code = new ArrayList<>(); // {code, jtLabel, jfLabel, k}
  private final Map<Integer, Integer> labels = new HashMap<>();
  private int nextLabel = 1_000_000;

  BpfAssembler(Direction direction, boolean six) {
    this.direction = direction;
    this.six = six;
  }

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

  /** Computes, once, what the tests need: header length, which transport header, payload. */
  void prologue(Program p) {
    boolean needTcp = false;
    boolean needUdp = false;
    boolean needIcmp = false;
    boolean tcpPayload = false;
    for (int i = 0; i < p.n; i++) {
      for (Field f : new Field[] {p.lField[i], p.rField[i]}) {
        if (f == null) {
          continue;
        }
        int o = f.ordinal();
        needIcmp |= o >= Field.ICMP_TYPE.ordinal() && o <= Field.ICMP_BODY.ordinal();
        needTcp |= o >= Field.TCP_SRC_PORT.ordinal() && o <= Field.TCP_PAYLOAD32.ordinal();
        needUdp |= o >= Field.UDP_SRC_PORT.ordinal();
        tcpPayload |= o >= Field.TCP_PAYLOAD_LENGTH.ordinal() && o <= Field.TCP_PAYLOAD32.ordinal();
      }
    }
    if (!needTcp && !needUdp && !needIcmp) {
      return;
    }
    if (tcpPayload) {
      // the kernel's checker refuses a load of scratch memory that some path has not written
      // (check_load_and_stores in net/core/filter.c)
      emit(LD_IMM, 0);
      emit(ST, M_PAYLOAD);
    }
    emit(LDX_MSH, 0); // X = IP header length
    emit(STX, M_IHL);
    int none = newLabel();
    int done = newLabel();
    int tcp = newLabel();
    int udp = newLabel();
    int icmp = newLabel();
    int other = newLabel();
    emit(LD_H_ABS, 6);
    jump(JSET_K, 0x1fff, none, other); // a later fragment has no transport header (S7)
    label(other);
    emit(LD_B_ABS, 9);
    List<int[]> kinds = new ArrayList<>();
    if (needTcp) {
      kinds.add(new int[] {6, tcp});
    }
    if (needUdp) {
      kinds.add(new int[] {17, udp});
    }
    if (needIcmp) {
      kinds.add(new int[] {1, icmp});
    }
    for (int j = 0; j < kinds.size(); j++) {
      int next = j + 1 < kinds.size() ? newLabel() : none;
      jump(JEQ_K, kinds.get(j)[0], kinds.get(j)[1], next);
      if (next != none) {
        label(next);
      }
    }
    if (needTcp) {
      tcpBranch(tcp, none, done, tcpPayload);
    }
    if (needUdp) {
      shortBranch(udp, none, done, KIND_UDP);
    }
    if (needIcmp) {
      shortBranch(icmp, none, done, KIND_ICMP);
    }
    label(none);
    emit(LD_IMM, 0);
    label(done);
    emit(ST, M_KIND);
  }

  /** TCP is present when room >= 20 and 20 <= data offset <= room (as {@code Layout}). */
  private void tcpBranch(int tcp, int none, int done, boolean tcpPayload) {
    label(tcp);
    emit(LD_W_LEN, 0);
    emit(SUB_X, 0);
    int roomOk = newLabel();
    jump(JGE_K, 20, roomOk, none);
    label(roomOk);
    emit(ST, M_ROOM);
    emit(LD_B_IND, 12);
    emit(RSH_K, 2);
    emit(AND_K, 0x3c);
    int offOk = newLabel();
    jump(JGE_K, 20, offOk, none);
    label(offOk);
    emit(LDX_MEM, M_ROOM);
    int fits = newLabel();
    jump(JGT_X, 0, none, fits);
    label(fits);
    if (tcpPayload) {
      emit(LDX_MEM, M_IHL);
      emit(ADD_X, 0);
      emit(ST, M_PAYLOAD);
    }
    emit(LD_IMM, KIND_TCP);
    ja(done);
  }

  /** UDP and ICMP are present when 8 bytes of header fit. */
  private void shortBranch(int start, int none, int done, int kind) {
    label(start);
    emit(LD_W_LEN, 0);
    emit(SUB_X, 0);
    int ok = newLabel();
    jump(JGE_K, 8, ok, none);
    label(ok);
    emit(LD_IMM, kind);
    ja(done);
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
    if (!load(f, index, no)) {
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
      ja(r ? ok : no);
      return;
    }
    int mask = (int) ml;
    if (mask != -1) {
      emit(AND_K, mask);
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
      ja(Program.compare(op, false, 0, 0, true, hi & mh, lo & ml) ? ok : no);
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
      emit(LD_W_ABS, at + 4 * w);
      if (m != -1) {
        emit(AND_K, m);
      }
      int next = newLabel();
      if (op == Program.EQ) {
        jump(JEQ_K, k, next, no);
      } else if (op == Program.NE) {
        jump(JEQ_K, k, next, ok);
      } else {
        int unequal = newLabel();
        jump(JEQ_K, k, next, unequal);
        label(unequal);
        jump(JGT_K, k, greater ? ok : no, less ? ok : no);
      }
      label(next);
    }
    // every word equal
    boolean equalHolds = op == Program.EQ || op == Program.LE || op == Program.GE;
    ja(equalHolds ? ok : no);
  }

  private void compareK(int op, int k, int ok, int no) {
    switch (op) {
      case Program.EQ -> jump(JEQ_K, k, ok, no);
      case Program.NE -> jump(JEQ_K, k, no, ok);
      case Program.GT -> jump(JGT_K, k, ok, no);
      case Program.GE -> jump(JGE_K, k, ok, no);
      case Program.LT -> jump(JGE_K, k, no, ok);
      default -> jump(JGT_K, k, no, ok); // LE
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
    if (!load(lf, li, no)) {
      return;
    }
    emit(ST, M_LEFT);
    if (!load(rf, ri, no)) {
      return;
    }
    long lu = (upper(lf) << 32) & ml;
    long ru = (upper(rf) << 32) & ml;
    if (lu != ru) {
      ja(Program.compare(op, false, 0, lu, false, 0, ru) ? ok : no);
      return;
    }
    int mask = (int) ml;
    if (mask != -1) {
      emit(AND_K, mask);
    }
    emit(TAX, 0); // X = right
    emit(LD_MEM, M_LEFT);
    if (mask != -1) {
      emit(AND_K, mask);
    }
    switch (op) {
      case Program.EQ -> jump(JEQ_X, 0, ok, no);
      case Program.NE -> jump(JEQ_X, 0, no, ok);
      case Program.GT -> jump(JGT_X, 0, ok, no);
      case Program.GE -> jump(JGE_X, 0, ok, no);
      case Program.LT -> jump(JGE_X, 0, no, ok);
      default -> jump(JGT_X, 0, no, ok);
    }
  }

  /** Ends with A = 1 if the condition holds, else 0. */
  private void flag(int op, int k) {
    int one = newLabel();
    int zero = newLabel();
    int end = newLabel();
    jump(op, k, one, zero);
    label(zero);
    emit(LD_IMM, 0);
    ja(end);
    label(one);
    emit(LD_IMM, 1);
    label(end);
  }

  /**
   * Loads a field's low 32 bits into A, jumping to {@code missing} when the packet does not have
   * it.
   *
   * @return false if the field is never present in an IPv4 packet (a jump was emitted)
   */
  private boolean load(Field f, int index, int missing) {
    switch (f) {
      case ZERO, FALSE, IPV6, ICMPV6 -> emit(LD_IMM, 0);
      case TRUE, IP -> emit(LD_IMM, 1);
      case INBOUND -> emit(LD_IMM, direction == Direction.INBOUND ? 1 : 0);
      case OUTBOUND -> emit(LD_IMM, direction == Direction.OUTBOUND ? 1 : 0);
      case LOOPBACK -> {
        emit(LD_W_ABS, AD_IFINDEX);
        flag(JEQ_K, LOOPBACK_IFINDEX);
      }
      case IF_IDX -> emit(LD_W_ABS, AD_IFINDEX);
      case LENGTH -> emit(LD_W_LEN, 0);
      case FRAGMENT -> {
        emit(LD_H_ABS, 6);
        flag(JSET_K, 0x3fff);
      }
      case FLOW_PACKETS -> throw new IllegalArgumentException(ClassicBpf.FLOW_REFUSAL);
      case TCP -> protocolFlag(6);
      case UDP -> protocolFlag(17);
      case ICMP -> protocolFlag(1);
      case PACKET, PACKET16, PACKET32 -> word(f.wordSize, index, -1, 0, missing);
      case IP_HDR_LENGTH -> bits(LD_B_ABS, 0, 0, 0x0f);
      case IP_TOS -> emit(LD_B_ABS, 1);
      case IP_LENGTH -> emit(LD_H_ABS, 2);
      case IP_ID -> emit(LD_H_ABS, 4);
      case IP_DF -> bits(LD_B_ABS, 6, 6, 1);
      case IP_MF -> bits(LD_B_ABS, 6, 5, 1);
      case IP_FRAG_OFF -> bits(LD_H_ABS, 6, 0, 0x1fff);
      case IP_TTL -> emit(LD_B_ABS, 8);
      case IP_PROTOCOL -> emit(LD_B_ABS, 9);
      case IP_CHECKSUM -> emit(LD_H_ABS, 10);
      case IP_SRC_ADDR -> emit(LD_W_ABS, 12);
      case IP_DST_ADDR -> emit(LD_W_ABS, 16);
      case ICMP_TYPE -> transport(KIND_ICMP, LD_B_IND, 0, missing);
      case ICMP_CODE -> transport(KIND_ICMP, LD_B_IND, 1, missing);
      case ICMP_CHECKSUM -> transport(KIND_ICMP, LD_H_IND, 2, missing);
      case ICMP_BODY -> transport(KIND_ICMP, LD_W_IND, 4, missing);
      case TCP_SRC_PORT -> transport(KIND_TCP, LD_H_IND, 0, missing);
      case TCP_DST_PORT -> transport(KIND_TCP, LD_H_IND, 2, missing);
      case TCP_SEQ_NUM -> transport(KIND_TCP, LD_W_IND, 4, missing);
      case TCP_ACK_NUM -> transport(KIND_TCP, LD_W_IND, 8, missing);
      case TCP_HDR_LENGTH -> {
        transport(KIND_TCP, LD_B_IND, 12, missing);
        emit(RSH_K, 4);
      }
      case TCP_URG -> tcpFlag(5, missing);
      case TCP_ACK -> tcpFlag(4, missing);
      case TCP_PSH -> tcpFlag(3, missing);
      case TCP_RST -> tcpFlag(2, missing);
      case TCP_SYN -> tcpFlag(1, missing);
      case TCP_FIN -> tcpFlag(0, missing);
      case TCP_WINDOW -> transport(KIND_TCP, LD_H_IND, 14, missing);
      case TCP_CHECKSUM -> transport(KIND_TCP, LD_H_IND, 16, missing);
      case TCP_URG_PTR -> transport(KIND_TCP, LD_H_IND, 18, missing);
      case TCP_PAYLOAD_LENGTH -> {
        present(KIND_TCP, missing);
        emit(LDX_MEM, M_PAYLOAD);
        emit(LD_W_LEN, 0);
        emit(SUB_X, 0);
      }
      case TCP_PAYLOAD, TCP_PAYLOAD16, TCP_PAYLOAD32 -> {
        present(KIND_TCP, missing);
        word(f.wordSize, index, M_PAYLOAD, 0, missing);
      }
      case UDP_SRC_PORT -> transport(KIND_UDP, LD_H_IND, 0, missing);
      case UDP_DST_PORT -> transport(KIND_UDP, LD_H_IND, 2, missing);
      case UDP_LENGTH -> transport(KIND_UDP, LD_H_IND, 4, missing);
      case UDP_CHECKSUM -> transport(KIND_UDP, LD_H_IND, 6, missing);
      case UDP_PAYLOAD_LENGTH -> {
        present(KIND_UDP, missing);
        emit(LDX_MEM, M_IHL);
        emit(LD_W_LEN, 0);
        emit(SUB_X, 0);
        emit(SUB_K, 8);
      }
      case UDP_PAYLOAD, UDP_PAYLOAD16, UDP_PAYLOAD32 -> {
        present(KIND_UDP, missing);
        word(f.wordSize, index, M_IHL, 8, missing);
      }
      case IPV6_TRAFFIC_CLASS -> {
        if (!six) {
          ja(missing);
          return false;
        }
        bits(LD_H_ABS, 0, 4, 0xff);
      }
      case IPV6_FLOW_LABEL -> {
        if (!six) {
          ja(missing);
          return false;
        }
        bits(LD_W_ABS, 0, 0, 0xfffff);
      }
      case IPV6_LENGTH, IPV6_NEXT_HDR, IPV6_HOP_LIMIT -> {
        if (!six) {
          ja(missing);
          return false;
        }
        emit(
            f == Field.IPV6_LENGTH ? LD_H_ABS : LD_B_ABS,
            f == Field.IPV6_LENGTH ? 4 : f == Field.IPV6_NEXT_HDR ? 6 : 7);
      }
      default -> { // other IPv6 and ICMPv6 fields: never in an IPv4 packet
        ja(missing);
        return false;
      }
    }
    return true;
  }

  private void protocolFlag(int protocol) {
    emit(LD_B_ABS, 9);
    flag(JEQ_K, protocol);
  }

  private void bits(int load, int at, int shift, int mask) {
    emit(load, at);
    if (shift != 0) {
      emit(RSH_K, shift);
    }
    emit(AND_K, mask);
  }

  private void present(int kind, int missing) {
    emit(LD_MEM, M_KIND);
    int ok = newLabel();
    jump(JSET_K, kind, ok, missing);
    label(ok);
  }

  private void transport(int kind, int load, int at, int missing) {
    present(kind, missing);
    emit(LDX_MEM, M_IHL);
    emit(load, at);
  }

  private void tcpFlag(int bit, int missing) {
    transport(KIND_TCP, LD_B_IND, 13, missing);
    if (bit != 0) {
      emit(RSH_K, bit);
    }
    emit(AND_K, 1);
  }

  /**
   * A word of {@code size} bytes at a byte index from the start of a region (from the end if
   * negative); the region starts at the offset in scratch memory {@code startMem} plus {@code plus}
   * (or at 0 when {@code startMem} is -1) and ends at the packet's end.
   */
  private void word(int size, int index, int startMem, int plus, int missing) {
    // A = region length = len - start; X = start
    if (startMem < 0) {
      emit(LD_W_LEN, 0);
    } else {
      emit(LDX_MEM, startMem);
      emit(LD_W_LEN, 0);
      emit(SUB_X, 0);
      if (plus != 0) {
        emit(SUB_K, plus);
      }
    }
    int fits = newLabel();
    int need = index >= 0 ? index + size : -index;
    jump(JGE_K, need, fits, missing);
    label(fits);
    if (index >= 0) {
      if (startMem < 0) {
        emit(size == 1 ? LD_B_ABS : size == 2 ? LD_H_ABS : LD_W_ABS, index);
      } else {
        emit(size == 1 ? LD_B_IND : size == 2 ? LD_H_IND : LD_W_IND, plus + index);
      }
    } else {
      emit(LD_W_LEN, 0);
      emit(SUB_K, -index);
      emit(TAX, 0);
      emit(size == 1 ? LD_B_IND : size == 2 ? LD_H_IND : LD_W_IND, 0);
    }
  }
}
