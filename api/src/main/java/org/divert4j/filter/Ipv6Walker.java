package org.divert4j.filter;

import java.nio.ByteBuffer;

/**
 * Walks IPv6 extension headers to the upper-layer header (SEMANTICS.md S56): hop-by-hop (0),
 * routing (43), destination options (60) and fragment (44), as RFC 8200 section 4 lays them out.
 * The one place that knows the chain, so that a shared IPv6 view can take its place.
 */
final class Ipv6Walker {
  private static final int HOP_BY_HOP = 0;
  private static final int ROUTING = 43;
  private static final int FRAGMENT = 44;
  private static final int DESTINATION = 60;

  private Ipv6Walker() {}

  /**
   * Finds the upper-layer header and sets {@code out.protocol}, {@code out.fragment} and {@code
   * out.firstFragment}.
   *
   * @param offset where the first header after the fixed header starts
   * @param end the end of the datagram
   * @param next the fixed header's Next Header
   * @return the offset of the upper-layer header; -1 with {@code out.protocol} -1 when the chain
   *     runs past the end; -1 with the protocol set for a later fragment, whose upper-layer header
   *     is elsewhere
   */
  static int walk(ByteBuffer b, int offset, int end, int next, Layout out) {
    // Each step advances by 8 bytes or more, so the loop ends within (end - offset) / 8 steps.
    while (true) {
      switch (next) {
        case HOP_BY_HOP, ROUTING, DESTINATION -> {
          if (offset + 8 > end) {
            out.protocol = -1;
            return -1;
          }
          next = b.get(offset) & 0xff;
          offset += ((b.get(offset + 1) & 0xff) + 1) * 8; // RFC 8200 4.3: in 8-octet units
        }
        case FRAGMENT -> {
          if (offset + 8 > end) {
            out.protocol = -1;
            return -1;
          }
          int field = Bytes.u16(b, offset + 2); // offset (13 bits), 2 reserved, M
          out.fragment = (field & 0xfff8) != 0 || (field & 1) != 0; // an atomic fragment is whole
          out.firstFragment = (field & 0xfff8) == 0;
          next = b.get(offset) & 0xff;
          offset += 8;
          if (!out.firstFragment) {
            out.protocol = next;
            return -1;
          }
        }
        default -> {
          if (offset > end) {
            out.protocol = -1;
            return -1;
          }
          out.protocol = next;
          return offset;
        }
      }
    }
  }
}
