package org.divert4j.pcap.internal;

import static org.divert4j.pcap.internal.LinkTypes.*;

import java.nio.ByteBuffer;

/**
 * Link-layer framing: finds the IP packet (IPv4 or IPv6) in a captured frame, learns which MAC
 * address each IP address uses, and writes a link-layer header in front of an IP packet the engine
 * sends.
 *
 * <p>Supported link types: Ethernet ({@code DLT_EN10MB}, ethertypes 0x0800 and 0x86DD; no VLAN
 * tags: tagged frames are not IP here and pass untouched), raw IP ({@code DLT_RAW}, either family
 * by the version nibble; {@code LINKTYPE_IPV4}, {@code LINKTYPE_IPV6}), and Linux cooked captures
 * ({@code DLT_LINUX_SLL}, {@code DLT_LINUX_SLL2}, what {@code tcpdump -i any} writes).
 *
 * <p>MAC learning, for Ethernet and cooked headers: the source MAC of every IPv4 frame is learned
 * as the MAC of its source address ("strong"), its destination MAC as that of its destination
 * address when nothing strong is known ("weak": the first packet toward a host behind a router then
 * goes to the router's MAC), and ARP senders are learned strongly ({@link Neighbours4}). IPv6
 * addresses are learned the same way, and from neighbour discovery instead of ARP ({@link
 * Neighbours6}). A packet to send gets the destination MAC of its destination address and the
 * source MAC of its source address; unknown ones fall back to the addresses of the last frame seen
 * going the same way, then to the broadcast address (destination) or the interface's own MAC
 * (source). Broadcast and multicast destinations get their standard MACs (IPv6 multicast: {@code
 * 33:33} and the last 32 bits, RFC 2464). For a transparent segment this reproduces the frames the
 * two sides exchanged.
 *
 * <p>Not thread-safe: one thread (or the engine's exclusive section) at a time. Allocates nothing
 * per packet.
 */
final class LinkLayer {

  /** Index of frames going in (outside to inside; toward the local host). */
  static final int INBOUND = 0;

  /** Index of frames going out (inside to outside; from the local host). */
  static final int OUTBOUND = 1;

  static final long BROADCAST = 0xffffffffffffL;
  static final long NONE = -1;

  private static final int ETHERTYPE_IPV4 = 0x0800;
  private static final int ETHERTYPE_ARP = 0x0806;
  private static final int ETHERTYPE_IPV6 = 0x86DD;
  private static final int PACKET_OUTGOING = 4;

  private final int linkType;
  private final long[] lastSource = {NONE, NONE};
  private final long[] lastDestination = {NONE, NONE};
  private final long[] ownMac = {NONE, NONE};
  private final int[] lastInterfaceIndex = new int[2];
  private final Neighbours4 four = new Neighbours4();
  private final Neighbours6 six = new Neighbours6();

  /**
   * @param linkType the DLT_ value of the frames
   */
  LinkLayer(int linkType) {
    if (!supported(linkType)) {
      throw new IllegalArgumentException("unsupported link type " + linkType);
    }
    this.linkType = linkType;
  }

  /**
   * @return the link type
   */
  int linkType() {
    return linkType;
  }

  /**
   * Sets an interface's own MAC, the last resort for source addresses.
   *
   * @param direction {@link #INBOUND} (the interface that transmits toward the host) or {@link
   *     #OUTBOUND}
   * @param mac the MAC
   */
  void ownMac(int direction, long mac) {
    ownMac[direction] = mac;
  }

  /**
   * Finds the IPv4 packet in a frame.
   *
   * @param frame the frame's bytes
   * @param offset where the frame starts
   * @param length its captured length
   * @return the offset of the IPv4 header, or -1 if the frame carries no IPv4 packet
   */
  int ipv4Offset(ByteBuffer frame, int offset, int length) {
    int ip = ipOffset(frame, offset, length);
    return ip >= 0 && (frame.get(ip) & 0xf0) == 0x40 ? ip : -1;
  }

