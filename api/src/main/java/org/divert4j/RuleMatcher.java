package org.divert4j;

import java.nio.ByteBuffer;
import org.divert4j.packet.Ipv6View;

/**
 * Tests a packet's IP and transport headers against a {@link DivertRule}'s matches, as a firewall
 * would: family, protocol, source and destination prefix, port ranges and ICMP type (S7 and S56 for
 * fragments: port and type tests match only the fragment with offset 0, protocol and address tests
 * every fragment). It holds these matches for the rule, which reads them for its accessors;
 * interfaces and the rule's filter are tested by the rule itself. Immutable, thread-safe, and
 * allocation-free per packet.
 */
final class RuleMatcher {
  final IpFamily family; // null: both families (S54)
  final int protocol;
  final IpPrefix sourceNetwork; // null: any source
  final IpPrefix destinationNetwork; // null: any destination
  final int source;
  final int sourcePrefix;
  final int destination;
  final int destinationPrefix;
  final int sourcePortLow;
  final int sourcePortHigh;
  final int destinationPortLow;
  final int destinationPortHigh;
  final int icmpType;

  /**
   * @param d the matches as a builder left them
   * @param family the one family they agree on (S54), or null for both
   */
  RuleMatcher(MatchDraft d, IpFamily family) {
    this.family = family;
    this.protocol = d.protocol;
    this.sourceNetwork = d.sourceNetwork;
    this.destinationNetwork = d.destinationNetwork;
    this.source = d.source;
    this.sourcePrefix = d.sourcePrefix;
    this.destination = d.destination;
    this.destinationPrefix = d.destinationPrefix;
    this.sourcePortLow = d.sourcePortLow;
    this.sourcePortHigh = d.sourcePortHigh;
    this.destinationPortLow = d.destinationPortLow;
    this.destinationPortHigh = d.destinationPortHigh;
    this.icmpType = d.icmpType;
  }

  /**
   * @return true if the matches test ports or the ICMP type, so they match only first fragments
   */
  boolean testsTransport() {
    return testsPorts() || icmpType != DivertRule.ANY_ICMP_TYPE;
  }

  private boolean testsPorts() {
    return testsPorts(sourcePortLow, sourcePortHigh, destinationPortLow, destinationPortHigh);
  }

  /**
   * @return true unless both ranges are the whole 0..65535
   */
  static boolean testsPorts(
      int sourceLow, int sourceHigh, int destinationLow, int destinationHigh) {
    return sourceLow != 0 || sourceHigh != 65535 || destinationLow != 0 || destinationHigh != 65535;
  }

  /**
   * @param packet an IPv4 or IPv6 packet from {@code base}; not modified
   * @param base where the IP header starts
   * @param len the packet's length from {@code base}, at least 1
   * @return true if the packet's headers satisfy the matches; false also when the packet is too
   *     short to tell or of a family the rule does not match
   */
  boolean matches(ByteBuffer packet, int base, int len) {
    int version = (packet.get(base) & 0xff) >>> 4;
    if (version == 6) {
      return family != IpFamily.IPV4 && matches6(packet, base, len);
    }
    return version == 4 && family != IpFamily.IPV6 && matches4(packet, base, len);
  }

  private boolean matches4(ByteBuffer packet, int base, int len) {
    if (len < 20) {
      return false;
    }
    int ihl = (packet.get(base) & 0x0f) * 4;
    int proto = packet.get(base + 9) & 0xff;
    if (protocol != DivertRule.ANY_PROTOCOL && proto != protocol) {
      return false;
    }
    if (sourcePrefix > 0 && !inPrefix(packet.getInt(base + 12), source, sourcePrefix)) {
      return false;
    }
    if (destinationPrefix > 0
        && !inPrefix(packet.getInt(base + 16), destination, destinationPrefix)) {
      return false;
    }
    if (!testsTransport()) {
      return true;
    }
    int fragmentOffset = packet.getShort(base + 6) & 0x1fff;
    if (fragmentOffset != 0) {
      return false; // S7: transport fields exist only in the first fragment
    }
    return matchesTransport(packet, proto, DivertRule.ICMP, base + ihl, base + len);
  }

  private boolean matches6(ByteBuffer packet, int base, int len) {
    if (len < 40) {
      return false;
    }
    if (sourceNetwork != null && !sourceNetwork.contains(packet, base + 8)) {
      return false;
    }
    if (destinationNetwork != null && !destinationNetwork.contains(packet, base + 24)) {
      return false;
    }
    if (protocol == DivertRule.ANY_PROTOCOL && !testsTransport()) {
      return true;
    }
    // S56: the upper-layer protocol is found by walking the extension headers; a chain that runs
    // past the packet's end matches only rules without protocol, port or type tests.
    long w = Ipv6View.walk(packet, base, base + len);
    if (Ipv6View.pastEnd(w)) {
      return false;
    }
    int proto = Ipv6View.upperProtocol(w);
    if (protocol != DivertRule.ANY_PROTOCOL && proto != protocol) {
      return false;
    }
    if (!testsTransport()) {
      return true;
    }
    int frag = Ipv6View.fragmentHeader(w);
    if (frag != 0 && (packet.getShort(base + frag + 2) & 0xfff8) != 0) {
      return false; // S56 as S7: transport fields exist only in the first fragment
    }
    return matchesTransport(
        packet, proto, DivertRule.ICMPV6, base + Ipv6View.upperOffset(w), base + len);
  }

  private boolean matchesTransport(ByteBuffer packet, int proto, int icmp, int at, int end) {
    if (icmpType != DivertRule.ANY_ICMP_TYPE) {
      if (proto != icmp || end < at + 1 || (packet.get(at) & 0xff) != icmpType) {
        return false;
      }
    }
    if (testsPorts()) {
      if ((proto != DivertRule.UDP && proto != DivertRule.TCP) || end < at + 4) {
        return false;
      }
      int sp = packet.getShort(at) & 0xffff;
      int dp = packet.getShort(at + 2) & 0xffff;
      return sp >= sourcePortLow
          && sp <= sourcePortHigh
          && dp >= destinationPortLow
          && dp <= destinationPortHigh;
    }
    return true;
  }

  private static boolean inPrefix(int address, int prefix, int length) {
    int mask = length == 0 ? 0 : -1 << (32 - length);
    return (address & mask) == (prefix & mask);
  }
}
