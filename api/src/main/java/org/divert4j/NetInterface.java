package org.divert4j;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * One network interface of a host, as divert4j sees it: its addresses of both families, each with
 * its on-link prefix. Immutable and thread-safe.
 *
 * <p>The address list is ordered: IPv4 addresses first, then IPv6 addresses that are not
 * link-local, then link-local ones, each group in the order given. So the first address of a family
 * is the one a divert address names (S55: "its first address of the packet's family, link-local
 * last").
 *
 * @param name the interface name, e.g. {@code eth0}
 * @param index the interface index (positive)
 * @param addresses the interface's addresses with their prefix lengths, ordered as above
 * @param mtu the interface MTU in bytes
 */
public record NetInterface(String name, int index, List<IpPrefix> addresses, int mtu) {
  private static final Comparator<IpPrefix> ORDER =
      Comparator.comparingInt(
          p -> p.family() == IpFamily.IPV4 ? 0 : Ipv6Addresses.isLinkLocal6(p.address()) ? 2 : 1);

  /**
   * Checks the components and orders the addresses.
   *
   * @param name the interface name, e.g. {@code eth0}
   * @param index the interface index (positive)
   * @param addresses the interface's addresses (any order; may be empty)
   * @param mtu the interface MTU in bytes
   */
  public NetInterface {
    Objects.requireNonNull(name, "name");
    if (index <= 0) {
      throw new IllegalArgumentException("interface index must be positive: " + index);
    }
    if (mtu < 68 || mtu > 65535) {
      throw new IllegalArgumentException("MTU must be 68..65535: " + mtu);
    }
    List<IpPrefix> sorted = new ArrayList<>(addresses);
    sorted.sort(ORDER); // stable: keeps the given order within a group
    addresses = List.copyOf(sorted);
  }

  /**
   * An interface with one IPv4 address (the seed's world; kept for source compatibility).
   *
   * @param name the interface name
   * @param index the interface index (positive)
   * @param address its IPv4 address
   * @param prefixLength that address's prefix length (0..32)
   * @param mtu the MTU in bytes
   */
  public NetInterface(String name, int index, Inet4Address address, int prefixLength, int mtu) {
    this(
        name,
        index,
        List.of(new IpPrefix(Objects.requireNonNull(address, "address"), prefixLength)),
        mtu);
  }

  /**
   * @return the first IPv4 address, or null when the interface has none
   */
  public Inet4Address address() {
    return addresses.isEmpty() || addresses.get(0).family() != IpFamily.IPV4
        ? null
        : (Inet4Address) addresses.get(0).address();
  }

  /**
   * @return the prefix length of {@link #address()}, or 0 when the interface has no IPv4 address
   */
  public int prefixLength() {
    return address() == null ? 0 : addresses.get(0).length();
  }

  /**
   * @param family a family
   * @return the interface's first address of that family (for IPv6: link-local last), if any
   */
  public Optional<InetAddress> address(IpFamily family) {
    return prefix(family).map(IpPrefix::address);
  }

  /**
   * @param family a family
   * @return the interface's first address of that family with its prefix length, if any
   */
  public Optional<IpPrefix> prefix(IpFamily family) {
    for (IpPrefix p : addresses) {
      if (p.family() == family) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }

  /**
   * @param candidate an address
   * @return whether the interface has that address
   */
  public boolean hasAddress(InetAddress candidate) {
    for (IpPrefix p : addresses) {
      if (p.address().equals(candidate)) {
        return true;
      }
    }
    return false;
  }

  /**
   * @return the first IPv4 address as host-order bits, 0 when there is none
   */
  public int addressBits() {
    Inet4Address a = address();
    return a == null ? 0 : Ipv4.toInt(a);
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder(name).append('#').append(index);
    for (IpPrefix p : addresses) {
      sb.append(' ').append(p);
    }
    return sb.append(" mtu ").append(mtu).toString();
  }
}