  /**
   * Finds the IP packet of either family in a frame: the ethertype says which (0x0800 or 0x86DD),
   * or for raw IP the version nibble.
   *
   * @param frame the frame's bytes
   * @param offset where the frame starts
   * @param length its captured length
   * @return the offset of the IP header (its version nibble is 4 or 6), or -1 if the frame carries
   *     no IP packet
   */
  int ipOffset(ByteBuffer frame, int offset, int length) {
    int h;
    int type;
    switch (linkType) {
      case DLT_EN10MB:
        h = 14;
        type = length >= 14 ? frame.getShort(offset + 12) & 0xffff : -1;
        break;
      case DLT_LINUX_SLL:
        h = 16;
        type = length >= 16 ? frame.getShort(offset + 14) & 0xffff : -1;
        break;
      case DLT_LINUX_SLL2:
        h = 20;
        type = length >= 20 ? frame.getShort(offset) & 0xffff : -1;
        break;
      case DLT_IPV4:
        h = 0;
        type = ETHERTYPE_IPV4;
        break;
      case DLT_IPV6:
        h = 0;
        type = ETHERTYPE_IPV6;
        break;
      default: // raw IP: the version nibble decides
        h = 0;
        type =
            length < 1 ? -1 : (frame.get(offset) & 0xf0) == 0x60 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
    }
    if (type == ETHERTYPE_IPV4) {
      return length >= h + 20 && (frame.get(offset + h) & 0xf0) == 0x40 ? offset + h : -1;
    }
    if (type == ETHERTYPE_IPV6) {
      return length >= h + 40 && (frame.get(offset + h) & 0xf0) == 0x60 ? offset + h : -1;
    }
    return -1;
  }

  /**
   * Learns MAC addresses from a frame (IPv4, IPv6 with neighbour discovery, or ARP); does nothing
   * for link types without MACs.
   *
   * @param frame the frame's bytes
   * @param offset where it starts
   * @param length its captured length
   * @param direction which way it goes ({@link #INBOUND} or {@link #OUTBOUND})
   */
  void learn(ByteBuffer frame, int offset, int length, int direction) {
    int type;
    int l3;
    long src;
    long dst = NONE;
    int packetType = -1;
    switch (linkType) {
      case DLT_EN10MB:
        if (length < 14) {
          return;
        }
        dst = mac(frame, offset);
        src = mac(frame, offset + 6);
        type = frame.getShort(offset + 12) & 0xffff;
        l3 = offset + 14;
        break;
      case DLT_LINUX_SLL:
        if (length < 16 || (frame.getShort(offset + 4) & 0xffff) != 6) {
          return;
        }
        packetType = frame.getShort(offset) & 0xffff;
        src = mac(frame, offset + 6);
        type = frame.getShort(offset + 14) & 0xffff;
        l3 = offset + 16;
        break;
      case DLT_LINUX_SLL2:
        if (length < 20 || (frame.get(offset + 11) & 0xff) != 6) {
          return;
        }
        packetType = frame.get(offset + 10) & 0xff;
        src = mac(frame, offset + 12);
        type = frame.getShort(offset) & 0xffff;
        l3 = offset + 20;
        lastInterfaceIndex[direction] = frame.getInt(offset + 4);
        break;
      default:
        return;
    }
    int end = offset + length;
    if (type == ETHERTYPE_IPV4 && l3 + 20 <= end) {
      lastSource[direction] = src;
      if (dst != NONE) {
        lastDestination[direction] = dst;
      }
      four.put(frame.getInt(l3 + 12), src | packetTypeBits(packetType), true);
      if (dst != NONE) {
        four.put(frame.getInt(l3 + 16), dst, false);
      }
    } else if (type == ETHERTYPE_IPV6 && l3 + 40 <= end) {
      lastSource[direction] = src;
      if (dst != NONE) {
        lastDestination[direction] = dst;
      }
      six.learn(frame, l3, end, src, dst, packetTypeBits(packetType));
    } else if (type == ETHERTYPE_ARP && l3 + 28 <= end) {
      // Ethernet/IPv4 ARP: sender MAC at 8, sender IP at 14.
      if ((frame.getShort(l3) & 0xffff) == 1 && (frame.getShort(l3 + 2) & 0xffff) == 0x0800) {
        four.put(frame.getInt(l3 + 14), mac(frame, l3 + 8), true);
      }
    }
  }

