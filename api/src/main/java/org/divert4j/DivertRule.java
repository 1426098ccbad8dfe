package org.divert4j;

import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.Optional;
import org.divert4j.filter.Filter;
import org.divert4j.filter.FilterContext;

/**
 * A firewall rule whose target is {@code DIVERT <port>} (SEMANTICS.md "Vocabulary"): on one chain,
 * it matches packets by protocol, source and destination prefix, TCP/UDP source and destination
 * port ranges, ICMP type, and input/output interface, and diverts them to a divert port.
 *
 * <p>Build one with {@link #on(Chain)} or parse the text form with {@link #parse(String)}:
 *
 * <pre>{@code
 * DivertRule r = DivertRule.on(Chain.INPUT).protocol(DivertRule.UDP).destinationPort(53).divertTo(1234);
 * DivertRule s = DivertRule.parse("input -p udp --dport 53 -j DIVERT 1234");
 * }</pre>
 *
 * <p>Fragments (S7): a rule that tests TCP/UDP ports or the ICMP type matches only the first
 * fragment (offset 0) of a datagram; a rule on protocol, addresses and interfaces matches every
 * fragment.
 *
 * <p>A rule may also carry a {@link Filter} in WinDivert's language (SEMANTICS.md S64), tested
 * after the other matches: {@code input -p tcp filter "tcp.Syn and tcp.DstPort == 443" -j DIVERT
 * 5}. Immutable and thread-safe.
 */
public final class DivertRule {
  /** Protocol number of ICMP. */
  public static final int ICMP = 1;

  /** Protocol number of TCP. */
  public static final int TCP = 6;

  /** Protocol number of UDP. */
  public static final int UDP = 17;

  /** Protocol number of ICMPv6 (S54: {@code -p icmpv6} matches IPv6 only). */
  public static final int ICMPV6 = 58;

  /** Matches any protocol. */
  public static final int ANY_PROTOCOL = 0;

  /** Matches any ICMP type. */
  public static final int ANY_ICMP_TYPE = -1;

  private final Chain chain;
  private final RuleMatcher match; // family, protocol, addresses, ports, ICMP type
  private final String inInterface;
  private final String outInterface;
  private final Filter filter;
  private final int port;

  private DivertRule(Builder b, RuleMatcher match, int port) {
    this.chain = b.chain;
    this.match = match;
    this.inInterface = b.inInterface;
    this.outInterface = b.outInterface;
    this.filter = b.filter;
    this.port = port;
  }

  /**
   * Starts a rule on a chain.
   *
   * @param chain the chain
   * @return a builder that matches every packet until narrowed
   */
  public static Builder on(Chain chain) {
    return new Builder(Objects.requireNonNull(chain, "chain"), new MatchDraft());
  }

  /**
   * Parses the text form of a rule (see {@link #parse(String, int)}); the text must name the port.
   *
   * @param text e.g. {@code input -p icmp -j DIVERT 1234} or {@code input icmp port 1234}
   * @return the rule
   * @throws IllegalArgumentException naming the token at fault, if the text is not a rule
   */
  public static DivertRule parse(String text) {
    return parse(text, 0);
  }

