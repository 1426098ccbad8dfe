package org.divert4j.filter;

import static org.divert4j.filter.BpfAssembler.*;

import java.util.ArrayList;
import java.util.List;
import org.divert4j.Direction;

/**
 * Compiles a filter to classic BPF (the {@code struct sock_filter} programs of Linux's socket
 * filters and of iptables' {@code -m bpf --bytecode}) that decide it exactly for IPv4 packets whose
 * data starts at the IP header, as netfilter hooks see them.
 *
 * <p>What the programs assume of a packet, which the kernel guarantees before netfilter's hooks: a
 * valid IPv4 header (version 4, header length at least 20 and within the packet) and a packet
 * length equal to the IP total length ({@code ip_rcv_core} in net/ipv4/ip_input.c trims the packet
 * to it). {@code ifIdx} and {@code loopback} read the device's index with the ancillary load {@code
 * SKF_AD_IFINDEX}; loopback is index 1 ({@code LOOPBACK_IFINDEX} in include/net/flow.h). The
 * direction is fixed per rule: input and forward rules see inbound packets, output rules outbound
 * ones. IPv6 fields are absent from IPv4 packets (S65).
 *
 * <p>A program returns non-zero when the filter accepts the packet. A program longer than the limit
 * is split at the filter's top-level {@code and}s into several programs that must all accept; a
 * filter that cannot be split so is refused. Stateless.
 */
public final class ClassicBpf {
  /**
   * Instructions of one {@code -m bpf} match: {@code XT_BPF_MAX_NUM_INSTR} in
   * include/uapi/linux/netfilter/xt_bpf.h; {@code bpf_mt_check_bytecode} in net/netfilter/xt_bpf.c
   * refuses longer programs with EINVAL.
   */
  public static final int XT_BPF_MAX_NUM_INSTR = 64;

  /** One instruction, as {@code struct sock_filter} in include/uapi/linux/filter.h. */
  public record Insn(int code, int jt, int jf, int k) {
    @Override
    public String toString() {
      return code + " " + jt + " " + jf + " " + Integer.toUnsignedString(k);
    }
  }

  // include/uapi/linux/bpf_common.h and filter.h
  static final String FLOW_REFUSAL =
      "flow.Packets is connection state, not packet bytes: BPF cannot read it (S68)";

  private ClassicBpf() {}

  /**
   * Compiles a filter for IPv4 packets.
   *
   * @param filter the filter
   * @param direction the direction of the rule's packets (inbound for input and forward)
   * @param maxPerProgram the most instructions in one program, e.g. {@link #XT_BPF_MAX_NUM_INSTR}
   * @return programs that all accept exactly the packets the filter accepts; empty when the filter
   *     accepts every IPv4 packet
   * @throws IllegalArgumentException naming the limit, if a part of the filter that cannot be split
   *     needs more instructions than {@code maxPerProgram}; or if the filter uses {@code
   *     flow.Packets} ({@link Filter#usesFlow()}), which no packet's bytes hold: take it out first
   *     with {@link FlowRange#split}
   */
  public static List<List<Insn>> compileIpv4(
      Filter filter, Direction direction, int maxPerProgram) {
    return compile(filter, direction, maxPerProgram, false);
  }

  /**
   * Compiles a filter for IPv6 packets whose data starts at the fixed IPv6 header, as ip6tables'
   * xt_bpf sees them ({@code bpf_mt} runs the program on the skb from its network header; {@code
   * ip6_rcv_core} in net/ipv6/ip6_input.c has checked the version and trimmed the packet to 40 plus
   * the payload length). Only filters that need nothing past the fixed header compile: the {@code
   * ipv6.*} fields, {@code length}, {@code packet[i]}, {@code ifIdx}, {@code loopback}, the
   * direction, and the IPv4 and ICMP fields, which are absent from IPv6 packets (S65). A field of
   * the upper layer ({@code tcp}, {@code udp}, {@code icmpv6} and theirs) or {@code fragment} needs
   * the walk of the extension headers (S56), which a classic BPF program cannot do for a chain of
   * any length (no loops, {@code XT_BPF_MAX_NUM_INSTR} instructions), so such a filter is refused.
   *
   * @param filter the filter
   * @param direction the direction of the rule's packets (inbound for input and forward)
   * @param maxPerProgram the most instructions in one program, e.g. {@link #XT_BPF_MAX_NUM_INSTR}
   * @return programs that all accept exactly the IPv6 packets the filter accepts; empty when it
   *     accepts every IPv6 packet
   * @throws IllegalArgumentException naming the field, if the filter needs the upper layer or
   *     compares two IPv6 addresses; naming the limit as {@link #compileIpv4}
   */
  public static List<List<Insn>> compileIpv6(
      Filter filter, Direction direction, int maxPerProgram) {
    Field f = upperLayerField(filter.root());
    if (f != null) {
      throw new IllegalArgumentException(
          "the field '"
              + f.text
              + "' of an IPv6 packet needs the walk of its extension headers, which a classic"
              + " BPF program cannot do for a chain of any length; in ip6tables a filter may use"
              + " the ipv6.* fields, length, packet[i], ifIdx, loopback and the direction");
    }
    return compile(filter, direction, maxPerProgram, true);
  }

