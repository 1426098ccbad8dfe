package org.divert4j.sim;

import java.util.ArrayList;
import java.util.List;
import org.divert4j.NetInterface;

/**
 * A simulated node's IPv4 routing table: its interfaces' on-link prefixes, then static routes,
 * longest prefix first, and which addresses are its own. Used inside the network's section only.
 */
final class SimRoutes4 {
  private final List<SimNode.Port> ports; // the node's interfaces, shared and growing
  private final List<int[]> routes = new ArrayList<>(); // {prefix, length, ifIndex}

  /**
   * @param ports the node's interfaces, read at every lookup (the list grows as links are added)
   */
  SimRoutes4(List<SimNode.Port> ports) {
    this.ports = ports;
  }

  /**
   * @param prefix the prefix's address bits (host order)
   * @param length prefix length 0..32
   * @param ifIndex the interface the route leaves by
   */
  void add(int prefix, int length, int ifIndex) {
    int mask = length == 0 ? 0 : -1 << (32 - length);
    routes.add(new int[] {prefix & mask, length, ifIndex});
  }

  /**
   * @param destination an IPv4 address (host order)
   * @return the interface index a packet to it leaves by: loopback for a local address, 0 when
   *     there is no route
   */
  int route(int destination) {
    if (isLocal(destination)) {
      return SimNode.LOOPBACK;
    }
    int best = 0;
    int bestLen = -1;
    for (SimNode.Port p : ports) {
      NetInterface n = p.nif;
      if (n.index() == SimNode.LOOPBACK) {
        continue;
      }
      int len = n.prefixLength();
      int mask = len == 0 ? 0 : -1 << (32 - len);
      if ((destination & mask) == (p.addressBits & mask) && len > bestLen) {
        best = n.index();
        bestLen = len;
      }
    }
    for (int[] r : routes) {
      int mask = r[1] == 0 ? 0 : -1 << (32 - r[1]);
      if ((destination & mask) == r[0] && r[1] > bestLen) {
        best = r[2];
        bestLen = r[1];
      }
    }
    return best;
  }

  /**
   * @param address an IPv4 address (host order)
   * @return true for 127/8 and the node's interface addresses
   */
  boolean isLocal(int address) {
    if ((address >>> 24) == 127) {
      return true;
    }
    for (SimNode.Port p : ports) {
      if (p.addressBits == address) {
        return true;
      }
    }
    return false;
  }
}
