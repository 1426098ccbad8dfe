package org.divert4j.rawsocket.internal;

import java.net.Inet6Address;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.divert4j.IpFamily;
import org.divert4j.IpPrefix;
import org.divert4j.Ipv4;
import org.divert4j.NetInterface;

/**
 * An immutable view of one network namespace's interfaces, as {@link Interfaces} last read them:
 * names, MTUs and addresses by index, and the allocation-free lookups the receive and send paths
 * make on it.
 */
public final class InterfaceSnapshot {
  final long takenAt;
  final String[] names; // by index
  final int[] mtus;
  final int[] firstAddress;
  final int[] prefix;
  final int[] localAddresses; // sorted
  final Inet6Address[] firstAddress6; // by index: first global, else link-local (S55)
  final long[] local6; // pairs of (high, low) 64-bit halves of every local IPv6 address
  final int[] localIndexes; // the interface of each local address
  final List<NetInterface> list;

  InterfaceSnapshot(
      long takenAt,
      String[] names,
      int[] mtus,
      int[] firstAddress,
      int[] prefix,
      int[] localAddresses,
      int[] localIndexes,
      List<List<IpPrefix>> v6) {
    this.takenAt = takenAt;
    this.names = names;
    this.mtus = mtus;
    this.firstAddress = firstAddress;
    this.prefix = prefix;
    this.localAddresses = localAddresses;
    this.firstAddress6 = new Inet6Address[names.length];
    this.localIndexes = localIndexes;
    List<NetInterface> l = new ArrayList<>();
    int n6 = 0;
    for (int i = 1; i < names.length; i++) {
      n6 += i < v6.size() ? v6.get(i).size() : 0;
    }
    this.local6 = new long[2 * n6];
    int k = 0;
    for (int i = 1; i < names.length; i++) {
      List<IpPrefix> six = i < v6.size() ? v6.get(i) : List.of();
      for (IpPrefix p : six) {
        ByteBuffer a = ByteBuffer.wrap(p.address().getAddress());
        local6[k++] = a.getLong(0);
        local6[k++] = a.getLong(8);
      }
      if (names[i] != null) {
        List<IpPrefix> all = new ArrayList<>();
        if (firstAddress[i] != 0) {
          all.add(new IpPrefix(Ipv4.fromInt(firstAddress[i]), prefix[i]));
        }
        all.addAll(six);
        NetInterface ni =
            new NetInterface(names[i], i, all, Math.max(68, Math.min(65535, mtus[i])));
        firstAddress6[i] = (Inet6Address) ni.address(IpFamily.IPV6).orElse(null);
        l.add(ni);
      }
    }
    this.list = Collections.unmodifiableList(l);
  }

  /**
   * @param index an interface index
   * @return its first IPv6 address, global before link-local (S55), shared; null if none
   */
  public Inet6Address firstAddress6(int index) {
    return has(index) ? firstAddress6[index] : null;
  }

  /**
   * @param address an IPv6 address
   * @return the index of the interface that has it, or 0
   */
  public int indexOf6(Inet6Address address) {
    for (NetInterface ni : list) {
      for (IpPrefix p : ni.addresses()) {
        if (p.address() == address || p.address().equals(address)) {
          return ni.index();
        }
      }
    }
    return 0;
  }

  /**
   * Whether an IPv6 address is one of this namespace's, without allocating.
   *
   * @param b a buffer
   * @param off where the 16 address bytes start (network order)
   * @return true if some interface has it
   */
  public boolean isLocal6(ByteBuffer b, int off) {
    long hi = b.getLong(off);
    long lo = b.getLong(off + 8);
    if (b.order() != java.nio.ByteOrder.BIG_ENDIAN) {
      hi = Long.reverseBytes(hi);
      lo = Long.reverseBytes(lo);
    }
    for (int i = 0; i < local6.length; i += 2) {
      if (local6[i] == hi && local6[i + 1] == lo) {
        return true;
      }
    }
    return false;
  }

  /**
   * @param index an interface index
   * @return true if an interface has it
   */
  public boolean has(int index) {
    return index > 0 && index < names.length && names[index] != null;
  }

  /**
   * @param index an interface index
   * @return its name, or "" if unknown
   */
  public String name(int index) {
    return has(index) ? names[index] : "";
  }

  /**
   * @param index an interface index
   * @return its MTU, or 0 if unknown
   */
  public int mtu(int index) {
    return has(index) ? mtus[index] : 0;
  }

  /**
   * @param index an interface index
   * @return its first IPv4 address (host order), 0 if none
   */
  public int firstAddress(int index) {
    return has(index) ? firstAddress[index] : 0;
  }

  /**
   * @param address host-order address bits
   * @return true if some interface has it
   */
  public boolean isLocal(int address) {
    return Arrays.binarySearch(localAddresses, address) >= 0;
  }

  /**
   * @param address host-order address bits
   * @return the index of the interface that has it among its addresses (the first such if several
   *     do), or 0 if none
   */
  public int indexOfLocal(int address) {
    int i = Arrays.binarySearch(localAddresses, address);
    if (i < 0) {
      return 0;
    }
    while (i > 0 && localAddresses[i - 1] == address) {
      i--;
    }
    return localIndexes[i];
  }

  /**
   * @param address host-order address bits
   * @return the index of an interface that has it, or 0
   */
  public int indexOf(int address) {
    for (int i = 1; i < names.length; i++) {
      if (names[i] != null && firstAddress[i] == address) {
        return i;
      }
    }
    return 0;
  }

  /**
   * @param name an interface name
   * @return its index, or 0
   */
  public int indexOf(String name) {
    for (int i = 1; i < names.length; i++) {
      if (name.equals(names[i])) {
        return i;
      }
    }
    return 0;
  }

  /**
   * @return the interfaces in index order
   */
  public List<NetInterface> list() {
    return list;
  }
}
