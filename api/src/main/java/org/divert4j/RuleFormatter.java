package org.divert4j;

/**
 * Writes a {@link DivertRule}'s canonical text form, the one {@link DivertRule#toString()} returns
 * and {@link DivertRule#parse(String)} reads back to an equal rule: the chain, then only what the
 * rule narrows, in a fixed order, with iptables-style options ({@code -4}/{@code -6} only when no
 * address or protocol implies the family). Stateless and thread-safe; allocates the string.
 */
final class RuleFormatter {
  private RuleFormatter() {}

  /** The canonical text of a rule, e.g. {@code input -p udp --dport 53 -j DIVERT 1234}. */
  static String format(DivertRule r) {
    int protocol = r.protocol();
    IpFamily family = r.family().orElse(null);
    IpPrefix sourceNetwork = r.sourceNetwork().orElse(null);
    IpPrefix destinationNetwork = r.destinationNetwork().orElse(null);
    StringBuilder sb = new StringBuilder(r.chain().keyword());
    if (family != null && impliedFamily(sourceNetwork, destinationNetwork, protocol) == null) {
      sb.append(family == IpFamily.IPV6 ? " -6" : " -4");
    }
    if (protocol != DivertRule.ANY_PROTOCOL) {
      sb.append(" -p ")
          .append(
              switch (protocol) {
                case DivertRule.ICMP -> "icmp";
                case DivertRule.ICMPV6 -> "icmpv6";
                case DivertRule.TCP -> "tcp";
                case DivertRule.UDP -> "udp";
                default -> Integer.toString(protocol);
              });
    }
    if (sourceNetwork != null) {
      sb.append(" -s ").append(sourceNetwork);
    }
    if (destinationNetwork != null) {
      sb.append(" -d ").append(destinationNetwork);
    }
    appendRange(sb, " --sport ", r.sourcePortLow(), r.sourcePortHigh());
    appendRange(sb, " --dport ", r.destinationPortLow(), r.destinationPortHigh());
    if (r.icmpType() != DivertRule.ANY_ICMP_TYPE) {
      sb.append(protocol == DivertRule.ICMPV6 ? " --icmpv6-type " : " --icmp-type ")
          .append(r.icmpType());
    }
    if (r.inInterface() != null) {
      sb.append(" -i ").append(r.inInterface());
    }
    if (r.outInterface() != null) {
      sb.append(" -o ").append(r.outInterface());
    }
    if (r.filter() != null) {
      sb.append(" filter \"").append(r.filter()).append('"');
    }
    return sb.append(" -j DIVERT ").append(r.port()).toString();
  }

  /** The family a rule's addresses or protocol imply, or null when they imply none. */
  private static IpFamily impliedFamily(IpPrefix source, IpPrefix destination, int protocol) {
    if (source != null) {
      return source.family();
    }
    if (destination != null) {
      return destination.family();
    }
    return protocol == DivertRule.ICMP
        ? IpFamily.IPV4
        : protocol == DivertRule.ICMPV6 ? IpFamily.IPV6 : null;
  }

  private static void appendRange(StringBuilder sb, String option, int lo, int hi) {
    if (lo == 0 && hi == 65535) {
      return;
    }
    sb.append(option).append(lo);
    if (hi != lo) {
      sb.append(':').append(hi);
    }
  }
}
