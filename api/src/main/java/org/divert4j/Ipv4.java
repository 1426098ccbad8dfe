package org.divert4j;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * Conversions between {@link Inet4Address} and host-order {@code int} addresses, and address
 * parsing that never does a DNS lookup. Stateless and thread-safe.
 */
public final class Ipv4 {
  /** The zero address 0.0.0.0. */
  public static final Inet4Address ANY = fromInt(0);

  private Ipv4() {}

  /**
   * @param address an IPv4 address
   * @return the address as a host-order int (10.0.0.1 is {@code 0x0A000001})
   */
  public static int toInt(Inet4Address address) {
    byte[] b = address.getAddress();
    return (b[0] & 0xff) << 24 | (b[1] & 0xff) << 16 | (b[2] & 0xff) << 8 | (b[3] & 0xff);
  }

  /**
   * @param bits a host-order int address
   * @return the address; allocates
   */
  public static Inet4Address fromInt(int bits) {
    try {
      return (Inet4Address)
          InetAddress.getByAddress(
              new byte[] {
                (byte) (bits >>> 24), (byte) (bits >>> 16), (byte) (bits >>> 8), (byte) bits
              });
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  /**
   * Parses a dotted-quad IPv4 address without any name lookup.
   *
   * @param text e.g. {@code 10.0.0.1}
   * @return the address
   * @throws IllegalArgumentException if the text is not a dotted-quad IPv4 address
   */
  public static Inet4Address parse(String text) {
    return fromInt(parseInt(text));
  }

  /**
   * Parses a dotted-quad IPv4 address to a host-order int without any name lookup.
   *
   * @param text e.g. {@code 10.0.0.1}
   * @return the address bits
   * @throws IllegalArgumentException if the text is not a dotted-quad IPv4 address
   */
  public static int parseInt(String text) {
    String[] parts = text.split("\\.", -1);
    if (parts.length != 4) {
      throw new IllegalArgumentException("not an IPv4 address: '" + text + "'");
    }
    int bits = 0;
    for (String p : parts) {
      if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(Character::isDigit)) {
        throw new IllegalArgumentException("not an IPv4 address: '" + text + "'");
      }
      int v = Integer.parseInt(p);
      if (v > 255) {
        throw new IllegalArgumentException("not an IPv4 address: '" + text + "'");
      }
      bits = bits << 8 | v;
    }
    return bits;
  }

  /**
   * @param bits a host-order int address
   * @return its dotted-quad text
   */
  public static String toString(int bits) {
    return (bits >>> 24)
        + "."
        + (bits >>> 16 & 0xff)
        + "."
        + (bits >>> 8 & 0xff)
        + "."
        + (bits & 0xff);
  }
}
