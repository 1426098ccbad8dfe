package org.divert4j;

import java.net.Inet4Address;

/**
 * The packet-field matches of a {@link DivertRule} while its {@link DivertRule.Builder} narrows
 * them: family, protocol, source and destination prefix, port ranges and ICMP type. Each setter
 * checks its value ({@link RuleChecks}) and normalises it (an IPv4 network is kept as prefix bits,
 * host bits cleared); {@link #finish} checks that they agree and freezes them into a {@link
 * RuleMatcher}. Interfaces, the filter and the divert port stay with the builder. Mutable and not
 * thread-safe, like the builder that holds it.
 */
final class MatchDraft {
  IpFamily family;
  int protocol = DivertRule.ANY_PROTOCOL;
  IpPrefix sourceNetwork;
  IpPrefix destinationNetwork;
  int source;
  int sourcePrefix;
  int destination;
  int destinationPrefix;
  int sourcePortLow;
  int sourcePortHigh = 65535;
  int destinationPortLow;
  int destinationPortHigh = 65535;
  int icmpType = DivertRule.ANY_ICMP_TYPE;

  /** A draft that matches every packet until narrowed. */
  MatchDraft() {}

  /**
   * @param m a finished rule's matches, to narrow or change again
   */
  MatchDraft(RuleMatcher m) {
    family = m.family;
    protocol = m.protocol;
    sourceNetwork = m.sourceNetwork;
    destinationNetwork = m.destinationNetwork;
    source = m.source;
    sourcePrefix = m.sourcePrefix;
    destination = m.destination;
    destinationPrefix = m.destinationPrefix;
    sourcePortLow = m.sourcePortLow;
    sourcePortHigh = m.sourcePortHigh;
    destinationPortLow = m.destinationPortLow;
    destinationPortHigh = m.destinationPortHigh;
    icmpType = m.icmpType;
  }

  void protocol(int protocol) {
    if (protocol < 0 || protocol > 255) {
      throw new IllegalArgumentException("protocol must be 0..255: " + protocol);
    }
    this.protocol = protocol;
  }

  void source(IpPrefix network) {
    if (network.family() == IpFamily.IPV4) {
      source(Ipv4.toInt((Inet4Address) network.address()), network.length());
      return;
    }
    this.sourceNetwork = RuleChecks.masked(network);
    this.source = 0;
    this.sourcePrefix = 0;
  }

  void source(int address, int length) {
    RuleChecks.checkPrefix(length);
    this.source = length == 0 ? 0 : address & (-1 << (32 - length));
    this.sourcePrefix = length;
    this.sourceNetwork = length == 0 ? null : new IpPrefix(Ipv4.fromInt(source), length);
  }

  void destination(IpPrefix network) {
    if (network.family() == IpFamily.IPV4) {
      destination(Ipv4.toInt((Inet4Address) network.address()), network.length());
      return;
    }
    this.destinationNetwork = RuleChecks.masked(network);
    this.destination = 0;
    this.destinationPrefix = 0;
  }

  void destination(int address, int length) {
    RuleChecks.checkPrefix(length);
    this.destination = length == 0 ? 0 : address & (-1 << (32 - length));
    this.destinationPrefix = length;
    this.destinationNetwork = length == 0 ? null : new IpPrefix(Ipv4.fromInt(destination), length);
  }

  void sourcePorts(int low, int high) {
    RuleChecks.checkRange(low, high);
    this.sourcePortLow = low;
    this.sourcePortHigh = high;
  }

  void destinationPorts(int low, int high) {
    RuleChecks.checkRange(low, high);
    this.destinationPortLow = low;
    this.destinationPortHigh = high;
  }

  void icmpType(int type) {
    if (type < DivertRule.ANY_ICMP_TYPE || type > 255) {
      throw new IllegalArgumentException("ICMP type must be 0..255: " + type);
    }
    this.icmpType = type;
  }

  /**
   * @return the matches, frozen
   * @throws IllegalArgumentException if ports are tested with a protocol other than TCP/UDP, an
   *     ICMP type with a protocol other than ICMP, or the family, networks and protocol disagree
   *     (S54)
   */
  RuleMatcher finish() {
    boolean ports =
        RuleMatcher.testsPorts(
            sourcePortLow, sourcePortHigh, destinationPortLow, destinationPortHigh);
    if (ports && protocol != DivertRule.UDP && protocol != DivertRule.TCP) {
      throw new IllegalArgumentException("port matches need protocol udp or tcp ('-p udp')");
    }
    if (icmpType != DivertRule.ANY_ICMP_TYPE
        && protocol != DivertRule.ICMP
        && protocol != DivertRule.ICMPV6) {
      throw new IllegalArgumentException(
          "an ICMP type match needs protocol icmp or icmpv6 ('-p icmp', '-p icmpv6')");
    }
    return new RuleMatcher(
        this, RuleChecks.family(family, sourceNetwork, destinationNetwork, protocol));
  }
}
