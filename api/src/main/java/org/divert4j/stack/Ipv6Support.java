package org.divert4j.stack;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.AddressNotAvailableException;
import org.divert4j.IpFamily;
import org.divert4j.IpPrefix;
import org.divert4j.NetInterface;
import org.divert4j.NoRouteException;
import org.divert4j.packet.Ipv6View;

/**
 * The engine's IPv6 knowledge of its interfaces (SEMANTICS.md S55, S60): each interface's IPv6
 * addresses as shared objects, made once, so that recording a received packet's interface address
 * and finding the interface of an injection address allocate nothing; and routing with the
 * link-local rule of S60. Immutable after construction; used inside the engine's section.
 */
final class Ipv6Support {
  private static final Inet6Address[] NONE = new Inet6Address[0];

  /** Per interface index: its IPv6 addresses in NetInterface order (link-local last). */
  private final Inet6Address[][] addresses;

  Ipv6Support(List<NetInterface> interfaces, int maxIndex) {
    addresses = new Inet6Address[maxIndex + 1][];
    for (int i = 0; i <= maxIndex; i++) {
      addresses[i] = NONE;
    }
    for (NetInterface nif : interfaces) {
      List<Inet6Address> six = new ArrayList<>();
      for (IpPrefix p : nif.addresses()) {
        if (p.family() == IpFamily.IPV6) {
          six.add((Inet6Address) p.address());
        }
      }
      addresses[nif.index()] = six.toArray(NONE);
    }
  }

  /**
   * @param index an interface index
   * @return its first IPv6 address (S55: link-local last), shared; null if it has none
   */
  Inet6Address firstAddress(int index) {
    if (index <= 0 || index >= addresses.length) {
      return null;
    }
    Inet6Address[] a = addresses[index];
    return a.length == 0 ? null : a[0];
  }

  /**
   * The interface that has an IPv6 address (S60: for a link-local address, the interface whose
   * address it is). Allocates nothing.
   *
   * @throws AddressNotAvailableException if no interface has it (S36)
   */
  int interfaceWith(Inet6Address address) throws AddressNotAvailableException {
    for (int i = 1; i < addresses.length; i++) {
      for (Inet6Address a : addresses[i]) {
        if (a.equals(address)) {
          return i;
        }
      }
    }
    throw new AddressNotAvailableException(address);
  }

  /** True if the 16 bytes at {@code at} are a link-local unicast address (fe80::/10). */
  static boolean isLinkLocal(ByteBuffer p, int at) {
    return (p.get(at) & 0xff) == 0xfe && (p.get(at + 1) & 0xc0) == 0x80;
  }

  /** True if the packet at its position is IPv6 by its version nibble. */
  static boolean isIpv6(ByteBuffer p) {
    return p.remaining() > 0 && (p.get(p.position()) & 0xf0) == 0x60;
  }

  /**
   * Routes an IPv6 packet by its destination (S60): a link-local destination leaves by the given
   * interface (the one of the packet's divert address) or has no route.
   *
   * @param env the backend's routes
   * @param p the packet, from its position
   * @param linkInterface the interface of the packet's divert address, 0 for none
   * @return the egress interface index, 0 when there is no route
   */
  static int route(StackEnvironment env, ByteBuffer p, int linkInterface) {
    int dst = p.position() + 24;
    if (isLinkLocal(p, dst)) {
      return linkInterface;
    }
    return env.route6(p, dst);
  }

  /** The "no route" error for an IPv6 packet's destination (S49, S60); allocates. */
  static NoRouteException noRoute(ByteBuffer p) {
    byte[] a = new byte[16];
    p.get(p.position() + 24, a);
    try {
      return new NoRouteException(InetAddress.getByAddress(a), 0);
    } catch (java.net.UnknownHostException e) {
      throw new AssertionError("16 bytes are always an address", e);
    }
  }

  /**
   * Decrements the hop limit of a packet being forwarded (RFC 8200: no header checksum to update).
   *
   * @return false if the hop limit was 1 or less: the packet is not forwarded
   */
  static boolean decrementHopLimit(ByteBuffer p) {
    int at = p.position() + 7;
    int hops = p.get(at) & 0xff;
    if (hops <= 1) {
      return false;
    }
    p.put(at, (byte) (hops - 1));
    return true;
  }

  /**
   * True if the packet is an IPv6 fragment (a Fragment header with M set or a non-zero offset; an
   * atomic fragment is whole, RFC 6946). Allocates nothing.
   */
  static boolean isFragment(ByteBuffer p) {
    int base = p.position();
    int end = base + Math.min(p.remaining(), 40 + (p.getShort(base + 4) & 0xffff));
    long w = Ipv6View.walk(p, base, end);
    int f = Ipv6View.fragmentHeader(w);
    return f != 0 && (p.getShort(base + f + 2) & 0xfff9) != 0;
  }
}
