package org.divert4j;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
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

  /** Matches any protocol. */
  public static final int ANY_PROTOCOL = 0;

  /** Matches any ICMP type. */
  public static final int ANY_ICMP_TYPE = -1;

  private final Chain chain;
  private final int protocol;
  private final int source;
  private final int sourcePrefix;
  private final int destination;
  private final int destinationPrefix;
  private final int sourcePortLow;
  private final int sourcePortHigh;
  private final int destinationPortLow;
  private final int destinationPortHigh;
  private final int icmpType;
  private final String inInterface;
  private final String outInterface;
  private final Filter filter;
  private final int port;

  private DivertRule(Builder b, int port) {
    this.chain = b.chain;
    this.protocol = b.protocol;
    this.source = b.source;
    this.sourcePrefix = b.sourcePrefix;
    this.destination = b.destination;
    this.destinationPrefix = b.destinationPrefix;
    this.sourcePortLow = b.sourcePortLow;
    this.sourcePortHigh = b.sourcePortHigh;
    this.destinationPortLow = b.destinationPortLow;
    this.destinationPortHigh = b.destinationPortHigh;
    this.icmpType = b.icmpType;
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
    return new Builder(Objects.requireNonNull(chain, "chain"));
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
   *   <li>{@code -p PROTO} [{@code icmp}, {@code udp}, {@code tcp}, {@code all}, or {@code proto
   *       N}]: protocol by name or number
   *   <li>{@code -s ADDR[/LEN]} [{@code from ADDR[/LEN]}], {@code -d ADDR[/LEN]} [{@code to
   *       ADDR[/LEN]}]
   *   <li>{@code --sport P[:Q]} [{@code sport P[:Q]}], {@code --dport P[:Q]} [{@code dport P[:Q]}]
   *       (needs udp or tcp)
   *   <li>{@code --icmp-type T} [{@code type T}] (needs icmp)
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
    List<String> t = words(text);
    if (t.isEmpty()) {
      throw new IllegalArgumentException("empty rule: expected a chain (input, forward, output)");
    }
    Builder b = on(Chain.parse(t.get(0)));
    int port = defaultPort;
    int i = 1;
    while (i < t.size()) {
      String w = t.get(i).toLowerCase(Locale.ROOT);
      i++;
      switch (w) {
        case "icmp", "udp", "tcp", "all", "any" -> b.protocol(protocolNumber(w));
        case "-p", "--protocol", "proto" -> b.protocol(protocolNumber(arg(t, i++, w)));
        case "-s", "--source", "from" -> {
          int[] p = prefix(arg(t, i++, w));
          b.source(p[0], p[1]);
        }
        case "-d", "--destination", "to" -> {
          int[] p = prefix(arg(t, i++, w));
          b.destination(p[0], p[1]);
        }
        case "--sport", "--source-port", "sport" -> {
          int[] r = range(arg(t, i++, w), w);
          b.sourcePorts(r[0], r[1]);
        }
        case "--dport", "--destination-port", "dport" -> {
          int[] r = range(arg(t, i++, w), w);
          b.destinationPorts(r[0], r[1]);
        }
        case "--icmp-type", "type" -> b.icmpType(number(arg(t, i++, w), w, 0, 255));
        case "-i", "--in-interface", "in" -> b.inInterface(arg(t, i++, w));
        case "-o", "--out-interface", "out" -> b.outInterface(arg(t, i++, w));
        case "filter", "--filter" -> b.filter(arg(t, i++, w));
        case "-j", "--jump" -> {
          String target = arg(t, i++, w);
          if (!target.equalsIgnoreCase("DIVERT")) {
            throw new IllegalArgumentException(
                "unsupported target '" + target + "': only DIVERT <port> is supported");
          }
          port = number(arg(t, i++, "DIVERT"), "DIVERT", 1, 65535);
        }
        case "port", "divert" -> port = number(arg(t, i++, w), w, 1, 65535);
        default ->
            throw new IllegalArgumentException(
                "unexpected '" + t.get(i - 1) + "' in rule '" + text.trim() + "' (word " + i + ")");
      }
    }
    if (port == 0) {
      throw new IllegalArgumentException(
          "rule '" + text.trim() + "' names no divert port: add '-j DIVERT <port>'");
    }
    return b.divertTo(port);
  }

  /** Splits on white space; a double-quoted part (a filter) is one word, without its quotes. */
  private static List<String> words(String text) {
    List<String> t = new ArrayList<>();
    int i = 0;
    int n = text.length();
    while (i < n) {
      if (Character.isWhitespace(text.charAt(i))) {
        i++;
        continue;
      }
      int start = i;
      if (text.charAt(i) == '"') {
        int close = text.indexOf('"', i + 1);
        if (close < 0) {
          throw new IllegalArgumentException(
              "unclosed quote at " + (i + 1) + " in rule '" + text.trim() + "'");
        }
        t.add(text.substring(i + 1, close));
        i = close + 1;
        continue;
      }
      while (i < n && !Character.isWhitespace(text.charAt(i))) {
        i++;
      }
      t.add(text.substring(start, i));
    }
    return t;
  }

  private static String arg(List<String> t, int i, String option) {
    if (i >= t.size()) {
      throw new IllegalArgumentException("'" + option + "' needs a value");
    }
    return t.get(i);
  }

  private static int number(String s, String option, int min, int max) {
    try {
      int v = Integer.parseInt(s);
      if (v >= min && v <= max) {
        return v;
      }
    } catch (NumberFormatException e) {
      // fall through to the error below
    }
    throw new IllegalArgumentException(
        "'" + option + "' takes a number from " + min + " to " + max + ", not '" + s + "'");
  }

  private static int[] range(String s, String option) {
    int colon = s.indexOf(':');
    if (colon < 0) {
      int p = number(s, option, 0, 65535);
      return new int[] {p, p};
    }
    int lo = colon == 0 ? 0 : number(s.substring(0, colon), option, 0, 65535);
    int hi = colon == s.length() - 1 ? 65535 : number(s.substring(colon + 1), option, 0, 65535);
    if (lo > hi) {
      throw new IllegalArgumentException("'" + option + "' range is empty: " + s);
    }
    return new int[] {lo, hi};
  }

  private static int[] prefix(String s) {
    int slash = s.indexOf('/');
    int addr = Ipv4.parseInt(slash < 0 ? s : s.substring(0, slash));
    int len = slash < 0 ? 32 : number(s.substring(slash + 1), "prefix length", 0, 32);
    return new int[] {addr, len};
  }

  private static int protocolNumber(String s) {
    return switch (s.toLowerCase(Locale.ROOT)) {
      case "icmp" -> ICMP;
      case "tcp" -> TCP;
      case "udp" -> UDP;
      case "all", "any" -> ANY_PROTOCOL;
      default -> number(s, "protocol", 0, 255);
    };
  }

  /**
   * @return the chain the rule is on
   */
  public Chain chain() {
    return chain;
  }

  /**
   * @return the protocol number matched, or {@link #ANY_PROTOCOL}
   */
  public int protocol() {
    return protocol;
  }

  /**
   * @return the source prefix's address bits (host order); meaningful when {@link
   *     #sourcePrefixLength()} is above 0
   */
  public int source() {
    return source;
  }

  /**
   * @return the source prefix length; 0 matches any source
   */
  public int sourcePrefixLength() {
    return sourcePrefix;
  }

  /**
   * @return the destination prefix's address bits (host order)
   */
  public int destination() {
    return destination;
  }

  /**
   * @return the destination prefix length; 0 matches any destination
   */
  public int destinationPrefixLength() {
    return destinationPrefix;
  }

  /**
   * @return the lowest source port matched (0 when any)
   */
  public int sourcePortLow() {
    return sourcePortLow;
  }

  /**
   * @return the highest source port matched (65535 when any)
   */
  public int sourcePortHigh() {
    return sourcePortHigh;
  }

  /**
   * @return the lowest destination port matched (0 when any)
   */
  public int destinationPortLow() {
    return destinationPortLow;
  }

  /**
   * @return the highest destination port matched (65535 when any)
   */
  public int destinationPortHigh() {
    return destinationPortHigh;
  }

  /**
   * @return the ICMP type matched, or {@link #ANY_ICMP_TYPE}
   */
  public int icmpType() {
    return icmpType;
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
    return sourcePortLow != 0
        || sourcePortHigh != 65535
        || destinationPortLow != 0
        || destinationPortHigh != 65535
        || icmpType != ANY_ICMP_TYPE;
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
   * Tests the rule's matches, without its {@link #filter()}, against a packet, as a firewall would
   * (S7 for fragments). Does not allocate.
   *
   * @param packet an IPv4 packet from {@code packet.position()} to {@code packet.limit()}; not
   *     modified, position unchanged
   * @param inInterface the interface the packet arrived on, or null (locally generated)
   * @param outInterface the interface it will leave by, or null (not yet routed or local)
   * @return true if the rule matches; false also when the packet is too short to tell
   */
  public boolean matches(ByteBuffer packet, String inInterface, String outInterface) {
    int base = packet.position();
    int len = packet.limit() - base;
    if (len < 20) {
      return false;
    }
    int ihl = (packet.get(base) & 0x0f) * 4;
    int proto = packet.get(base + 9) & 0xff;
    if (protocol != ANY_PROTOCOL && proto != protocol) {
      return false;
    }
    if (sourcePrefix > 0 && !inPrefix(packet.getInt(base + 12), source, sourcePrefix)) {
      return false;
    }
    if (destinationPrefix > 0
        && !inPrefix(packet.getInt(base + 16), destination, destinationPrefix)) {
      return false;
    }
    if (this.inInterface != null && !this.inInterface.equals(inInterface)) {
      return false;
    }
    if (this.outInterface != null && !this.outInterface.equals(outInterface)) {
      return false;
    }
    if (!testsTransport()) {
      return true;
    }
    int fragmentOffset = packet.getShort(base + 6) & 0x1fff;
    if (fragmentOffset != 0) {
      return false; // S7: transport fields exist only in the first fragment
    }
    if (icmpType != ANY_ICMP_TYPE) {
      if (proto != ICMP || len < ihl + 1 || (packet.get(base + ihl) & 0xff) != icmpType) {
        return false;
      }
    }
    boolean testsPorts =
        sourcePortLow != 0
            || sourcePortHigh != 65535
            || destinationPortLow != 0
            || destinationPortHigh != 65535;
    if (testsPorts) {
      if ((proto != UDP && proto != TCP) || len < ihl + 4) {
        return false;
      }
      int sp = packet.getShort(base + ihl) & 0xffff;
      int dp = packet.getShort(base + ihl + 2) & 0xffff;
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
    Builder b = new Builder(chain);
    b.protocol = protocol;
    b.source = source;
    b.sourcePrefix = sourcePrefix;
    b.destination = destination;
    b.destinationPrefix = destinationPrefix;
    b.sourcePortLow = sourcePortLow;
    b.sourcePortHigh = sourcePortHigh;
    b.destinationPortLow = destinationPortLow;
    b.destinationPortHigh = destinationPortHigh;
    b.icmpType = icmpType;
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
    StringBuilder sb = new StringBuilder(chain.keyword());
    if (protocol != ANY_PROTOCOL) {
      sb.append(" -p ")
          .append(
              switch (protocol) {
                case ICMP -> "icmp";
                case TCP -> "tcp";
                case UDP -> "udp";
                default -> Integer.toString(protocol);
              });
    }
    if (sourcePrefix > 0) {
      sb.append(" -s ").append(Ipv4.toString(source)).append('/').append(sourcePrefix);
    }
    if (destinationPrefix > 0) {
      sb.append(" -d ").append(Ipv4.toString(destination)).append('/').append(destinationPrefix);
    }
    appendRange(sb, " --sport ", sourcePortLow, sourcePortHigh);
    appendRange(sb, " --dport ", destinationPortLow, destinationPortHigh);
    if (icmpType != ANY_ICMP_TYPE) {
      sb.append(" --icmp-type ").append(icmpType);
    }
    if (inInterface != null) {
      sb.append(" -i ").append(inInterface);
    }
    if (outInterface != null) {
      sb.append(" -o ").append(outInterface);
    }
    if (filter != null) {
      sb.append(" filter \"").append(filter).append('"');
    }
    return sb.append(" -j DIVERT ").append(port).toString();
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
    private int protocol = ANY_PROTOCOL;
    private int source;
    private int sourcePrefix;
    private int destination;
    private int destinationPrefix;
    private int sourcePortLow;
    private int sourcePortHigh = 65535;
    private int destinationPortLow;
    private int destinationPortHigh = 65535;
    private int icmpType = ANY_ICMP_TYPE;
    private String inInterface;
    private String outInterface;
    private Filter filter;

    private Builder(Chain chain) {
      this.chain = chain;
    }

    /**
     * @param protocol a protocol number (e.g. {@link #UDP}), or {@link #ANY_PROTOCOL}
     * @return this builder
     */
    public Builder protocol(int protocol) {
      if (protocol < 0 || protocol > 255) {
        throw new IllegalArgumentException("protocol must be 0..255: " + protocol);
      }
      this.protocol = protocol;
      return this;
    }

    /**
     * @param prefix a source prefix such as {@code 10.0.0.0/8} or a single address
     * @return this builder
     */
    public Builder source(String prefix) {
      int[] p = prefix(prefix);
      return source(p[0], p[1]);
    }

    /**
     * @param address source prefix bits (host order)
     * @param length prefix length 0..32
     * @return this builder
     */
    public Builder source(int address, int length) {
      checkPrefix(length);
      this.source = length == 0 ? 0 : address & (-1 << (32 - length));
      this.sourcePrefix = length;
      return this;
    }

    /**
     * @param prefix a destination prefix such as {@code 10.0.0.0/8} or a single address
     * @return this builder
     */
    public Builder destination(String prefix) {
      int[] p = prefix(prefix);
      return destination(p[0], p[1]);
    }

    /**
     * @param address destination prefix bits (host order)
     * @param length prefix length 0..32
     * @return this builder
     */
    public Builder destination(int address, int length) {
      checkPrefix(length);
      this.destination = length == 0 ? 0 : address & (-1 << (32 - length));
      this.destinationPrefix = length;
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
      checkRange(low, high);
      this.sourcePortLow = low;
      this.sourcePortHigh = high;
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
      checkRange(low, high);
      this.destinationPortLow = low;
      this.destinationPortHigh = high;
      return this;
    }

    /**
     * @param type an ICMP type 0..255, or {@link #ANY_ICMP_TYPE}
     * @return this builder
     */
    public Builder icmpType(int type) {
      if (type < ANY_ICMP_TYPE || type > 255) {
        throw new IllegalArgumentException("ICMP type must be 0..255: " + type);
      }
      this.icmpType = type;
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
      this.inInterface = checkName(name);
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
      this.outInterface = checkName(name);
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
      boolean ports =
          sourcePortLow != 0
              || sourcePortHigh != 65535
              || destinationPortLow != 0
              || destinationPortHigh != 65535;
      if (ports && protocol != UDP && protocol != TCP) {
        throw new IllegalArgumentException("port matches need protocol udp or tcp ('-p udp')");
      }
      if (icmpType != ANY_ICMP_TYPE && protocol != ICMP) {
        throw new IllegalArgumentException("an ICMP type match needs protocol icmp ('-p icmp')");
      }
      return new DivertRule(this, port);
    }

    private static void checkPrefix(int length) {
      if (length < 0 || length > 32) {
        throw new IllegalArgumentException("prefix length must be 0..32: " + length);
      }
    }

    private static void checkRange(int low, int high) {
      if (low < 0 || high > 65535 || low > high) {
        throw new IllegalArgumentException(
            "port range must be within 0..65535: " + low + ":" + high);
      }
    }

    private static String checkName(String name) {
      if (name == null || name.isEmpty() || name.length() > 15 || name.contains(" ")) {
        throw new IllegalArgumentException("not an interface name: '" + name + "'");
      }
      return name;
    }
  }
}
