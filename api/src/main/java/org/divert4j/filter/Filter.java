package org.divert4j.filter;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * A filter expression in WinDivert 2.x's language (SEMANTICS.md section M), parsed and compiled for
 * evaluation, e.g. {@code outbound and tcp.DstPort == 443 and tcp.PayloadLength > 0}.
 *
 * <p>Grammar, loosest binding first: {@code a ? b : c}; {@code or}/{@code ||}; {@code and}/{@code
 * &&}; {@code not}/{@code !}; parentheses; tests {@code FIELD}, {@code FIELD op VALUE} with op one
 * of {@code == = != < <= > >=}. Values are decimal or {@code 0x} numbers below 2^128 (optionally
 * negative), IPv4 and IPv6 addresses with an optional {@code /prefix} (for {@code ==} and {@code
 * !=}), fields, and WinDivert's macros {@code TRUE FALSE TCP UDP ICMP ICMPV6}. A bare field means
 * {@code FIELD != 0}. Field names are case-sensitive, as in WinDivert; {@code docs/filters.md}
 * lists them.
 *
 * <p>A test on a field the packet does not have ({@code tcp.*} on UDP, ports of a later fragment,
 * {@code ipv6.*} on IPv4, a payload byte past the end) is false, and {@code not} of it is true
 * (S65).
 *
 * <p>{@code flow.Packets} is the number of packets of the packet's connection seen so far, both
 * directions, this one included (S68); its value comes from {@link
 * FilterContext#flowPackets(long)}, and it is missing (S65) when the context does not know it.
 *
 * <p>Immutable and thread-safe; {@link #matches} allocates nothing and needs a {@link
 * FilterContext} per thread.
 */
public final class Filter {
  /** Longest filter text accepted, in characters. */
  public static final int MAX_LENGTH = 4096;

  /** Deepest nesting of parentheses, {@code not} and {@code ? :} accepted. */
  public static final int MAX_DEPTH = 64;

  /** Most tests (comparisons and bare fields) in one filter. */
  public static final int MAX_TESTS = 256;

  /** Largest byte index of {@code packet[i]} and the payload fields. */
  public static final int MAX_INDEX = 65535;

  private final Node root;
  private final String canonical;
  private final Program program;
  private final boolean usesFlow;

  private Filter(Node root) {
    this.root = root;
    this.canonical = root.toString();
    this.program = Program.compile(root);
    this.usesFlow = usesFlow(root);
  }

  /** A filter of an already checked tree (a part of a parsed filter). */
  static Filter of(Node root) {
    return new Filter(root);
  }

  /**
   * Parses a filter.
   *
   * @param text the filter, at most {@link #MAX_LENGTH} characters
   * @return the filter
   * @throws FilterSyntaxException with the 1-based position and what was expected there, for text
   *     that is not a filter, a field without a meaning here (named, with the reason), or a filter
   *     beyond {@link #MAX_DEPTH} or {@link #MAX_TESTS}
   */
  public static Filter parse(String text) {
    Objects.requireNonNull(text, "text");
    return new Filter(Parser.parse(text));
  }

  /**
   * Tests a packet. Allocates nothing; never throws for any packet content.
   *
   * @param packet an IPv4 or IPv6 packet from {@code position()} to {@code limit()}; not modified,
   *     position, limit and byte order unchanged. Other bytes match only tests that need no IP
   *     header ({@code inbound}, {@code length}, {@code packet[i]}, ...).
   * @param context the packet's direction, loopback flag and interface index; used as scratch
   *     space, so one context serves one thread at a time
   * @return true if the filter accepts the packet
   */
  public boolean matches(ByteBuffer packet, FilterContext context) {
    return program.matches(packet, context);
  }

  /**
   * @return the number of tests left after constant parts are folded (0 for a constant filter)
   */
  public int tests() {
    return program.tests();
  }

  /**
   * Whether the filter reads connection state, {@code flow.Packets} (S68): a backend without {@link
   * org.divert4j.Capability#FLOW_COUNT} refuses such a rule in {@code addRule}, and a backend with
   * it counts packets per connection only while such a rule is installed.
   *
   * @return true if a test of the filter names {@code flow.Packets}
   */
  public boolean usesFlow() {
    return usesFlow;
  }

  Node root() {
    return root;
  }

  static boolean usesFlow(Node n) {
    if (n instanceof Node.Not x) {
      return usesFlow(x.operand());
    } else if (n instanceof Node.And a) {
      return usesFlow(a.left()) || usesFlow(a.right());
    } else if (n instanceof Node.Or o) {
      return usesFlow(o.left()) || usesFlow(o.right());
    } else if (n instanceof Node.If i) {
      return usesFlow(i.condition()) || usesFlow(i.then()) || usesFlow(i.otherwise());
    }
    Node.Test t = (Node.Test) n;
    return isFlow(t.left()) || isFlow(t.right());
  }

  private static boolean isFlow(Node.Operand x) {
    return x instanceof Node.FieldRef f && f.field() == Field.FLOW_PACKETS;
  }

  /**
   * @return the canonical text: every operator spelled as a word, parentheses only where needed,
   *     numbers in decimal, addresses in their shortest form; {@link #parse} reads it back to an
   *     equal filter
   */
  @Override
  public String toString() {
    return canonical;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Filter f && f.canonical.equals(canonical);
  }

  @Override
  public int hashCode() {
    return canonical.hashCode();
  }
}