  /**
   * Writes the link header for an IPv4 packet that starts right after it.
   *
   * @param frame where to write
   * @param offset where the header starts (the packet follows at {@code offset +
   *     headerLength(linkType)})
   * @param source the packet's source address
   * @param destination its destination address
   * @param direction which way it goes ({@link #INBOUND} or {@link #OUTBOUND})
   * @return the header length
   */
  int writeHeader(ByteBuffer frame, int offset, int source, int destination, int direction) {
    switch (linkType) {
      case DLT_EN10MB:
        putMac(frame, offset, destinationMac(destination, direction));
        putMac(frame, offset + 6, sourceMac(source, direction));
        frame.putShort(offset + 12, (short) ETHERTYPE_IPV4);
        return 14;
      case DLT_LINUX_SLL:
        frame.putShort(offset, (short) packetType(source, direction));
        frame.putShort(offset + 2, (short) 1); // ARPHRD_ETHER
        frame.putShort(offset + 4, (short) 6);
        putMac(frame, offset + 6, sourceMac(source, direction));
        frame.putShort(offset + 12, (short) 0);
        frame.putShort(offset + 14, (short) ETHERTYPE_IPV4);
        return 16;
      case DLT_LINUX_SLL2:
        frame.putShort(offset, (short) ETHERTYPE_IPV4);
        frame.putShort(offset + 2, (short) 0);
        frame.putInt(offset + 4, lastInterfaceIndex[direction]);
        frame.putShort(offset + 8, (short) 1);
        frame.put(offset + 10, (byte) packetType(source, direction));
        frame.put(offset + 11, (byte) 6);
        putMac(frame, offset + 12, sourceMac(source, direction));
        frame.putShort(offset + 18, (short) 0);
        return 20;
      default:
        return 0;
    }
  }

  /**
   * Writes the link header for an IP packet of either family that starts right after it.
   *
   * @param frame where to write
   * @param offset where the header starts
   * @param packet the packet (its version nibble says the family)
   * @param pos where the packet starts in {@code packet}
   * @param direction which way it goes ({@link #INBOUND} or {@link #OUTBOUND})
   * @return the header length
   */
  int writeHeader(ByteBuffer frame, int offset, ByteBuffer packet, int pos, int direction) {
    if ((packet.get(pos) & 0xf0) != 0x60) {
      return writeHeader(
          frame, offset, packet.getInt(pos + 12), packet.getInt(pos + 16), direction);
    }
    switch (linkType) {
      case DLT_EN10MB:
        putMac(frame, offset, destinationMac6(packet, pos + 24, direction));
        putMac(frame, offset + 6, sourceMac6(packet, pos + 8, direction));
        frame.putShort(offset + 12, (short) ETHERTYPE_IPV6);
        return 14;
      case DLT_LINUX_SLL:
        frame.putShort(offset, (short) packetType6(packet, pos + 8, direction));
        frame.putShort(offset + 2, (short) 1); // ARPHRD_ETHER
        frame.putShort(offset + 4, (short) 6);
        putMac(frame, offset + 6, sourceMac6(packet, pos + 8, direction));
        frame.putShort(offset + 12, (short) 0);
        frame.putShort(offset + 14, (short) ETHERTYPE_IPV6);
        return 16;
      case DLT_LINUX_SLL2:
        frame.putShort(offset, (short) ETHERTYPE_IPV6);
        frame.putShort(offset + 2, (short) 0);
        frame.putInt(offset + 4, lastInterfaceIndex[direction]);
        frame.putShort(offset + 8, (short) 1);
        frame.put(offset + 10, (byte) packetType6(packet, pos + 8, direction));
        frame.put(offset + 11, (byte) 6);
        putMac(frame, offset + 12, sourceMac6(packet, pos + 8, direction));
        frame.putShort(offset + 18, (short) 0);
        return 20;
      default:
        return 0;
    }
  }

  /**
   * @param p a buffer holding the IPv6 destination address
   * @param at its first of 16 bytes
   * @param direction which way the packet goes
   * @return the MAC to send it to: the multicast MAC, the learned one, the last destination seen
   *     going that way, or broadcast
   */
  long destinationMac6(ByteBuffer p, int at, int direction) {
    if (Neighbours6.isMulticast(p, at)) {
      return Neighbours6.multicastMac(p, at);
    }
    long m = six.get(p, at);
    if (m != NONE) {
      return m;
    }
    return lastDestination[direction] != NONE ? lastDestination[direction] : BROADCAST;
  }

  /**
   * @param p a buffer holding the IPv6 source address
   * @param at its first of 16 bytes
   * @param direction which way the packet goes
   * @return the MAC to send it from
   */
  long sourceMac6(ByteBuffer p, int at, int direction) {
    long m = six.get(p, at);
    if (m != NONE) {
      return m;
    }
    if (lastSource[direction] != NONE) {
      return lastSource[direction];
    }
    return ownMac[direction] != NONE ? ownMac[direction] : 0;
  }

  private int packetType6(ByteBuffer p, int sourceAt, int direction) {
    if (direction == OUTBOUND) {
      return PACKET_OUTGOING;
    }
    int t = (int) (six.extra(p, sourceAt) >>> 50) & 0xf;
    return t == 0 || t - 1 == PACKET_OUTGOING ? 0 : t - 1;
  }