  /**
   * Parses the text form of a rule. The first word is the chain ({@code input}, {@code forward},
   * {@code output}); then, in any order, iptables-style options or the short words in brackets:
   *
   * <ul>
   *   <li>{@code -4} [{@code ip4}], {@code -6} [{@code ip6}]: one family only; without either, and
   *       without an address or protocol that implies one, the rule matches both (S54)
   *   <li>{@code -p PROTO} [{@code icmp}, {@code icmpv6} or {@code ipv6-icmp}, {@code udp}, {@code
   *       tcp}, {@code all}, or {@code proto N}]: protocol by name or number; {@code icmp} implies
   *       IPv4 and {@code icmpv6} IPv6
   *   <li>{@code -s ADDR[/LEN]} [{@code from ADDR[/LEN]}], {@code -d ADDR[/LEN]} [{@code to
   *       ADDR[/LEN]}]: an IPv4 or IPv6 address or prefix, which implies its family
   *   <li>{@code --sport P[:Q]} [{@code sport P[:Q]}], {@code --dport P[:Q]} [{@code dport P[:Q]}]
   *       (needs udp or tcp)
   *   <li>{@code --icmp-type T} (needs icmp), {@code --icmpv6-type T} (needs icmpv6), [{@code type
   *       T}] (either)
   *   <li>{@code -i IFACE} [{@code in IFACE}], {@code -o IFACE} [{@code out IFACE}]
   *   <li>{@code filter "EXPR"} [{@code --filter "EXPR"}]: a filter expression ({@link Filter});
   *       the quotes may be left out when it is one word
   *   <li>{@code -j DIVERT PORT} [{@code port PORT} or {@code divert PORT}]
   * </ul>
   *
   * @param text the rule text
   * @param defaultPort the port when the text names none; 0 to require one in the text
   * @return the rule
   * @throws IllegalArgumentException naming the token at fault, if the text is not a rule; a {@link
   *     org.divert4j.filter.FilterSyntaxException} for a bad filter
   */
  public static DivertRule parse(String text, int defaultPort) {
    return RuleParser.parse(text, defaultPort);
  }

  /**
   * @return the chain the rule is on
   */
  public Chain chain() {
    return chain;
  }

  /**
   * @return the one family the rule matches, or empty when it matches both (S54)
   */
  public Optional<IpFamily> family() {
    return Optional.ofNullable(match.family);
  }

  /**
   * @param f a family
   * @return whether the rule can match packets of that family
   */
  public boolean appliesTo(IpFamily f) {
    return match.family == null || match.family == f;
  }

  /**
   * @return the source network of either family, or empty when any source matches
   */
  public Optional<IpPrefix> sourceNetwork() {
    return Optional.ofNullable(match.sourceNetwork);
  }

  /**
   * @return the destination network of either family, or empty when any destination matches
   */
  public Optional<IpPrefix> destinationNetwork() {
    return Optional.ofNullable(match.destinationNetwork);
  }

  /**
   * @return the protocol number matched, or {@link #ANY_PROTOCOL}
   */
  public int protocol() {
    return match.protocol;
  }

  /**
   * @return the IPv4 source prefix's address bits (host order); meaningful when {@link
   *     #sourcePrefixLength()} is above 0; 0 for an IPv6 source (see {@link #sourceNetwork()})
   */
  public int source() {
    return match.source;
  }

  /**
   * @return the source prefix length; 0 matches any source
   */
  public int sourcePrefixLength() {
    return match.sourcePrefix;
  }

  /**
   * @return the IPv4 destination prefix's address bits (host order); 0 for an IPv6 destination (see
   *     {@link #destinationNetwork()})
   */
  public int destination() {
    return match.destination;
  }

  /**
   * @return the destination prefix length; 0 matches any destination
   */
  public int destinationPrefixLength() {
    return match.destinationPrefix;
  }

  /**
   * @return the lowest source port matched (0 when any)
   */
  public int sourcePortLow() {
    return match.sourcePortLow;
  }

  /**
   * @return the highest source port matched (65535 when any)
   */
  public int sourcePortHigh() {
    return match.sourcePortHigh;
  }

  /**
   * @return the lowest destination port matched (0 when any)
   */
  public int destinationPortLow() {
    return match.destinationPortLow;
  }

  /**
   * @return the highest destination port matched (65535 when any)
   */
  public int destinationPortHigh() {
    return match.destinationPortHigh;
  }

  /**
   * @return the ICMP type matched, or {@link #ANY_ICMP_TYPE}
   */
  public int icmpType() {
    return match.icmpType;
  }

  /**
   * @return the input interface name matched, or null for any
   */
  public String inInterface() {
    return inInterface;
  }

  /**
   * @return the output interface name matched, or null for any
   */
  public String outInterface() {
    return outInterface;
  }

