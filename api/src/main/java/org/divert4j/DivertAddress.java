package org.divert4j;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.Objects;
import java.util.Optional;

/**
 * Where a diverted packet was taken, or where an injected packet should go: the divert port, the
 * chain, the direction, and for inbound packets the interface it arrived on (SEMANTICS.md S6).
 *
 * <p>A received address also carries a <em>ticket</em> that identifies the held packet: sending a
 * packet with the address it was received with writes it back (reinjects it) after the rule that
 * diverted it (S35, S43, S44), and {@link DivertSocket#drop(DivertAddress)} drops it. Only the
 * socket that received a packet can redeem its ticket, and only once; elsewhere, or a second time,
 * the address acts as a plain injection address for its direction.
 *
 * <p>For injecting new packets use {@link #OUTBOUND} (the zero address: routed by destination, S32)
 * or {@link #inbound(InetAddress)} with a local interface address of either family (S33, S60).
 *
 * <p>Immutable and thread-safe.
 */
public final class DivertAddress {
  /** The zero address: inject outbound, routed by the packet's destination (S32). */
  public static final DivertAddress OUTBOUND =
      new DivertAddress(0, null, Direction.OUTBOUND, "", 0, 0, null, 0, 0L);

  private final int port;
  private final Chain chain;
  private final Direction direction;
  private final String interfaceName;
  private final int interfaceIndex;
  private final int interfaceAddress;
  private final Inet6Address interfaceAddress6;
  private final int ruleId;
  private final long ticket;

  private DivertAddress(
      int port,
      Chain chain,
      Direction direction,
      String interfaceName,
      int interfaceIndex,
      int interfaceAddress,
      Inet6Address interfaceAddress6,
      int ruleId,
      long ticket) {
    this.port = port;
    this.chain = chain;
    this.direction = direction;
    this.interfaceName = interfaceName;
    this.interfaceIndex = interfaceIndex;
    this.interfaceAddress = interfaceAddress;
    this.interfaceAddress6 = interfaceAddress6;
    this.ruleId = ruleId;
    this.ticket = ticket;
  }

  /**
   * An address to inject a new packet inbound, as if it had arrived on the interface that has this
   * address (S33). A send fails with {@link AddressNotAvailableException} if no interface has it.
   *
   * <p>For IPv6 (S60) the address is one of an interface's IPv6 addresses; for a link-local
   * address, the interface whose address it is.
   *
   * @param interfaceAddress a local interface address of either family; the unspecified address
   *     ({@code 0.0.0.0} or {@code ::}) means {@link #OUTBOUND}
   * @return the address
   */
  public static DivertAddress inbound(InetAddress interfaceAddress) {
    Objects.requireNonNull(interfaceAddress, "interfaceAddress");
    if (interfaceAddress.isAnyLocalAddress()) {
      return OUTBOUND;
    }
    if (interfaceAddress instanceof Inet6Address six) {
      return new DivertAddress(0, null, Direction.INBOUND, "", 0, 0, six, 0, 0L);
    }
    int bits = Ipv4.toInt((Inet4Address) interfaceAddress);
    return new DivertAddress(0, null, Direction.INBOUND, "", 0, bits, null, 0, 0L);
  }

  /**
   * The address of a received packet. For backends; programs get these from receive.
   *
   * @param port the divert port (1..65535)
   * @param chain the chain the packet was diverted on
   * @param interfaceName the receiving interface for inbound packets, empty for outbound
   * @param interfaceIndex its index, 0 for outbound
   * @param interfaceAddress its first IPv4 address, 0 for outbound
   * @param ruleId the id of the rule that diverted the packet ({@link InstalledRule#id()})
   * @param ticket the backend's handle on the held packet, non-zero
   * @return the address
   */
  public static DivertAddress received(
      int port,
      Chain chain,
      String interfaceName,
      int interfaceIndex,
      int interfaceAddress,
      int ruleId,
      long ticket) {
    Objects.requireNonNull(chain, "chain");
    boolean in = chain.direction() == Direction.INBOUND;
    return new DivertAddress(
        port,
        chain,
        chain.direction(),
        in ? Objects.requireNonNull(interfaceName, "interfaceName") : "",
        in ? interfaceIndex : 0,
        in ? interfaceAddress : 0,
        null,
        ruleId,
        ticket);
  }

