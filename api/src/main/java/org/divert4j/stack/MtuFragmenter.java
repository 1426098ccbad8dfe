package org.divert4j.stack;

import java.nio.ByteBuffer;
import org.divert4j.DivertException;
import org.divert4j.packet.FragmentSink;
import org.divert4j.packet.Fragmenter;
import org.divert4j.packet.Ipv6Fragmenter;

/**
 * Fragments a datagram of either family to an MTU, each fragment to a sink: IPv4 as {@link
 * Fragmenter} does (S23, S25, S29), IPv6 with a new Identification (S57, S58). Not reentrant: a
 * step of the path that may run while another fragments has its own. Used inside the engine's
 * section; allocates nothing.
 */
final class MtuFragmenter {
  private final Fragmenter fragmenter = new Fragmenter();
  private final Ipv6Fragmenter fragmenter6 = new Ipv6Fragmenter();
  private final Identifications ids;

  MtuFragmenter(Identifications ids) {
    this.ids = ids;
  }

  /**
   * Fragments a datagram longer than the MTU; the caller has dropped an IPv4 one with DF set.
   *
   * @param p the datagram, from position to limit
   * @param mtu the egress MTU
   * @param sink where each fragment goes, in order
   */
  void fragment(ByteBuffer p, int mtu, FragmentSink sink) {
    if (!Ipv6Support.isIpv6(p)) {
      try {
        fragmenter.fragment(p, mtu, sink);
      } catch (DivertException e) {
        throw new IllegalStateException(e);
      }
      return;
    }
    try {
      fragmenter6.fragment(p, mtu, ids.nextIpv6Fragment(), sink);
    } catch (DivertException e) {
      // The unfragmentable part leaves no room in the MTU (or the datagram is malformed): Linux's
      // ip6_fragment fails with EMSGSIZE and the datagram is dropped; so here.
    }
  }
}