  /**
   * @return the filter tested after the other matches, or null when the rule has none
   */
  public Filter filter() {
    return filter;
  }

  /**
   * @return the divert port packets are sent to (1..65535)
   */
  public int port() {
    return port;
  }

  /**
   * @return true if the rule tests transport fields (ports or ICMP type), so it matches only first
   *     fragments (S7)
   */
  public boolean testsTransport() {
    return match.testsTransport();
  }

  /**
   * Tests the rule against a packet, its filter included (S64, S65). Does not allocate.
   *
   * @param packet the packet from {@code position()} to {@code limit()}; not modified
   * @param inInterface the interface the packet arrived on, or null
   * @param outInterface the interface it will leave by, or null
   * @param context the packet's direction, loopback flag and interface index for the filter;
   *     scratch space of the calling thread
   * @return true if the matches and the filter (if any) accept the packet
   */
  public boolean matches(
      ByteBuffer packet, String inInterface, String outInterface, FilterContext context) {
    return matches(packet, inInterface, outInterface)
        && (filter == null || filter.matches(packet, context));
  }

  /**
   * Tests the rule's matches, without its {@link #filter()}, against a packet of either family, as
   * a firewall would (S7 and S56 for fragments: port and type tests match only the fragment with
   * offset 0, protocol and address tests every fragment). Does not allocate; thread-safe.
   *
   * @param packet an IPv4 or IPv6 packet from {@code packet.position()} to {@code packet.limit()};
   *     not modified, position unchanged
   * @param inInterface the interface the packet arrived on, or null (locally generated)
   * @param outInterface the interface it will leave by, or null (not yet routed or local)
   * @return true if the rule matches; false also when the packet is too short to tell or is of a
   *     family the rule does not match
   */
  public boolean matches(ByteBuffer packet, String inInterface, String outInterface) {
    int base = packet.position();
    int len = packet.limit() - base;
    if (len < 1) {
      return false;
    }
    if (this.inInterface != null && !this.inInterface.equals(inInterface)) {
      return false;
    }
    if (this.outInterface != null && !this.outInterface.equals(outInterface)) {
      return false;
    }
    return match.matches(packet, base, len);
  }

  /**
   * @param port another divert port
   * @return this rule with another target port
   */
  public DivertRule withPort(int port) {
    return toBuilder().divertTo(port);
  }

  /**
   * @return a builder holding this rule's matches (the port is given again at the end)
   */
  public Builder toBuilder() {
    Builder b = new Builder(chain, new MatchDraft(match));
    b.inInterface = inInterface;
    b.outInterface = outInterface;
    b.filter = filter;
    return b;
  }

  /**
   * @return the canonical text form, which {@link #parse(String)} reads back to an equal rule, e.g.
   *     {@code input -p udp --dport 53 -j DIVERT 1234}
   */
  @Override
  public String toString() {
    return RuleFormatter.format(this);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof DivertRule r && toString().equals(r.toString());
  }

  @Override
  public int hashCode() {
    return toString().hashCode();
  }

  /** Builds a {@link DivertRule}. Not thread-safe; each setter narrows the match. */
  public static final class Builder {
    private final Chain chain;
    private final MatchDraft match; // family, protocol, addresses, ports, ICMP type
    private String inInterface;
    private String outInterface;
    private Filter filter;

    private Builder(Chain chain, MatchDraft match) {
      this.chain = chain;
      this.match = match;
    }

    /**
     * Restricts the rule to one family (S54: {@code -4}/{@code -6}).
     *
     * @param family the family, or null for both
     * @return this builder
     */
    public Builder family(IpFamily family) {
      match.family = family;
      return this;
    }

    /**
     * @param protocol a protocol number (e.g. {@link #UDP}), or {@link #ANY_PROTOCOL}; {@link
     *     #ICMP} implies IPv4 and {@link #ICMPV6} IPv6
     * @return this builder
     */
    public Builder protocol(int protocol) {
      match.protocol(protocol);
      return this;
    }

