package org.divert4j;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * An address with a prefix length, of either family: an interface's address with its on-link prefix
 * ({@code 10.0.1.1/24}, {@code fd00:1::1/64}), or a rule's network ({@code fe80::/10}). Immutable
 * and thread-safe; its tests allocate nothing.
 */
public final class IpPrefix {
  private final InetAddress address;
  private final int length;
  private final byte[] bytes;

  /**
   * @param address the address (for a network, any address in it)
   * @param length the prefix length, 0..32 for IPv4 and 0..128 for IPv6
   * @throws IllegalArgumentException if the length is out of range for the family
   */
  public IpPrefix(InetAddress address, int length) {
    Objects.requireNonNull(address, "address");
    int max = IpFamily.of(address).maxPrefixLength();
    if (length < 0 || length > max) {
      throw new IllegalArgumentException(
          "prefix length must be 0.." + max + " for " + IpFamily.of(address) + ": " + length);
    }
    this.address = address;
    this.length = length;
    this.bytes = address.getAddress();
  }

  /**
   * @return the address (for a network, the address it was built with)
   */
  public InetAddress address() {
    return address;
  }

  /**
   * @return the prefix length
   */
  public int length() {
    return length;
  }

  /**
   * Parses {@code address[/length]} of either family without any name lookup; without a length the
   * prefix is the whole address.
   *
   * @param text e.g. {@code 10.0.0.0/8}, {@code fd00::/8}, {@code ::1}
   * @return the prefix
   * @throws IllegalArgumentException naming the text if it is not one
   */
  public static IpPrefix parse(String text) {
    int slash = text.indexOf('/');
    InetAddress a = Ipv6Addresses.parseAny(slash < 0 ? text : text.substring(0, slash));
    int max = IpFamily.of(a).maxPrefixLength();
    if (slash < 0) {
      return new IpPrefix(a, max);
    }
    String len = text.substring(slash + 1);
    if (len.isEmpty() || len.length() > 3 || !len.chars().allMatch(Character::isDigit)) {
      throw new IllegalArgumentException("not a prefix length: '" + text + "'");
    }
    return new IpPrefix(a, Integer.parseInt(len));
  }

  /**
   * @return the address's family
   */
  public IpFamily family() {
    return IpFamily.of(address);
  }

  /**
   * @param other an address
   * @return whether it is of this prefix's family and its first {@link #length()} bits equal the
   *     prefix's
   */
  public boolean contains(InetAddress other) {
    return family().contains(other) && matches(other.getAddress(), 0);
  }

  /**
   * Tests address bytes in place; allocates nothing.
   *
   * @param packet a buffer holding an address of this prefix's family
   * @param offset the absolute offset of its first byte
   * @return whether its first {@link #length()} bits equal the prefix's
   */
  public boolean contains(ByteBuffer packet, int offset) {
    byte[] mine = bytes;
    int full = length >>> 3;
    for (int i = 0; i < full; i++) {
      if (packet.get(offset + i) != mine[i]) {
        return false;
      }
    }
    int rest = length & 7;
    if (rest == 0) {
      return true;
    }
    int mask = (0xff << (8 - rest)) & 0xff;
    return ((packet.get(offset + full) ^ mine[full]) & mask) == 0;
  }

  private boolean matches(byte[] other, int offset) {
    return contains(ByteBuffer.wrap(other), offset);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof IpPrefix p && p.length == length && p.address.equals(address);
  }

  @Override
  public int hashCode() {
    return address.hashCode() * 31 + length;
  }

  @Override
  public String toString() {
    return Ipv6Addresses.toText(address) + "/" + length;
  }
}
