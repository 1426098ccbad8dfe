package org.divert4j;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import org.divert4j.packet.Ipv6View;

/**
 * IPv6 address parsing that never does a name lookup, and the address tests the API needs.
 * Stateless and thread-safe.
 */
public final class Ipv6Addresses {
  /** The unspecified address {@code ::}. */
  public static final Inet6Address ANY = fromBytes(new byte[16]);

  private Ipv6Addresses() {}

  /**
   * Parses an IPv6 address in any RFC 4291 text form ({@code fd00::1}, {@code ::ffff:10.0.0.1}, a
   * zone index is refused) without any name lookup.
   *
   * @param text the address text, optionally in brackets
   * @return the address
   * @throws IllegalArgumentException if the text is not an IPv6 address
   */
  public static Inet6Address parse(String text) {
    String t =
        text.startsWith("[") && text.endsWith("]") ? text.substring(1, text.length() - 1) : text;
    if (t.indexOf(':') < 0 || t.indexOf('%') >= 0 || !t.matches("[0-9A-Fa-f:.]+")) {
      throw new IllegalArgumentException("not an IPv6 address: '" + text + "'");
    }
    try {
      // With only hex digits, ':' and '.', getByName parses the literal and never asks a resolver.
      InetAddress a = InetAddress.getByName(t);
      if (a instanceof Inet6Address six) {
        return six;
      }
      // Java folds ::ffff:a.b.c.d into an Inet4Address; keep it an IPv6 address.
      byte[] b = new byte[16];
      b[10] = (byte) 0xff;
      b[11] = (byte) 0xff;
      System.arraycopy(a.getAddress(), 0, b, 12, 4);
      return fromBytes(b);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("not an IPv6 address: '" + text + "'", e);
    }
  }

  /**
   * Parses an address of either family without any name lookup.
   *
   * @param text a dotted-quad IPv4 or an IPv6 address
   * @return the address
   * @throws IllegalArgumentException if the text is neither
   */
  public static InetAddress parseAny(String text) {
    return text.indexOf(':') >= 0 || text.startsWith("[") ? parse(text) : Ipv4.parse(text);
  }

  /**
   * @param bytes 16 address bytes (copied)
   * @return the address; allocates
   */
  public static Inet6Address fromBytes(byte[] bytes) {
    if (bytes.length != 16) {
      throw new IllegalArgumentException("an IPv6 address has 16 bytes, not " + bytes.length);
    }
    try {
      return Inet6Address.getByAddress(null, bytes, -1);
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  /**
   * @param address an address
   * @return whether it is the unspecified address of its family ({@code 0.0.0.0} or {@code ::})
   */
  public static boolean isUnspecified(InetAddress address) {
    return address == null || address.isAnyLocalAddress();
  }

  /**
   * @param address an address
   * @return whether it is an IPv6 link-local unicast address ({@code fe80::/10})
   */
  public static boolean isLinkLocal6(InetAddress address) {
    return address instanceof Inet6Address && address.isLinkLocalAddress();
  }

  /**
   * @param address an address of either family
   * @return its shortest text form, without zone or brackets ({@code fd00::1}, {@code 10.0.0.1})
   */
  public static String toText(InetAddress address) {
    if (address instanceof Inet4Address) {
      return address.getHostAddress();
    }
    return Ipv6View.formatAddress(ByteBuffer.wrap(address.getAddress()), 0);
  }
}