    /**
     * @param prefix a source prefix of either family such as {@code 10.0.0.0/8} or {@code
     *     fd00::/8}, or a single address; it implies its family
     * @return this builder
     */
    public Builder source(String prefix) {
      return source(RuleParser.prefix(prefix));
    }

    /**
     * @param network a source network of either family; it implies its family
     * @return this builder
     */
    public Builder source(IpPrefix network) {
      match.source(network);
      return this;
    }

    /**
     * @param address source prefix bits (host order)
     * @param length prefix length 0..32
     * @return this builder
     */
    public Builder source(int address, int length) {
      match.source(address, length);
      return this;
    }

    /**
     * @param prefix a destination prefix of either family such as {@code 10.0.0.0/8} or {@code
     *     fd00::/8}, or a single address; it implies its family
     * @return this builder
     */
    public Builder destination(String prefix) {
      return destination(RuleParser.prefix(prefix));
    }

    /**
     * @param network a destination network of either family; it implies its family
     * @return this builder
     */
    public Builder destination(IpPrefix network) {
      match.destination(network);
      return this;
    }

    /**
     * @param address destination prefix bits (host order)
     * @param length prefix length 0..32
     * @return this builder
     */
    public Builder destination(int address, int length) {
      match.destination(address, length);
      return this;
    }

    /**
     * @param port one TCP/UDP source port
     * @return this builder
     */
    public Builder sourcePort(int port) {
      return sourcePorts(port, port);
    }

    /**
     * @param low lowest TCP/UDP source port
     * @param high highest TCP/UDP source port
     * @return this builder
     */
    public Builder sourcePorts(int low, int high) {
      match.sourcePorts(low, high);
      return this;
    }

    /**
     * @param port one TCP/UDP destination port
     * @return this builder
     */
    public Builder destinationPort(int port) {
      return destinationPorts(port, port);
    }

    /**
     * @param low lowest TCP/UDP destination port
     * @param high highest TCP/UDP destination port
     * @return this builder
     */
    public Builder destinationPorts(int low, int high) {
      match.destinationPorts(low, high);
      return this;
    }

    /**
     * @param type an ICMP type 0..255, or {@link #ANY_ICMP_TYPE}
     * @return this builder
     */
    public Builder icmpType(int type) {
      match.icmpType(type);
      return this;
    }

    /**
     * @param name the interface packets arrive on (input and forward chains)
     * @return this builder
     */
    public Builder inInterface(String name) {
      if (chain == Chain.OUTPUT) {
        throw new IllegalArgumentException("the output chain has no input interface to match");
      }
      this.inInterface = RuleChecks.checkName(name);
      return this;
    }

    /**
     * @param name the interface packets leave by (forward and output chains)
     * @return this builder
     */
    public Builder outInterface(String name) {
      if (chain == Chain.INPUT) {
        throw new IllegalArgumentException("the input chain has no output interface to match");
      }
      this.outInterface = RuleChecks.checkName(name);
      return this;
    }

    /**
     * @param filter a filter expression tested after the other matches (S64), or null for none
     * @return this builder
     * @throws org.divert4j.filter.FilterSyntaxException with the position and what was expected, if
     *     the text is not a filter (S66)
     */
    public Builder filter(String filter) {
      return filter(filter == null ? null : Filter.parse(filter));
    }

    /**
     * @param filter a parsed filter tested after the other matches, or null for none
     * @return this builder
     */
    public Builder filter(Filter filter) {
      this.filter = filter;
      return this;
    }

    /**
     * Finishes the rule.
     *
     * @param port the divert port, 1..65535
     * @return the rule
     * @throws IllegalArgumentException if the port is out of range, or ports are tested with a
     *     protocol other than TCP/UDP, or an ICMP type with a protocol other than ICMP
     */
    public DivertRule divertTo(int port) {
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException("divert port must be 1..65535: " + port);
      }
      return new DivertRule(this, match.finish(), port);
    }
  }
}
