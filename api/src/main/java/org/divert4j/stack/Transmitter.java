package org.divert4j.stack;

import java.nio.ByteBuffer;
import org.divert4j.NetInterface;
import org.divert4j.packet.FragmentSink;

/**
 * The last step of the packet's path, after the output chain: hands a packet to the wire through
 * {@link StackEnvironment#transmit(ByteBuffer, int, int)}, fragmenting to the egress MTU what is
 * longer (ALWAYS_DEFRAGMENT mode, S23, S25, S29; an IPv6 datagram with a new Identification, S58;
 * an IPv4 one with DF set is dropped). Used inside the engine's section; allocates nothing.
 */
final class Transmitter {
  private final StackEnvironment env;
  private final EngineInterfaces interfaces;
  private final MtuFragmenter fragmenter;

  // The current fragment's egress and mark, for the sink (saved and restored around each use,
  // since the environment may reenter the engine while a fragment is transmitted).
  private int sinkOut;
  private int sinkMark;
  private final FragmentSink toWire;

  Transmitter(StackEnvironment env, EngineInterfaces interfaces, MtuFragmenter fragmenter) {
    this.env = env;
    this.interfaces = interfaces;
    this.fragmenter = fragmenter;
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
    if (!Ipv6Support.isIpv6(p) && (p.get(p.position() + 6) & 0x40) != 0) {
      return; // DF and too large: dropped
    }
    int savedOut = sinkOut;
    int savedMark = sinkMark;
    sinkOut = out;
    sinkMark = mark;
    try {
      fragmenter.fragment(p, oi.mtu(), toWire); // S23, S25, S29; IPv6: S58
    } finally {
      sinkOut = savedOut;
      sinkMark = savedMark;
    }
  }
}
