package org.divert4j.filter;

import static org.divert4j.filter.BpfAssembler.*;

import java.util.ArrayList;
import java.util.List;
import org.divert4j.Direction;

/**
 * Where a filter's fields are in an IPv4 packet, as classic BPF: the prologue that computes once
 * what the tests need (header length, which transport header is present, where the TCP payload
 * starts) into the scratch memory slots, and the loads of each field's low 32 bits into A, which
 * jump away when the packet does not have the field (S65). Emits into a {@link BpfAssembler}.
 */
final class BpfFieldLoads {
  private final BpfAssembler asm;
  private final Direction direction;
  private final boolean six;

  BpfFieldLoads(BpfAssembler asm, Direction direction, boolean six) {
    this.asm = asm;
    this.direction = direction;
    this.six = six;
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
      asm.emit(LD_IMM, 0);
      asm.emit(ST, M_PAYLOAD);
    }
    asm.emit(LDX_MSH, 0); // X = IP header length
    asm.emit(STX, M_IHL);
    int none = asm.newLabel();
    int done = asm.newLabel();
    int tcp = asm.newLabel();
    int udp = asm.newLabel();
    int icmp = asm.newLabel();
    int other = asm.newLabel();
    asm.emit(LD_H_ABS, 6);
    asm.jump(JSET_K, 0x1fff, none, other); // a later fragment has no transport header (S7)
    asm.label(other);
    asm.emit(LD_B_ABS, 9);
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
      int next = j + 1 < kinds.size() ? asm.newLabel() : none;
      asm.jump(JEQ_K, kinds.get(j)[0], kinds.get(j)[1], next);
      if (next != none) {
        asm.label(next);
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
    asm.label(none);
    asm.emit(LD_IMM, 0);
    asm.label(done);
    asm.emit(ST, M_KIND);
  }

  /** TCP is present when room >= 20 and 20 <= data offset <= room (as {@code Layout}). */
  private void tcpBranch(int tcp, int none, int done, boolean tcpPayload) {
    asm.label(tcp);
    asm.emit(LD_W_LEN, 0);
    asm.emit(SUB_X, 0);
    int roomOk = asm.newLabel();
    asm.jump(JGE_K, 20, roomOk, none);
    asm.label(roomOk);
    asm.emit(ST, M_ROOM);
    asm.emit(LD_B_IND, 12);
    asm.emit(RSH_K, 2);
    asm.emit(AND_K, 0x3c);
    int offOk = asm.newLabel();
    asm.jump(JGE_K, 20, offOk, none);
    asm.label(offOk);
    asm.emit(LDX_MEM, M_ROOM);
    int fits = asm.newLabel();
    asm.jump(JGT_X, 0, none, fits);
    asm.label(fits);
    if (tcpPayload) {
      asm.emit(LDX_MEM, M_IHL);
      asm.emit(ADD_X, 0);
      asm.emit(ST, M_PAYLOAD);
    }
    asm.emit(LD_IMM, KIND_TCP);
    asm.ja(done);
  }

  /** UDP and ICMP are present when 8 bytes of header fit. */
  private void shortBranch(int start, int none, int done, int kind) {
    asm.label(start);
    asm.emit(LD_W_LEN, 0);
    asm.emit(SUB_X, 0);
    int ok = asm.newLabel();
    asm.jump(JGE_K, 8, ok, none);
    asm.label(ok);
    asm.emit(LD_IMM, kind);
    asm.ja(done);
  }

  /** Ends with A = 1 if the condition holds, else 0. */
  private void flag(int op, int k) {
    int one = asm.newLabel();
    int zero = asm.newLabel();
    int end = asm.newLabel();
    asm.jump(op, k, one, zero);
    asm.label(zero);
    asm.emit(LD_IMM, 0);
    asm.ja(end);
    asm.label(one);
    asm.emit(LD_IMM, 1);
    asm.label(end);
  }

