package org.divert4j.sim;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.IpFamily;
import org.divert4j.IpPrefix;
import org.divert4j.Ipv4;
import org.divert4j.Ipv6Addresses;

/**
 * The addresses of simulated interfaces (IPV6-BRIEF "Addresses in every test bed"): an interface
 * given an IPv4 address {@code 10.0.L.N/24} also gets {@code fd00:L::N/64} (for any other IPv4
 * address {@code a.b.c.d}: {@code fd00:a:b:c::d/64}), unless an IPv6 address is given with it, and
 * always a link-local address {@code fe80::N:I/64} (N the last byte of the IPv4 address, I the
 * interface index), unique on each link of the standard topologies. IPv4 routes are mirrored the
 * same way. Stateless.
 */
final class SimAddresses {
  private SimAddresses() {}

  /**
   * @param spec one or more addresses with prefix, comma-separated, e.g. {@code 10.0.1.1/24} or
   *     {@code 10.0.1.1/24,fd00:1::1/64}; an address without prefix is /24 (IPv4) or /64 (IPv6)
   * @param index the interface index
   * @return the interface's addresses, IPv4 first, link-local last
   */
  static List<IpPrefix> interfaceAddresses(String spec, int index) {
    List<IpPrefix> out = new ArrayList<>();
    Inet4Address four = null;
    boolean global6 = false;
    for (String part : spec.split(",")) {
      String t = part.trim();
      String[] parts = t.split("/");
      InetAddress a = Ipv6Addresses.parseAny(parts[0]);
      int len = parts.length > 1 ? Integer.parseInt(parts[1]) : a instanceof Inet4Address ? 24 : 64;
      out.add(new IpPrefix(a, len));
      if (a instanceof Inet4Address f) {
        four = four == null ? f : four;
      } else if (!Ipv6Addresses.isLinkLocal6(a)) {
        global6 = true;
      }
    }
    if (four != null && !global6) {
      out.add(new IpPrefix(derived(four), 64));
    }
    int n = four == null ? 1 : Ipv4.toInt(four) & 0xff;
    out.add(
        new IpPrefix(
            Ipv6Addresses.parse(
                "fe80::" + Integer.toHexString(n) + ":" + Integer.toHexString(index)),
            64));
    return out;
  }

  /** The IPv6 address that goes with an IPv4 one: 10.0.L.N gives fd00:L::N. */
  static InetAddress derived(Inet4Address four) {
    int a = Ipv4.toInt(four);
    int b0 = a >>> 24;
    int b1 = (a >>> 16) & 0xff;
    int b2 = (a >>> 8) & 0xff;
    int b3 = a & 0xff;
    if (b0 == 10 && b1 == 0) {
      return Ipv6Addresses.parse("fd00:" + b2 + "::" + b3);
    }
    return Ipv6Addresses.parse("fd00:" + b0 + ":" + b1 + ":" + b2 + "::" + b3);
  }

  /**
   * The IPv6 route that mirrors an IPv4 one, or null when there is none to make: {@code
   * 10.0.L.0/24} (or longer) gives {@code fd00:L::/64}, {@code 10.0.0.0/16} (or longer, up to /23)
   * gives {@code fd00::/16}, a default route gives {@code ::/0}.
   */
  static IpPrefix mirror(IpPrefix route) {
    if (route.family() != IpFamily.IPV4) {
      return null;
    }
    if (route.length() == 0) {
      return new IpPrefix(Ipv6Addresses.ANY, 0);
    }
    int a = Ipv4.toInt((Inet4Address) route.address());
    if ((a >>> 16) == 0x0a00 && route.length() >= 16) {
      return route.length() >= 24
          ? new IpPrefix(derived((Inet4Address) route.address()), 64)
          : new IpPrefix(Ipv6Addresses.parse("fd00::"), 16);
    }
    if (route.length() >= 24) {
      return new IpPrefix(derived((Inet4Address) route.address()), 64);
    }
    return null;
  }
}
