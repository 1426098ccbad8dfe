package org.divert4j.filter;

import java.nio.ByteBuffer;

/**
 * Where the headers of one packet are, found once per evaluation. Offsets are absolute buffer
 * indexes; -1 means the header is absent (S65: comparisons on it are false).
 */
final class Layout {
  static final int TCP = 6;
  static final int UDP = 17;
  static final int ICMP = 1;
  static final int ICMPV6 = 58;

  /** Indexes into {@link #anchors}: where each header starts, or -1. Index 0 is unused. */
  static final int A_IP4 = 1;

  static final int A_IP6 = 2;
  static final int A_TCP = 3;
  static final int A_UDP = 4;
  static final int A_ICMP = 5;
  static final int A_ICMPV6 = 6;

  int base;
  int end;

  /** 0 (neither), 4 or 6. */
  int family;

  /** End of the datagram: the buffer's limit, or less when the IP length says so. */
  int datagramEnd;

  /** Upper-layer protocol number, or -1 when the header chain runs past the end. */
  int protocol;

  boolean fragment;
  boolean firstFragment;
  int tcp = -1;
  int tcpPayload = -1;
  int udp = -1;
  int icmp = -1;
  int icmpv6 = -1;

  /** The offsets above by header, for {@link Loads}: IPv4, IPv6, TCP, UDP, ICMP, ICMPv6. */
  final int[] anchors = {-1, -1, -1, -1, -1, -1, -1};

  /** Only the bounds, for filters whose fields need no header ({@link Loads#needsNoLayout}). */
  void bounds(ByteBuffer b) {
    base = b.position();
    end = b.limit();
  }

  void read(ByteBuffer b) {
    parse(b);
    int[] a = anchors;
    a[A_IP4] = family == 4 ? base : -1;
    a[A_IP6] = family == 6 ? base : -1;
    a[A_TCP] = tcp;
    a[A_UDP] = udp;
    a[A_ICMP] = icmp;
    a[A_ICMPV6] = icmpv6;
  }

  private void parse(ByteBuffer b) {
    base = b.position();
    end = b.limit();
    family = 0;
    protocol = -1;
    fragment = false;
    firstFragment = true;
    tcp = udp = icmp = icmpv6 = tcpPayload = -1;
    datagramEnd = end;
    int len = end - base;
    if (len < 1) {
      return;
    }
    int version = (b.get(base) & 0xf0) >>> 4;
    int l4;
    if (version == 4) {
      int ihl = (b.get(base) & 0x0f) * 4;
      if (len < 20 || ihl < 20 || ihl > len) {
        return;
      }
      family = 4;
      int total = Bytes.u16(b, base + 2);
      if (total >= ihl && base + total < end) {
        datagramEnd = base + total;
      }
      protocol = b.get(base + 9) & 0xff;
      int frag = Bytes.u16(b, base + 6);
      int offset = frag & 0x1fff;
      fragment = offset != 0 || (frag & 0x2000) != 0;
      firstFragment = offset == 0;
      l4 = base + ihl;
    } else if (version == 6) {
      if (len < 40) {
        return;
      }
      family = 6;
      int payload = Bytes.u16(b, base + 4);
      if (base + 40 + payload < end) {
        datagramEnd = base + 40 + payload;
      }
      l4 = Ipv6Walker.walk(b, base + 40, datagramEnd, b.get(base + 6) & 0xff, this);
      if (l4 < 0) {
        return;
      }
    } else {
      return;
    }
    if (!firstFragment) {
      return; // S7, S56: transport headers exist only in the first fragment
    }
    int room = datagramEnd - l4;
    if (protocol == TCP && room >= 20) {
      int dataOffset = ((b.get(l4 + 12) & 0xf0) >>> 4) * 4;
      if (dataOffset >= 20 && dataOffset <= room) {
        tcp = l4;
        tcpPayload = l4 + dataOffset;
      }
    } else if (protocol == UDP && room >= 8) {
      udp = l4;
    } else if (protocol == ICMP && family == 4 && room >= 8) {
      icmp = l4;
    } else if (protocol == ICMPV6 && family == 6 && room >= 8) {
      icmpv6 = l4;
    }
  }
}