  /** The first field of the filter that needs the IPv6 upper layer, or null. */
  private static Field upperLayerField(Node n) {
    if (n instanceof Node.Not x) {
      return upperLayerField(x.operand());
    } else if (n instanceof Node.And a) {
      Field f = upperLayerField(a.left());
      return f != null ? f : upperLayerField(a.right());
    } else if (n instanceof Node.Or o) {
      Field f = upperLayerField(o.left());
      return f != null ? f : upperLayerField(o.right());
    } else if (n instanceof Node.If i) {
      Field f = upperLayerField(i.condition());
      f = f != null ? f : upperLayerField(i.then());
      return f != null ? f : upperLayerField(i.otherwise());
    }
    Node.Test t = (Node.Test) n;
    for (Node.Operand x : new Node.Operand[] {t.left(), t.right()}) {
      if (x instanceof Node.FieldRef r) {
        Field f = r.field();
        int o = f.ordinal();
        boolean upper =
            f == Field.FRAGMENT
                || f == Field.ICMPV6
                || f == Field.TCP
                || f == Field.UDP
                || o >= Field.ICMPV6_TYPE.ordinal();
        if (upper) {
          return f;
        }
      }
    }
    return null;
  }

  private static List<List<Insn>> compile(
      Filter filter, Direction direction, int maxPerProgram, boolean six) {
    if (filter.usesFlow()) {
      throw new IllegalArgumentException(FLOW_REFUSAL);
    }
    List<Node> parts = new ArrayList<>();
    List<List<Insn>> out = new ArrayList<>();
    Node root = specialize(filter.root(), direction, six);
    List<Insn> whole = compile(Program.compile(root), direction, six);
    if (whole == null) {
      return out; // accepts everything
    }
    if (whole.size() <= maxPerProgram) {
      out.add(whole);
      return out;
    }
    conjuncts(root, parts);
    for (Node part : parts) {
      List<Insn> p = compile(Program.compile(part), direction, six);
      if (p == null) {
        continue;
      }
      if (p.size() > maxPerProgram) {
        throw new IllegalArgumentException(
            "the filter part '"
                + part
                + "' needs "
                + p.size()
                + " BPF instructions; one match holds at most "
                + maxPerProgram
                + " (XT_BPF_MAX_NUM_INSTR); split it with 'and' or shorten it");
      }
      out.add(p);
    }
    return out;
  }

  /**
   * Replaces what is known of every IPv4 packet of one direction by constants, so that the compiler
   * folds it: {@code ip} is 1, {@code ipv6} and {@code icmpv6} are 0, the direction is the rule's,
   * and a test on an IPv6 or ICMPv6 field is false (S65).
   */
  static Node specialize(Node n, Direction direction) {
    return specialize(n, direction, false);
  }

  /** As {@link #specialize(Node, Direction)}, for IPv6 packets when {@code six}. */
  static Node specialize(Node n, Direction direction, boolean six) {
    if (n instanceof Node.Not x) {
      return new Node.Not(specialize(x.operand(), direction, six));
    } else if (n instanceof Node.And a) {
      return new Node.And(
          specialize(a.left(), direction, six), specialize(a.right(), direction, six));
    } else if (n instanceof Node.Or o) {
      return new Node.Or(
          specialize(o.left(), direction, six), specialize(o.right(), direction, six));
    } else if (n instanceof Node.If i) {
      return new Node.If(
          specialize(i.condition(), direction, six),
          specialize(i.then(), direction, six),
          specialize(i.otherwise(), direction, six));
    }
    Node.Test t = (Node.Test) n;
    if (absent(t.left(), six) || absent(t.right(), six)) {
      return new Node.Test(Node.Literal.number(0), Node.Op.NE, Node.Literal.number(0));
    }
    return new Node.Test(
        known(t.left(), direction, six),
        t.op(),
        t.right() == null ? null : known(t.right(), direction, six));
  }

  /** Whether the operand is a field the family's packets never have (S65). */
  private static boolean absent(Node.Operand x, boolean six) {
    if (!(x instanceof Node.FieldRef f)) {
      return false;
    }
    int o = f.field().ordinal();
    if (six) { // the IPv4 header and ICMP over IPv4
      return (o >= Field.IP_HDR_LENGTH.ordinal() && o <= Field.IP_DST_ADDR.ordinal())
          || (o >= Field.ICMP_TYPE.ordinal() && o <= Field.ICMP_BODY.ordinal());
    }
    return (o >= Field.IPV6_TRAFFIC_CLASS.ordinal() && o <= Field.IPV6_DST_ADDR.ordinal())
        || (o >= Field.ICMPV6_TYPE.ordinal() && o <= Field.ICMPV6_BODY.ordinal());
  }

