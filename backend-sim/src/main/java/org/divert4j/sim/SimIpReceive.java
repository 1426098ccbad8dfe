package org.divert4j.sim;

import java.nio.ByteBuffer;
import org.divert4j.packet.Checksums;
import org.divert4j.packet.Ipv4View;
import org.divert4j.packet.Ipv6View;

/**
 * The checks a simulated node makes on a frame from the wire before PREROUTING, as ip_rcv and
 * ipv6_rcv do: a packet that fails them is dropped before anything else sees it; one that passes is
 * trimmed to its IP length. Used inside the network's section only.
 */
final class SimIpReceive {
  private final Ipv4View arrival = new Ipv4View();
  private final Ipv6View arrival6 = new Ipv6View();

  /**
   * @param b a frame from position to limit; on success its limit is set to the IP packet's end
   * @return true if the packet goes on to the divert engine
   */
  boolean accept(ByteBuffer b) {
    if (b.remaining() > 0 && (b.get(b.position()) & 0xf0) == 0x60) {
      // ipv6_rcv (ip6_rcv_core, net/ipv6/ip6_input.c) before PREROUTING: at least 40 bytes,
      // version 6, a payload length within the bytes (trailing bytes trimmed), and a hop-by-hop
      // header parsed (ipv6_parse_hopopts). Other extension headers are read later, so a chain
      // that runs past the end still meets the input chain's rules (S56).
      int len = b.remaining();
      if (len < Ipv6View.HEADER_LENGTH) {
        return false;
      }
      arrival6.wrap(b);
      int end = Ipv6View.HEADER_LENGTH + arrival6.payloadLength();
      if (arrival6.version() != 6 || end > len) {
        return false;
      }
      int at = b.position();
      if (arrival6.nextHeader() == Ipv6View.NEXT_HOP_BY_HOP
          && (end < Ipv6View.HEADER_LENGTH + 2
              || end < Ipv6View.HEADER_LENGTH + ((b.get(at + 41) & 0xff) + 1) * 8)) {
        return false;
      }
      b.limit(at + end);
      return true;
    }
    // ip_rcv: a bad header or checksum is dropped before anything else sees the packet.
    arrival.wrap(b);
    if (arrival.check() != null || !Checksums.isIpv4HeaderValid(b, b.position())) {
      return false;
    }
    b.limit(b.position() + arrival.totalLength());
    return true;
  }
}
