package org.divert4j;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * The two IP families (SEMANTICS.md section K). Programs tell the families of packets apart by the
 * version nibble (S54): {@link #of(ByteBuffer)}.
 */
public enum IpFamily {
  /** IPv4: 4-byte addresses, the 20-byte minimum header. */
  IPV4(4, 4, 20),
  /** IPv6: 16-byte addresses, the 40-byte fixed header. */
  IPV6(6, 16, 40);

  private final int version;
  private final int addressLength;
  private final int headerLength;

  IpFamily(int version, int addressLength, int headerLength) {
    this.version = version;
    this.addressLength = addressLength;
    this.headerLength = headerLength;
  }

  /**
   * @return the IP version number, 4 or 6
   */
  public int version() {
    return version;
  }

  /**
   * @return the address length in bytes, 4 or 16
   */
  public int addressLength() {
    return addressLength;
  }

  /**
   * @return the length of the fixed (minimum) header in bytes, 20 or 40
   */
  public int headerLength() {
    return headerLength;
  }

  /**
   * @return the largest prefix length, 32 or 128
   */
  public int maxPrefixLength() {
    return addressLength * 8;
  }

  /**
   * @param address an address
   * @return its family
   */
  public static IpFamily of(InetAddress address) {
    Objects.requireNonNull(address, "address");
    return address instanceof Inet6Address ? IPV6 : IPV4;
  }

  /**
   * The family of a packet by its version nibble. Reads one byte at the buffer's position without
   * moving it; allocates nothing.
   *
   * @param packet an IP packet, position at its first byte
   * @return the family, or null when the packet is empty or its version is neither 4 nor 6
   */
  public static IpFamily of(ByteBuffer packet) {
    if (!packet.hasRemaining()) {
      return null;
    }
    return ofVersion((packet.get(packet.position()) & 0xff) >>> 4);
  }

  /**
   * @param version an IP version number
   * @return its family, or null for a version other than 4 and 6
   */
  public static IpFamily ofVersion(int version) {
    return version == 4 ? IPV4 : version == 6 ? IPV6 : null;
  }

  /**
   * @param address an address
   * @return whether it is of this family
   */
  public boolean contains(InetAddress address) {
    return this == IPV6 ? address instanceof Inet6Address : address instanceof Inet4Address;
  }

  /**
   * @return the unspecified address of the family, {@code 0.0.0.0} or {@code ::}
   */
  public InetAddress any() {
    return this == IPV6 ? Ipv6Addresses.ANY : Ipv4.ANY;
  }

  @Override
  public String toString() {
    return this == IPV6 ? "IPv6" : "IPv4";
  }
}