  /**
   * Loads a field's low 32 bits into A, jumping to {@code missing} when the packet does not have
   * it.
   *
   * @return false if the field is never present in an IPv4 packet (a jump was emitted)
   */
  boolean load(Field f, int index, int missing) {
    switch (f) {
      case ZERO, FALSE, IPV6, ICMPV6 -> asm.emit(LD_IMM, 0);
      case TRUE, IP -> asm.emit(LD_IMM, 1);
      case INBOUND -> asm.emit(LD_IMM, direction == Direction.INBOUND ? 1 : 0);
      case OUTBOUND -> asm.emit(LD_IMM, direction == Direction.OUTBOUND ? 1 : 0);
      case LOOPBACK -> {
        asm.emit(LD_W_ABS, AD_IFINDEX);
        flag(JEQ_K, LOOPBACK_IFINDEX);
      }
      case IF_IDX -> asm.emit(LD_W_ABS, AD_IFINDEX);
      case LENGTH -> asm.emit(LD_W_LEN, 0);
      case FRAGMENT -> {
        asm.emit(LD_H_ABS, 6);
        flag(JSET_K, 0x3fff);
      }
      case FLOW_PACKETS -> throw new IllegalArgumentException(ClassicBpf.FLOW_REFUSAL);
      case TCP -> protocolFlag(6);
      case UDP -> protocolFlag(17);
      case ICMP -> protocolFlag(1);
      case PACKET, PACKET16, PACKET32 -> word(f.wordSize, index, -1, 0, missing);
      case IP_HDR_LENGTH -> bits(LD_B_ABS, 0, 0, 0x0f);
      case IP_TOS -> asm.emit(LD_B_ABS, 1);
      case IP_LENGTH -> asm.emit(LD_H_ABS, 2);
      case IP_ID -> asm.emit(LD_H_ABS, 4);
      case IP_DF -> bits(LD_B_ABS, 6, 6, 1);
      case IP_MF -> bits(LD_B_ABS, 6, 5, 1);
      case IP_FRAG_OFF -> bits(LD_H_ABS, 6, 0, 0x1fff);
      case IP_TTL -> asm.emit(LD_B_ABS, 8);
      case IP_PROTOCOL -> asm.emit(LD_B_ABS, 9);
      case IP_CHECKSUM -> asm.emit(LD_H_ABS, 10);
      case IP_SRC_ADDR -> asm.emit(LD_W_ABS, 12);
      case IP_DST_ADDR -> asm.emit(LD_W_ABS, 16);
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
        asm.emit(RSH_K, 4);
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
        asm.emit(LDX_MEM, M_PAYLOAD);
        asm.emit(LD_W_LEN, 0);
        asm.emit(SUB_X, 0);
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
        asm.emit(LDX_MEM, M_IHL);
        asm.emit(LD_W_LEN, 0);
        asm.emit(SUB_X, 0);
        asm.emit(SUB_K, 8);
      }
      case UDP_PAYLOAD, UDP_PAYLOAD16, UDP_PAYLOAD32 -> {
        present(KIND_UDP, missing);
        word(f.wordSize, index, M_IHL, 8, missing);
      }
      case IPV6_TRAFFIC_CLASS -> {
        if (!six) {
          asm.ja(missing);
          return false;
        }
        bits(LD_H_ABS, 0, 4, 0xff);
      }
      case IPV6_FLOW_LABEL -> {
        if (!six) {
          asm.ja(missing);
          return false;
        }
        bits(LD_W_ABS, 0, 0, 0xfffff);
      }
      case IPV6_LENGTH, IPV6_NEXT_HDR, IPV6_HOP_LIMIT -> {
        if (!six) {
          asm.ja(missing);
          return false;
        }
        asm.emit(
            f == Field.IPV6_LENGTH ? LD_H_ABS : LD_B_ABS,
            f == Field.IPV6_LENGTH ? 4 : f == Field.IPV6_NEXT_HDR ? 6 : 7);
      }
      default -> { // other IPv6 and ICMPv6 fields: never in an IPv4 packet
        asm.ja(missing);
        return false;
      }
    }
    return true;
  }

  private void protocolFlag(int protocol) {
    asm.emit(LD_B_ABS, 9);
    flag(JEQ_K, protocol);
  }

  private void bits(int load, int at, int shift, int mask) {
    asm.emit(load, at);
    if (shift != 0) {
      asm.emit(RSH_K, shift);
    }
    asm.emit(AND_K, mask);
  }

  private void present(int kind, int missing) {
    asm.emit(LD_MEM, M_KIND);
    int ok = asm.newLabel();
    asm.jump(JSET_K, kind, ok, missing);
    asm.label(ok);
  }

  private void transport(int kind, int load, int at, int missing) {
    present(kind, missing);
    asm.emit(LDX_MEM, M_IHL);
    asm.emit(load, at);
  }

  private void tcpFlag(int bit, int missing) {
    transport(KIND_TCP, LD_B_IND, 13, missing);
    if (bit != 0) {
      asm.emit(RSH_K, bit);
    }
    asm.emit(AND_K, 1);
  }

  /**
   * A word of {@code size} bytes at a byte index from the start of a region (from the end if
   * negative); the region starts at the offset in scratch memory {@code startMem} plus {@code plus}
   * (or at 0 when {@code startMem} is -1) and ends at the packet's end.
   */
  private void word(int size, int index, int startMem, int plus, int missing) {
    // A = region length = len - start; X = start
    if (startMem < 0) {
      asm.emit(LD_W_LEN, 0);
    } else {
      asm.emit(LDX_MEM, startMem);
      asm.emit(LD_W_LEN, 0);
      asm.emit(SUB_X, 0);
      if (plus != 0) {
        asm.emit(SUB_K, plus);
      }
    }
    int fits = asm.newLabel();
    int need = index >= 0 ? index + size : -index;
    asm.jump(JGE_K, need, fits, missing);
    asm.label(fits);
    if (index >= 0) {
      if (startMem < 0) {
        asm.emit(size == 1 ? LD_B_ABS : size == 2 ? LD_H_ABS : LD_W_ABS, index);
      } else {
        asm.emit(size == 1 ? LD_B_IND : size == 2 ? LD_H_IND : LD_W_IND, plus + index);
      }
    } else {
      asm.emit(LD_W_LEN, 0);
      asm.emit(SUB_K, -index);
      asm.emit(TAX, 0);
      asm.emit(size == 1 ? LD_B_IND : size == 2 ? LD_H_IND : LD_W_IND, 0);
    }
  }
}
