package org.divert4j.tck;

import static org.divert4j.tck.Packets.get16;
import static org.divert4j.tck.Packets.get32;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.packet.Ipv6Builder;

/**
 * The TCK's IPv6 helpers (RFC 8200). Reading and judging (the extension-header walk, the UDP
 * checksum with the IPv6 pseudo-header) are the TCK's own, independent of the api's {@code
 * Ipv6View} and {@code Checksums} that backends use, as {@link Packets} is for IPv4. Building goes
 * through the api's {@link Ipv6Builder}: a built packet is only input, and every field a test
 * judges is read back here. Stateless.
 */
final class Packets6 {
  static final int HEADER = 40;
  static final int HOP_BY_HOP = 0;
  static final int ROUTING = 43;
  static final int FRAGMENT = 44;
  static final int DESTINATION_OPTIONS = 60;
  static final int NO_NEXT = 59;
  static final int UDP = 17;
  static final int ICMPV6 = 58;
  static final int ECHO_REQUEST = 128;
  static final int ECHO_REPLY = 129;

  private Packets6() {}

  /**
   * Where the extension-header walk ended.
   *
   * @param protocol the upper-layer protocol (the last Next Header), or -1 when the chain runs past
   *     the end of the packet
   * @param offset the upper-layer header's offset, or -1 past the end
   * @param fragmentHeader the Fragment header's offset, or -1 if there is none
   */
  record Walk(int protocol, int offset, int fragmentHeader) {
    boolean pastEnd() {
      return protocol < 0;
    }
  }

  static boolean isIpv6(byte[] p) {
    return p != null && p.length >= HEADER && Packets.version(p) == 6;
  }

  /** Walks hop-by-hop, routing, destination options and fragment headers. */
  static Walk walk(byte[] p) {
    int next = p[6] & 0xff;
    int off = HEADER;
    int fragment = -1;
    while (next == HOP_BY_HOP
        || next == ROUTING
        || next == DESTINATION_OPTIONS
        || next == FRAGMENT) {
      if (off + 8 > p.length) {
        return new Walk(-1, -1, fragment);
      }
      int length = next == FRAGMENT ? 8 : ((p[off + 1] & 0xff) + 1) * 8;
      if (next == FRAGMENT) {
        fragment = off;
      }
      next = p[off] & 0xff;
      off += length;
    }
    if (off > p.length) {
      return new Walk(-1, -1, fragment);
    }
    return new Walk(next, off, fragment);
  }

  static int payloadLength(byte[] p) {
    return get16(p, 4);
  }

  static int trafficClass(byte[] p) {
    return (get16(p, 0) >>> 4) & 0xff;
  }

  static int flowLabel(byte[] p) {
    return get32(p, 0) & 0xfffff;
  }

  static int nextHeader(byte[] p) {
    return p[6] & 0xff;
  }

  static int hopLimit(byte[] p) {
    return p[7] & 0xff;
  }

  static InetAddress source(byte[] p) {
    return address(p, 8);
  }

  static InetAddress destination(byte[] p) {
    return address(p, 24);
  }