  private static Node.Operand known(Node.Operand x, Direction direction, boolean six) {
    if (x instanceof Node.FieldRef f) {
      switch (f.field()) {
        case IP:
          return Node.Literal.number(six ? 0 : 1);
        case IPV6:
          return Node.Literal.number(six ? 1 : 0);
        case ICMP:
          return six ? Node.Literal.number(0) : x;
        case ICMPV6:
          return Node.Literal.number(0); // IPv6: refused before (it needs the walk)
        case INBOUND:
          return Node.Literal.number(direction == Direction.INBOUND ? 1 : 0);
        case OUTBOUND:
          return Node.Literal.number(direction == Direction.OUTBOUND ? 1 : 0);
        default:
          return x;
      }
    }
    return x;
  }

  private static void conjuncts(Node n, List<Node> out) {
    if (n instanceof Node.And a) {
      conjuncts(a.left(), out);
      conjuncts(a.right(), out);
    } else {
      out.add(n);
    }
  }

  /**
   * Formats programs as {@code iptables -m bpf --bytecode} takes them: {@code N,c t f k,...}.
   *
   * @param program one program
   * @return its text
   */
  public static String bytecode(List<Insn> program) {
    StringBuilder sb = new StringBuilder().append(program.size());
    for (Insn i : program) {
      sb.append(',').append(i);
    }
    return sb.toString();
  }

  /**
   * Lists a program as {@code tcpdump -d} does.
   *
   * @param program one program
   * @return one line per instruction
   */
  public static String listing(List<Insn> program) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < program.size(); i++) {
      Insn n = program.get(i);
      sb.append(String.format("(%03d) %-6s", i, mnemonic(n.code())));
      int k = n.k();
      switch (n.code()) {
        case LD_B_ABS, LD_H_ABS, LD_W_ABS -> sb.append(k == AD_IFINDEX ? "#ifidx" : "[" + k + "]");
        case LD_B_IND, LD_H_IND, LD_W_IND -> sb.append("[x + ").append(k).append(']');
        case LD_W_LEN -> sb.append("#pktlen");
        case LD_MEM, LDX_MEM, ST, STX -> sb.append("M[").append(k).append(']');
        case LDX_MSH -> sb.append("4*([").append(k).append("]&0xf)");
        case TAX -> sb.setLength(sb.length());
        case JA -> sb.append(i + 1 + k);
        case JEQ_X, JGT_X, JGE_X, ADD_X, SUB_X -> sb.append("x");
        default -> sb.append('#').append(Integer.toUnsignedString(k));
      }
      if ((n.code() & 0x07) == 0x05 && n.code() != JA) {
        sb.append(" jt ").append(i + 1 + n.jt()).append(" jf ").append(i + 1 + n.jf());
      }
      sb.append('\n');
    }
    return sb.toString();
  }

  private static String mnemonic(int code) {
    return switch (code) {
      case LD_B_ABS, LD_B_IND -> "ldb";
      case LD_H_ABS, LD_H_IND -> "ldh";
      case LD_W_ABS, LD_W_IND, LD_W_LEN, LD_MEM -> "ld";
      case LD_IMM -> "ld";
      case LDX_MEM, LDX_MSH -> "ldx" + (code == LDX_MSH ? "b" : "");
      case ST -> "st";
      case STX -> "stx";
      case ADD_K, ADD_X -> "add";
      case SUB_K, SUB_X -> "sub";
      case AND_K -> "and";
      case RSH_K -> "rsh";
      case JA -> "ja";
      case JEQ_K, JEQ_X -> "jeq";
      case JGT_K, JGT_X -> "jgt";
      case JGE_K, JGE_X -> "jge";
      case JSET_K -> "jset";
      case RET_K -> "ret";
      case TAX -> "tax";
      default -> "0x" + Integer.toHexString(code);
    };
  }

  /** Compiles one flat program; null if it accepts everything. */
  private static List<Insn> compile(Program p, Direction direction, boolean six) {
    if (p.start == ACCEPT) {
      return null;
    }
    BpfAssembler a = new BpfAssembler();
    if (p.start == REJECT) {
      a.emit(RET_K, 0);
      return a.assemble();
    }
    BpfFieldLoads loads = new BpfFieldLoads(a, direction, six);
    BpfComparisons tests = new BpfComparisons(a, loads, six);
    loads.prologue(p);
    for (int i = p.start; i >= 0; i--) {
      a.label(BpfAssembler.block(i));
      tests.test(p, i);
    }
    a.label(BpfAssembler.block(ACCEPT));
    a.emit(RET_K, 0xffff);
    a.label(BpfAssembler.block(REJECT));
    a.emit(RET_K, 0);
    return a.assemble();
  }
}
