package org.divert4j.pcap.internal;

import java.nio.ByteBuffer;
import java.util.Arrays;
import org.divert4j.packet.Ipv6View;

/**
 * Which MAC address each IPv6 address uses, learned from the frames that cross the segment: what
 * {@link LinkLayer} learns from ARP and IPv4 frames for IPv4.
 *
 * <ul>
 *   <li>the source MAC of every IPv6 frame, for its source address ("strong"; never for the
 *       unspecified address {@code ::}, which duplicate address detection sends from), and its
 *       destination MAC for its destination address when nothing strong is known ("weak");
 *   <li>neighbour discovery (RFC 4861 section 4): the Source Link-Layer Address option of router
 *       and neighbour solicitations and router advertisements, for the packet's source address; the
 *       Target Link-Layer Address option of neighbour advertisements and redirects, for their
 *       target address. Both strong.
 * </ul>
 *
 * <p>Multicast destinations (ff00::/8) are not looked up: their MAC is {@code 33:33} and the
 * address's last 32 bits (RFC 2464 section 7).
 *
 * <p>Not thread-safe (one thread or the engine's section at a time). Allocates nothing per packet:
 * an open-addressing table of 4096 entries that starts over when three quarters full.
 */
final class Neighbours6 {
  static final int ICMPV6 = 58;
  static final int ROUTER_SOLICITATION = 133;
  static final int ROUTER_ADVERTISEMENT = 134;
  static final int NEIGHBOUR_SOLICITATION = 135;
  static final int NEIGHBOUR_ADVERTISEMENT = 136;
  static final int REDIRECT = 137;
  static final int OPTION_SOURCE_LINK_ADDRESS = 1;
  static final int OPTION_TARGET_LINK_ADDRESS = 2;

  private static final long STRONG = 1L << 48;
  private static final long USED = 1L << 49;
  private static final int SIZE = 4096;

  private final long[] hi = new long[SIZE];
  private final long[] lo = new long[SIZE];
  private final long[] values = new long[SIZE]; // 0 = empty; MAC | STRONG | USED | extra bits
  private int used;

  /**
   * Learns from an IPv6 packet seen in a frame with these MAC addresses.
   *
   * @param p the frame's bytes
   * @param l3 where the IPv6 header starts
   * @param end where the captured frame ends
   * @param src the frame's source MAC
   * @param dst the frame's destination MAC, or {@link LinkLayer#NONE} for a link type without one
   * @param extra bits 50 and up to keep with the source's entry (a cooked capture's packet type)
   */
  void learn(ByteBuffer p, int l3, int end, long src, long dst, long extra) {
    if (end - l3 < Ipv6View.HEADER_LENGTH || (p.get(l3) & 0xf0) != 0x60) {
      return;
    }
    put(p, l3 + 8, src | extra, true);
    if (dst != LinkLayer.NONE) {
      put(p, l3 + 24, dst, false);
    }
    int packetEnd = Math.min(end, l3 + Ipv6View.HEADER_LENGTH + (p.getShort(l3 + 4) & 0xffff));
    long w = Ipv6View.walk(p, l3, packetEnd);
    if (Ipv6View.pastEnd(w) || Ipv6View.upperProtocol(w) != ICMPV6) {
      return;
    }
    int icmp = l3 + Ipv6View.upperOffset(w);
    if (icmp + 8 > packetEnd) {
      return;
    }
    switch (p.get(icmp) & 0xff) {
      case ROUTER_SOLICITATION ->
          options(p, icmp + 8, packetEnd, OPTION_SOURCE_LINK_ADDRESS, l3 + 8);
      case ROUTER_ADVERTISEMENT ->
          options(p, icmp + 16, packetEnd, OPTION_SOURCE_LINK_ADDRESS, l3 + 8);
      case NEIGHBOUR_SOLICITATION ->
          options(p, icmp + 24, packetEnd, OPTION_SOURCE_LINK_ADDRESS, l3 + 8);
      case NEIGHBOUR_ADVERTISEMENT ->
          options(p, icmp + 24, packetEnd, OPTION_TARGET_LINK_ADDRESS, icmp + 8);
      case REDIRECT -> options(p, icmp + 40, packetEnd, OPTION_TARGET_LINK_ADDRESS, icmp + 8);
      default -> {}
    }
  }