  private static InetAddress address(byte[] p, int at) {
    byte[] a = new byte[16];
    System.arraycopy(p, at, a, 0, 16);
    try {
      return InetAddress.getByAddress(a);
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  /** True if the packet has a Fragment header (atomic fragments included). */
  static boolean hasFragmentHeader(byte[] p) {
    return walk(p).fragmentHeader() >= 0;
  }

  /** The fragment offset in bytes, 0 without a Fragment header. */
  static int fragmentOffset(byte[] p) {
    int f = walk(p).fragmentHeader();
    return f < 0 ? 0 : get16(p, f + 2) & 0xfff8;
  }

  static boolean moreFragments(byte[] p) {
    int f = walk(p).fragmentHeader();
    return f >= 0 && (get16(p, f + 2) & 1) != 0;
  }

  /** The Fragment header's Identification, or -1 without one. */
  static long identification(byte[] p) {
    int f = walk(p).fragmentHeader();
    return f < 0 ? -1 : get32(p, f + 4) & 0xffffffffL;
  }

  /** True if the packet is a fragment of a larger datagram (not an atomic fragment). */
  static boolean isFragment(byte[] p) {
    return fragmentOffset(p) != 0 || moreFragments(p);
  }

  /** The upper-layer header offset of a whole datagram or first fragment, else -1. */
  private static int upper(byte[] p, int protocol, int need) {
    Walk w = walk(p);
    if (w.pastEnd() || w.protocol() != protocol || fragmentOffset(p) != 0) {
      return -1;
    }
    return w.offset() + need <= p.length ? w.offset() : -1;
  }

  static int udpSourcePort(byte[] p) {
    int u = upper(p, UDP, 4);
    return u < 0 ? -1 : get16(p, u);
  }

  static int udpDestinationPort(byte[] p) {
    int u = upper(p, UDP, 4);
    return u < 0 ? -1 : get16(p, u + 2);
  }

  static int icmpType(byte[] p) {
    int u = upper(p, ICMPV6, 1);
    return u < 0 ? -1 : p[u] & 0xff;
  }

  /**
   * The UDP data of a whole datagram (the bytes after the UDP header, up to the payload length).
   */
  static byte[] udpData(byte[] p) {
    int u = upper(p, UDP, 8);
    if (u < 0) {
      return new byte[0];
    }
    int end = Math.min(p.length, HEADER + payloadLength(p));
    byte[] out = new byte[Math.max(0, end - u - 8)];
    System.arraycopy(p, u + 8, out, 0, out.length);
    return out;
  }

  /**
   * True if the UDP checksum of a whole datagram is correct: the one's-complement sum over the IPv6
   * pseudo-header (addresses, upper-layer length, next header 17) and the segment is 0xFFFF, and
   * the field is not 0 (RFC 8200 8.1: a zero UDP checksum is invalid over IPv6).
   */
  static boolean udpChecksumValid(byte[] p) {
    int u = upper(p, UDP, 8);
    if (u < 0 || fragmentOffset(p) != 0 || moreFragments(p)) {
      return false;
    }
    int n = HEADER + payloadLength(p) - u;
    if (n < 8 || u + n > p.length || get16(p, u + 6) == 0) {
      return false;
    }
    long sum = 0;
    for (int i = 8; i < 40; i += 2) {
      sum += get16(p, i);
    }
    sum += (n >>> 16) + (n & 0xffff) + UDP;
    for (int i = u; i < u + n; i += 2) {
      sum += i + 1 < u + n ? get16(p, i) : (p[i] & 0xff) << 8;
    }
    while ((sum >> 16) != 0) {
      sum = (sum & 0xffff) + (sum >> 16);
    }
    return sum == 0xffff;
  }

  // ---- building (input only) ----

  /** A whole UDP datagram from the api's builder; its UDP checksum covers the pseudo-header. */
  static byte[] udp(InetAddress src, InetAddress dst, int sport, int dport, byte[] data) {
    return bytes(
        Ipv6Builder.udp(sport, dport)
            .source(src.getAddress())
            .destination(dst.getAddress())
            .payload(data)
            .build());
  }

  /** An ICMPv6 echo request. */
  static byte[] echoRequest(InetAddress src, InetAddress dst, int ident, int seq, byte[] data) {
    return bytes(
        Ipv6Builder.icmpv6EchoRequest(ident, seq)
            .source(src.getAddress())
            .destination(dst.getAddress())
            .payload(data)
            .build());
  }

  /**
   * Cuts a whole datagram (no extension headers) into fragments whose IPv6 packets are at most
   * {@code mtu} bytes: each a 40-byte header, an 8-byte Fragment header with {@code id}, and a
   * multiple of 8 bytes of the upper-layer payload except in the last.
   */
  static List<byte[]> fragment(byte[] whole, int mtu, int id) {
    int upper = nextHeader(whole);
    int total = payloadLength(whole);
    int chunk = (mtu - HEADER - 8) & ~7;
    List<byte[]> out = new ArrayList<>();
    for (int off = 0; off < total; off += chunk) {
      int n = Math.min(chunk, total - off);
      byte[] part = new byte[n];
      System.arraycopy(whole, HEADER + off, part, 0, n);
      out.add(
          bytes(
              Ipv6Builder.raw(upper)
                  .source(source(whole).getAddress())
                  .destination(destination(whole).getAddress())
                  .hopLimit(hopLimit(whole))
                  .fragmentHeader(off, off + n < total, id)
                  .payload(part)
                  .build()));
    }
    return out;
  }

  static byte[] bytes(ByteBuffer b) {
    byte[] out = new byte[b.remaining()];
    b.duplicate().get(out);
    return out;
  }

  /** One line about a packet, for failure messages. */
  static String describe(byte[] p) {
    if (!isIpv6(p)) {
      return p == null ? "null" : p.length + " bytes, not IPv6";
    }
    StringBuilder sb = new StringBuilder("IPv6 ");
    Walk w = walk(p);
    int proto = w.protocol();
    sb.append(proto == UDP ? "UDP" : proto == ICMPV6 ? "ICMPv6" : "next " + proto).append(' ');
    sb.append(source(p).getHostAddress());
    if (udpSourcePort(p) >= 0) {
      sb.append(" port ").append(udpSourcePort(p));
    }
    sb.append(" > ").append(destination(p).getHostAddress());
    if (udpDestinationPort(p) >= 0) {
      sb.append(" port ").append(udpDestinationPort(p));
    }
    if (icmpType(p) >= 0) {
      sb.append(" type ").append(icmpType(p));
    }
    sb.append(" len ").append(p.length);
    if (payloadLength(p) + HEADER != p.length) {
      sb.append(" (payload length field ").append(payloadLength(p)).append(')');
    }
    if (w.fragmentHeader() >= 0) {
      sb.append(" frag id ").append(identification(p)).append(" off ").append(fragmentOffset(p));
      sb.append(moreFragments(p) ? " M" : "");
    }
    sb.append(" hlim ").append(hopLimit(p));
    return sb.toString();
  }
}
