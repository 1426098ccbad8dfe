package org.divert4j.stack;

import java.net.Inet6Address;
import java.util.List;
import org.divert4j.AddressNotAvailableException;
import org.divert4j.Ipv4;
import org.divert4j.NetInterface;

/**
 * The interfaces an engine serves, looked up by index without allocating: each one's name, IPv4
 * address (computed once, since {@link NetInterface#addressBits()} copies the address) and IPv6
 * addresses ({@link Ipv6Support}). Immutable after construction; shared by the engine's parts.
 */
final class EngineInterfaces {
  private final List<NetInterface> list;
  private final NetInterface[] byIndex;
  private final String[] names;
  private final int[] addressBits;
  private final Ipv6Support six;

  EngineInterfaces(List<NetInterface> interfaces) {
    this.list = List.copyOf(interfaces);
    int max = 0;
    for (NetInterface i : list) {
      max = Math.max(max, i.index());
    }
    this.byIndex = new NetInterface[max + 1];
    this.names = new String[max + 1];
    this.addressBits = new int[max + 1];
    for (NetInterface i : list) {
      byIndex[i.index()] = i;
      names[i.index()] = i.name();
      addressBits[i.index()] = i.addressBits();
    }
    this.six = new Ipv6Support(list, max);
  }

  /** The interfaces, in the environment's order. */
  List<NetInterface> list() {
    return list;
  }

  /** True if an interface has this index (a route to any other index is no route). */
  boolean exists(int index) {
    return index > 0 && index < byIndex.length && byIndex[index] != null;
  }

  /** The interface with this index, or null if there is none. */
  NetInterface at(int index) {
    return index > 0 && index < byIndex.length ? byIndex[index] : null;
  }

  /** The name of the interface with this index, or null if there is none (a rule's view). */
  String nameOrNull(int index) {
    return index > 0 && index < names.length ? names[index] : null;
  }

  /** The name of the interface with this index, or "" if there is none. */
  String name(int index) {
    String n = nameOrNull(index);
    return n == null ? "" : n;
  }

  /** The address of the interface with this index (host order), or 0 if there is none. */
  int address(int index) {
    return index > 0 && index < addressBits.length ? addressBits[index] : 0;
  }

  /** True if the interface with this index has an address in 127.0.0.0/8. */
  boolean isLoopback(int index) {
    return index > 0 && index < addressBits.length && (addressBits[index] >>> 24) == 127;
  }

  /** The first IPv6 address of the interface with this index (S55), shared; null if none. */
  Inet6Address address6(int index) {
    return six.firstAddress(index);
  }

  /**
   * The interface that has an IPv4 address.
   *
   * @throws AddressNotAvailableException if none has it (S36)
   */
  int withAddress(int address) throws AddressNotAvailableException {
    for (NetInterface i : list) {
      if (i.addressBits() == address) {
        return i.index();
      }
    }
    throw new AddressNotAvailableException(Ipv4.fromInt(address)); // S36
  }

  /**
   * The interface that has an IPv6 address (S60).
   *
   * @throws AddressNotAvailableException if none has it (S36)
   */
  int withAddress6(Inet6Address address) throws AddressNotAvailableException {
    return six.interfaceWith(address);
  }
}