  /**
   * @param destination an IPv4 address
   * @param direction which way the packet goes
   * @return the MAC to send it to
   */
  long destinationMac(int destination, int direction) {
    if (destination == -1) {
      return BROADCAST;
    }
    if ((destination >>> 28) == 0xe) {
      return 0x01005e000000L | (destination & 0x7fffff);
    }
    long m = four.get(destination);
    if (m != NONE) {
      return m;
    }
    if (lastDestination[direction] != NONE) {
      return lastDestination[direction];
    }
    return BROADCAST;
  }

  /**
   * @param source an IPv4 address
   * @param direction which way the packet goes
   * @return the MAC to send it from
   */
  long sourceMac(int source, int direction) {
    long m = four.get(source);
    if (m != NONE) {
      return m;
    }
    if (lastSource[direction] != NONE) {
      return lastSource[direction];
    }
    return ownMac[direction] != NONE ? ownMac[direction] : 0;
  }

  /**
   * @return the source MAC of a frame (Ethernet or cooked with a 6-byte address), or {@link #NONE}
   */
  long frameSource(ByteBuffer frame, int offset, int length) {
    return switch (linkType) {
      case DLT_EN10MB -> length >= 14 ? mac(frame, offset + 6) : NONE;
      case DLT_LINUX_SLL ->
          length >= 16 && (frame.getShort(offset + 4) & 0xffff) == 6
              ? mac(frame, offset + 6)
              : NONE;
      case DLT_LINUX_SLL2 ->
          length >= 20 && (frame.get(offset + 11) & 0xff) == 6 ? mac(frame, offset + 12) : NONE;
      default -> NONE;
    };
  }

  /**
   * @return the destination MAC of an Ethernet frame, or {@link #NONE} (other link types have none)
   */
  long frameDestination(ByteBuffer frame, int offset, int length) {
    return linkType == DLT_EN10MB && length >= 14 ? mac(frame, offset) : NONE;
  }

  /**
   * Puts the MACs of the frame a packet came in back into a header {@link #writeHeader} wrote for
   * it (the addresses say nothing about a packet from {@code ::}, for one).
   *
   * @param frame the header, at {@code offset}
   * @param source the source MAC to write, or {@link #NONE} to keep the one written
   * @param destination the destination MAC to write, or {@link #NONE} to keep the one written
   */
  void restoreMacs(ByteBuffer frame, int offset, long source, long destination) {
    switch (linkType) {
      case DLT_EN10MB -> {
        if (destination != NONE) {
          putMac(frame, offset, destination);
        }
        if (source != NONE) {
          putMac(frame, offset + 6, source);
        }
      }
      case DLT_LINUX_SLL -> {
        if (source != NONE) {
          putMac(frame, offset + 6, source);
        }
      }
      case DLT_LINUX_SLL2 -> {
        if (source != NONE) {
          putMac(frame, offset + 12, source);
        }
      }
      default -> {}
    }
  }

  /**
   * Whether a cooked frame was captured as sent by the capturing host ({@code PACKET_OUTGOING}).
   *
   * @param frame the frame's bytes
   * @param offset where it starts
   * @param length its captured length
   * @return true for an outgoing Linux cooked frame; false otherwise and for other link types
   */
  boolean outgoing(ByteBuffer frame, int offset, int length) {
    if (linkType == DLT_LINUX_SLL && length >= 16) {
      return (frame.getShort(offset) & 0xffff) == PACKET_OUTGOING;
    }
    if (linkType == DLT_LINUX_SLL2 && length >= 20) {
      return (frame.get(offset + 10) & 0xff) == PACKET_OUTGOING;
    }
    return false;
  }

  /** The cooked packet type to write: outgoing, or what the source's frames had (host if none). */
  private int packetType(int source, int direction) {
    if (direction == OUTBOUND) {
      return PACKET_OUTGOING;
    }
    int t = (int) (four.rawGet(source) >>> 50) & 0xf;
    return t == 0 || t - 1 == PACKET_OUTGOING ? 0 : t - 1;
  }

  private static long packetTypeBits(int packetType) {
    return packetType < 0 || packetType > 14 ? 0 : (long) (packetType + 1) << 50;
  }

  /**
   * @param ip an IPv4 address
   * @return the MAC learned for it, or {@link #NONE}
   */
  long get(int ip) {
    return four.get(ip);
  }

  static long mac(ByteBuffer b, int offset) {
    return ((long) (b.getShort(offset) & 0xffff) << 32) | (b.getInt(offset + 2) & 0xffffffffL);
  }

  static void putMac(ByteBuffer b, int offset, long mac) {
    b.putShort(offset, (short) (mac >>> 32));
    b.putInt(offset + 2, (int) mac);
  }
}