  /**
   * Walks ND options (type, length in units of 8 bytes, data; RFC 4861 section 4.6) and learns the
   * Ethernet address of the wanted one (length 1: 6 bytes of MAC after type and length) for the
   * address at {@code addressAt}, which must lie inside the packet.
   */
  private void options(ByteBuffer p, int at, int end, int wanted, int addressAt) {
    if (addressAt + 16 > end) {
      return;
    }
    while (at + 8 <= end) {
      int type = p.get(at) & 0xff;
      int units = p.get(at + 1) & 0xff;
      if (units == 0) {
        return; // RFC 4861 section 4.6: nodes MUST silently discard such a packet
      }
      if (type == wanted && units == 1) {
        put(p, addressAt, LinkLayer.mac(p, at + 2), true);
        return;
      }
      at += units * 8;
    }
  }

  /**
   * @param p a buffer holding an IPv6 address
   * @param at its first of 16 bytes
   * @return the MAC learned for it, or {@link LinkLayer#NONE}
   */
  long get(ByteBuffer p, int at) {
    long v = raw(p.getLong(at), p.getLong(at + 8));
    return v == 0 ? LinkLayer.NONE : v & 0xffffffffffffL;
  }

  /**
   * @return the entry's extra bits (bit 50 and up) as stored, 0 if unknown
   */
  long extra(ByteBuffer p, int at) {
    return raw(p.getLong(at), p.getLong(at + 8)) & ~(STRONG | USED | 0xffffffffffffL);
  }

  /**
   * Checks an IPv6 packet as Linux's {@code ip6_rcv_core} (net/ipv6/ip6_input.c) does before
   * PREROUTING: at least 40 bytes, version 6, a payload length within the bytes, and a hop-by-hop
   * header that fits ({@code ipv6_parse_hopopts}). Other extension headers are read later, so a
   * chain that runs past the end still meets the rules (S56). Allocates nothing.
   *
   * @param p the bytes
   * @param at where the IPv6 header starts
   * @param end where the captured bytes end
   * @return where the packet ends (40 plus its payload length; trailing bytes such as Ethernet
   *     padding are not part of it), or -1 if the kernel would drop it
   */
  static int arrivalEnd(ByteBuffer p, int at, int end) {
    if (end - at < Ipv6View.HEADER_LENGTH || (p.get(at) & 0xf0) != 0x60) {
      return -1;
    }
    int packetEnd = at + Ipv6View.HEADER_LENGTH + (p.getShort(at + 4) & 0xffff);
    if (packetEnd > end) {
      return -1;
    }
    if ((p.get(at + 6) & 0xff) == Ipv6View.NEXT_HOP_BY_HOP
        && (packetEnd < at + Ipv6View.HEADER_LENGTH + 2
            || packetEnd < at + Ipv6View.HEADER_LENGTH + ((p.get(at + 41) & 0xff) + 1) * 8)) {
      return -1;
    }
    return packetEnd;
  }

  /** True for a multicast address (ff00::/8). */
  static boolean isMulticast(ByteBuffer p, int at) {
    return p.get(at) == (byte) 0xff;
  }

  /** The Ethernet MAC of an IPv6 multicast address (RFC 2464 section 7). */
  static long multicastMac(ByteBuffer p, int at) {
    return 0x333300000000L | (p.getInt(at + 12) & 0xffffffffL);
  }

  private void put(ByteBuffer p, int at, long mac, boolean strong) {
    long h = p.getLong(at);
    long l = p.getLong(at + 8);
    if ((h | l) == 0 || (h >>> 56) == 0xff) {
      return; // the unspecified address, or a multicast one: never a host's own
    }
    if (strong && (mac & 0x010000000000L) != 0) {
      return; // a group MAC is never a host's source
    }
    int i = slot(h, l);
    while (values[i] != 0) {
      if (hi[i] == h && lo[i] == l) {
        if (strong || (values[i] & STRONG) == 0) {
          values[i] = mac | (strong ? STRONG : 0) | USED;
        }
        return;
      }
      i = (i + 1) & (SIZE - 1);
    }
    if (used >= SIZE * 3 / 4) {
      Arrays.fill(values, 0); // full: start learning again
      used = 0;
      i = slot(h, l);
    }
    hi[i] = h;
    lo[i] = l;
    values[i] = mac | (strong ? STRONG : 0) | USED;
    used++;
  }

  private long raw(long h, long l) {
    int i = slot(h, l);
    while (values[i] != 0) {
      if (hi[i] == h && lo[i] == l) {
        return values[i];
      }
      i = (i + 1) & (SIZE - 1);
    }
    return 0;
  }

  private static int slot(long h, long l) {
    long x = h * 0x9e3779b97f4a7c15L ^ l * 0xc2b2ae3d27d4eb4fL;
    return (int) (x ^ (x >>> 31)) & (SIZE - 1);
  }
}
