package org.divert4j.filter;

import java.util.ArrayList;
import java.util.List;
import org.divert4j.filter.Node.FieldRef;
import org.divert4j.filter.Node.Literal;
import org.divert4j.filter.Node.Op;

/**
 * A filter split into its {@code flow.Packets} part, a range of counts, and the rest, for a backend
 * that decides the two apart (the kernel: xt_connbytes for the count, BPF for the rest): the filter
 * accepts a packet exactly when the rest does and the packet's count is within {@code [min, max]}.
 *
 * <p>The split exists when every top-level {@code and} term that names {@code flow.Packets} is a
 * comparison of it with a number, under any number of {@code not}s, and no such comparison is
 * {@code !=} (or a negated {@code ==}), which is two ranges. Immutable.
 *
 * @param rest the terms without {@code flow.Packets}, joined by {@code and}; null when there are
 *     none (the filter is a range of counts only)
 * @param min the least count accepted, at least 1
 * @param max the greatest count accepted, {@link Long#MAX_VALUE} for no bound
 */
public record FlowRange(Filter rest, long min, long max) {

  /**
   * Splits a filter that uses {@code flow.Packets}.
   *
   * @param filter a filter for which {@link Filter#usesFlow()} is true
   * @return the range of counts and the rest
   * @throws IllegalArgumentException naming the term and why, if the count is not a top-level
   *     {@code and} term compared with a number, or is compared with {@code !=}, or the terms admit
   *     no count
   */
  public static FlowRange split(Filter filter) {
    if (!filter.usesFlow()) {
      throw new IllegalArgumentException("the filter '" + filter + "' does not use flow.Packets");
    }
    List<Node> terms = new ArrayList<>();
    conjuncts(filter.root(), terms);
    long min = 1;
    long max = Long.MAX_VALUE;
    Node rest = null;
    for (Node term : terms) {
      if (!Filter.usesFlow(term)) {
        rest = rest == null ? term : new Node.And(rest, term);
        continue;
      }
      boolean negated = false;
      Node n = term;
      while (n instanceof Node.Not x) {
        negated = !negated;
        n = x.operand();
      }
      if (!(n instanceof Node.Test t)) {
        throw refuse(term, "it is joined with other tests by 'or' or '? :'");
      }
      long[] r = range(t, negated, term);
      min = Math.max(min, r[0]);
      max = Math.min(max, r[1]);
    }
    if (min > max) {
      throw new IllegalArgumentException(
          "the flow.Packets terms of '" + filter + "' admit no count: the filter matches nothing");
    }
    return new FlowRange(rest == null ? null : Filter.of(rest), min, max);
  }

  /**
   * The iptables match that decides the range in the kernel: xt_connbytes on the packets of the
   * packet's conntrack entry, both directions summed ({@code connbytes_mt} in
   * net/netfilter/xt_connbytes.c matches {@code from <= count <= to}; its counters are u64).
   *
   * @return e.g. {@code -m connbytes --connbytes 1:6 --connbytes-mode packets --connbytes-dir both}
   */
  public String connbytesMatch() {
    return "-m connbytes --connbytes "
        + min
        + ':'
        + (max == Long.MAX_VALUE ? "18446744073709551615" : Long.toString(max))
        + " --connbytes-mode packets --connbytes-dir both";
  }

  private static long[] range(Node.Test t, boolean negated, Node term) {
    Op op = t.op() == null ? Op.NE : t.op();
    Node.Operand field = t.left();
    Node.Operand value = t.op() == null ? Literal.number(0) : t.right();
    if (!(field instanceof FieldRef)) {
      // a number on the left: 6 >= flow.Packets is flow.Packets <= 6
      Node.Operand swap = field;
      field = value;
      value = swap;
      op =
          switch (op) {
            case LT -> Op.GT;
            case LE -> Op.GE;
            case GT -> Op.LT;
            case GE -> Op.LE;
            default -> op;
          };
    }
    if (!(field instanceof FieldRef f)
        || f.field() != Field.FLOW_PACKETS
        || !(value instanceof Literal l)
        || l.kind() != Literal.Kind.NUMBER) {
      throw refuse(term, "flow.Packets is compared with something other than a number");
    }
    if (negated) {
      op =
          switch (op) {
            case EQ -> Op.NE;
            case NE -> Op.EQ;
            case LT -> Op.GE;
            case LE -> Op.GT;
            case GT -> Op.LE;
            case GE -> Op.LT;
          };
    }
    // the value, clamped to [-1, Long.MAX_VALUE]: counts are at least 1
    long v = l.negative() ? -1 : l.hi() != 0 || l.lo() < 0 ? Long.MAX_VALUE : l.lo();
    return switch (op) {
      case EQ -> new long[] {v, v};
      case LT -> new long[] {1, v - 1};
      case LE -> new long[] {1, v};
      case GT ->
          new long[] {v == Long.MAX_VALUE ? v : v + 1, v == Long.MAX_VALUE ? 0 : Long.MAX_VALUE};
      case GE -> new long[] {v, Long.MAX_VALUE};
      case NE -> {
        if (v < 1) {
          yield new long[] {1, Long.MAX_VALUE}; // every count
        }
        throw refuse(term, "'!=' (or a negated '==') is two ranges of counts; write '<' or '>'");
      }
    };
  }

  private static IllegalArgumentException refuse(Node term, String why) {
    return new IllegalArgumentException(
        "the term '"
            + term
            + "' cannot be decided by counting packets of the connection: "
            + why
            + "; flow.Packets must be compared with a number in a top-level 'and' term");
  }

  private static void conjuncts(Node n, List<Node> out) {
    if (n instanceof Node.And a) {
      conjuncts(a.left(), out);
      conjuncts(a.right(), out);
    } else {
      out.add(n);
    }
  }
}
