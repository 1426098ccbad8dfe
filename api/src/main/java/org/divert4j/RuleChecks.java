package org.divert4j;

import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * Checks the values a {@link DivertRule.Builder} is given, and the family a finished rule matches
 * (S54: one rule never mixes the families). Errors are {@link IllegalArgumentException}s whose
 * message names what disagrees. Stateless and thread-safe.
 */
final class RuleChecks {
  private RuleChecks() {}

  /**
   * S54: the one family the rule's family option, networks and protocol agree on.
   *
   * @param family the family asked for with {@code -4}/{@code -6}, or null
   * @param sourceNetwork the source network, or null
   * @param destinationNetwork the destination network, or null
   * @param protocol the protocol number, or {@link DivertRule#ANY_PROTOCOL}
   * @return the family, or null when the rule matches both
   * @throws IllegalArgumentException naming the two that disagree
   */
  static IpFamily family(
      IpFamily family, IpPrefix sourceNetwork, IpPrefix destinationNetwork, int protocol) {
    IpFamily f = family;
    String why = f == null ? null : (f == IpFamily.IPV6 ? "-6" : "-4");
    for (IpPrefix n : new IpPrefix[] {sourceNetwork, destinationNetwork}) {
      if (n == null) {
        continue;
      }
      if (f != null && n.family() != f) {
        throw new IllegalArgumentException(
            "a rule never mixes families: " + n + " is " + n.family() + " but " + why + " is " + f);
      }
      f = n.family();
      why = n.toString();
    }
    IpFamily byProtocol =
        protocol == DivertRule.ICMP
            ? IpFamily.IPV4
            : protocol == DivertRule.ICMPV6 ? IpFamily.IPV6 : null;
    if (byProtocol != null && f != null && byProtocol != f) {
      throw new IllegalArgumentException(
          "a rule never mixes families: protocol "
              + (protocol == DivertRule.ICMP ? "icmp" : "icmpv6")
              + " is "
              + byProtocol
              + " only but "
              + why
              + " is "
              + f);
    }
    return f != null ? f : byProtocol;
  }

  /**
   * @return the prefix with the address bits past its length cleared
   */
  static IpPrefix masked(IpPrefix p) {
    byte[] b = p.address().getAddress();
    for (int bit = p.length(); bit < b.length * 8; bit++) {
      b[bit >>> 3] &= (byte) ~(0x80 >>> (bit & 7));
    }
    try {
      return new IpPrefix(InetAddress.getByAddress(b), p.length());
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  static void checkPrefix(int length) {
    if (length < 0 || length > 32) {
      throw new IllegalArgumentException("prefix length must be 0..32: " + length);
    }
  }

  static void checkRange(int low, int high) {
    if (low < 0 || high > 65535 || low > high) {
      throw new IllegalArgumentException("port range must be within 0..65535: " + low + ":" + high);
    }
  }

  static String checkName(String name) {
    if (name == null || name.isEmpty() || name.length() > 15 || name.contains(" ")) {
      throw new IllegalArgumentException("not an interface name: '" + name + "'");
    }
    return name;
  }
}
