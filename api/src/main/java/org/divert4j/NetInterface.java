package org.divert4j;

import java.net.Inet4Address;
import java.util.Objects;

/**
 * One network interface of a host, as divert4j sees it.
 *
 * @param name the interface name, e.g. {@code eth0}
 * @param index the interface index (positive)
 * @param address the interface's first IPv4 address
 * @param prefixLength the length of that address's network prefix (0..32)
 * @param mtu the interface MTU in bytes
 */
public record NetInterface(
    String name, int index, Inet4Address address, int prefixLength, int mtu) {
  /**
   * Checks the components.
   *
   * @param name the interface name, e.g. {@code eth0}
   * @param index the interface index (positive)
   * @param address the interface's first IPv4 address
   * @param prefixLength the length of that address's network prefix (0..32)
   * @param mtu the interface MTU in bytes
   */
  public NetInterface {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(address, "address");
    if (index <= 0) {
      throw new IllegalArgumentException("interface index must be positive: " + index);
    }
    if (prefixLength < 0 || prefixLength > 32) {
      throw new IllegalArgumentException("prefix length must be 0..32: " + prefixLength);
    }
    if (mtu < 68 || mtu > 65535) {
      throw new IllegalArgumentException("MTU must be 68..65535: " + mtu);
    }
  }

  /**
   * @return the address as a host-order int, e.g. 10.0.0.1 is {@code 0x0A000001}
   */
  public int addressBits() {
    return Ipv4.toInt(address);
  }

  @Override
  public String toString() {
    return name + "#" + index + " " + address.getHostAddress() + "/" + prefixLength + " mtu " + mtu;
  }
}
