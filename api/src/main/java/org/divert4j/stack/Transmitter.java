package org.divert4j.stack;

import java.nio.ByteBuffer;
import org.divert4j.DivertException;
import org.divert4j.NetInterface;
import org.divert4j.packet.FragmentSink;
import org.divert4j.packet.Fragmenter;
import org.divert4j.packet.Ipv6Fragmenter;

/**
 * The last step of the packet's path, after the output chain: hands a packet to the wire through
 * {@link StackEnvironment#transmit(ByteBuffer, int, int)}, fragmenting to the egress MTU what is
 * longer (ALWAYS_DEFRAGMENT mode, S23, S25, S29; an IPv6 datagram with a new Identification, S58;
 * an IPv4 one with DF set is dropped). Used inside the engine's section; allocates nothing.
 */
final class Transmitter {
  private final StackEnvironment env;
  private final EngineInterfaces interfaces;
  private final Identifications ids;
  private final Fragmenter fragmenter = new Fragmenter();
  private final Ipv6Fragmenter fragmenter6 = new Ipv6Fragmenter();

  // The current fragment's egress and mark, for the sink (saved and restored around each use,
  // since the environment may reenter the engine while a fragment is transmitted).
  private int sinkOut;
  private int sinkMark;
  private final FragmentSink toWire;

  Transmitter(StackEnvironment env, EngineInterfaces interfaces, Identifications ids) {
    this.env = env;
    this.interfaces = interfaces;
    this.ids = ids;
    this.toWire = fragment -> env.transmit(fragment, sinkOut, sinkMark);
  }

  /**
   * Transmits a packet on an interface, in fragments if it is longer than the MTU.
   *
   * @param p the packet, from position to limit
   * @param out the egress interface, which exists
   * @param mark the packet's firewall mark (S73)
   */
  void transmit(ByteBuffer p, int out, int mark) {
    NetInterface oi = interfaces.at(out);
    if (p.remaining() <= oi.mtu()) {
      env.transmit(p, out, mark);
      return;
    }
    boolean v6 = Ipv6Support.isIpv6(p);
    if (!v6 && (p.get(p.position() + 6) & 0x40) != 0) {
      return; // DF and too large: dropped
    }
    int savedOut = sinkOut;
    int savedMark = sinkMark;
    sinkOut = out;
    sinkMark = mark;
    try {
      if (v6) {
        fragmenter6.fragment(p, oi.mtu(), ids.nextIpv6Fragment(), toWire); // S58
      } else {
        fragmenter.fragment(p, oi.mtu(), toWire); // S23, S25, S29
      }
    } catch (DivertException e) {
      if (!v6) {
        throw new IllegalStateException(e);
      }
      // IPv6: the unfragmentable part leaves no room in the MTU (or the datagram is malformed):
      // Linux's ip6_fragment fails with EMSGSIZE and the datagram is dropped; so here.
    } finally {
      sinkOut = savedOut;
      sinkMark = savedMark;
    }
  }
}