  /**
   * The address of a received packet whose interface address may be of either family (S55). For
   * backends; programs get these from receive. Allocates nothing beyond the address object.
   *
   * @param port the divert port (1..65535)
   * @param chain the chain the packet was diverted on
   * @param interfaceName the receiving interface for inbound packets, empty for outbound
   * @param interfaceIndex its index, 0 for outbound
   * @param interfaceAddress the interface's first address of the packet's family, null for outbound
   *     or when it has none
   * @param ruleId the id of the rule that diverted the packet ({@link InstalledRule#id()})
   * @param ticket the backend's handle on the held packet, non-zero
   * @return the address
   */
  public static DivertAddress received(
      int port,
      Chain chain,
      String interfaceName,
      int interfaceIndex,
      InetAddress interfaceAddress,
      int ruleId,
      long ticket) {
    if (interfaceAddress instanceof Inet6Address six) {
      Objects.requireNonNull(chain, "chain");
      boolean in = chain.direction() == Direction.INBOUND;
      return new DivertAddress(
          port,
          chain,
          chain.direction(),
          in ? Objects.requireNonNull(interfaceName, "interfaceName") : "",
          in ? interfaceIndex : 0,
          0,
          in ? six : null,
          ruleId,
          ticket);
    }
    int bits = interfaceAddress == null ? 0 : Ipv4.toInt((Inet4Address) interfaceAddress);
    return received(port, chain, interfaceName, interfaceIndex, bits, ruleId, ticket);
  }

  /**
   * @return the divert port the packet was diverted to, or 0 for an injection address
   */
  public int port() {
    return port;
  }

  /**
   * @return the chain the packet was diverted on; empty for an injection address
   */
  public Optional<Chain> chain() {
    return Optional.ofNullable(chain);
  }

  /**
   * @return inbound (input or forward chain, or a local interface address) or outbound
   */
  public Direction direction() {
    return direction;
  }

  /**
   * @return the receiving interface's name for received inbound packets, otherwise empty
   */
  public String interfaceName() {
    return interfaceName;
  }

  /**
   * @return the receiving interface's index for received inbound packets, otherwise 0
   */
  public int interfaceIndex() {
    return interfaceIndex;
  }

  /**
   * @return the receiving interface's first address of the packet's family for inbound packets (S6,
   *     S55: for IPv6 link-local last), or the address given to {@link #inbound}; {@code 0.0.0.0}
   *     for outbound; allocates for IPv4
   */
  public InetAddress interfaceAddress() {
    return interfaceAddress6 != null ? interfaceAddress6 : Ipv4.fromInt(interfaceAddress);
  }

  /**
   * @return the family of {@link #interfaceAddress()}: IPv6 only when it is an IPv6 address
   */
  public IpFamily interfaceFamily() {
    return interfaceAddress6 != null ? IpFamily.IPV6 : IpFamily.IPV4;
  }

  /**
   * @return the IPv6 interface address, or null when the address is not an IPv6 one; allocates
   *     nothing
   */
  public Inet6Address interfaceAddress6() {
    return interfaceAddress6;
  }

  /**
   * @return {@link #interfaceAddress()} as host-order IPv4 bits, without allocating; 0 when it is
   *     an IPv6 address or none
   */
  public int interfaceAddressBits() {
    return interfaceAddress;
  }

  /**
   * @return the id of the rule that diverted the packet, or 0 for an injection address
   */
  public int ruleId() {
    return ruleId;
  }

  /**
   * @return the backend's handle on the held packet, or 0 when the address carries none
   */
  public long ticket() {
    return ticket;
  }

  /**
   * @return true if this is the zero address (outbound injection)
   */
  public boolean isZero() {
    return interfaceAddress == 0 && interfaceAddress6 == null && ticket == 0;
  }

  /**
   * @return this address without its ticket: sending with it injects a new packet in the same
   *     direction instead of writing the held packet back
   */
  public DivertAddress withoutTicket() {
    if (ticket == 0) {
      return this;
    }
    if (direction == Direction.OUTBOUND) {
      return OUTBOUND;
    }
    return new DivertAddress(
        0,
        null,
        Direction.INBOUND,
        interfaceName,
        interfaceIndex,
        interfaceAddress,
        interfaceAddress6,
        0,
        0L);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof DivertAddress a
        && port == a.port
        && chain == a.chain
        && direction == a.direction
        && interfaceName.equals(a.interfaceName)
        && interfaceIndex == a.interfaceIndex
        && interfaceAddress == a.interfaceAddress
        && Objects.equals(interfaceAddress6, a.interfaceAddress6)
        && ruleId == a.ruleId
        && ticket == a.ticket;
  }

  @Override
  public int hashCode() {
    return Objects.hash(
        port,
        chain,
        direction,
        interfaceName,
        interfaceIndex,
        interfaceAddress,
        interfaceAddress6,
        ruleId,
        ticket);
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    if (chain == null) {
      sb.append(direction == Direction.OUTBOUND ? "outbound" : "inbound via " + addressText());
      return sb.toString();
    }
    sb.append("port ").append(port).append(' ').append(chain.keyword());
    sb.append(' ').append(direction == Direction.INBOUND ? "in" : "out");
    if (direction == Direction.INBOUND) {
      sb.append(" on ").append(interfaceName).append('#').append(interfaceIndex);
      sb.append(' ').append(addressText());
    }
    sb.append(" rule ").append(ruleId);
    return sb.toString();
  }

  private String addressText() {
    return interfaceAddress6 != null
        ? Ipv6Addresses.toText(interfaceAddress6)
        : Ipv4.toString(interfaceAddress);
  }
}
