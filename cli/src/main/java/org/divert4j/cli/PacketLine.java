package org.divert4j.cli;

import java.nio.ByteBuffer;
import java.util.Locale;
import org.divert4j.Chain;
import org.divert4j.Direction;
import org.divert4j.IpFamily;
import org.divert4j.Ipv4;
import org.divert4j.PacketBatch;
import org.divert4j.packet.Defect;
import org.divert4j.packet.Ipv4View;
import org.divert4j.packet.Ipv6View;

/**
 * One-line descriptions of diverted packets, as {@code demo} and {@code dump} print them:
 *
 * <pre>
 * input  in  eth0  10.0.1.2 &gt; 10.0.1.1 ICMP echo request id=4660 seq=1 len=84
 * output out -     10.0.1.1:7777 &gt; 10.0.1.2:40000 UDP len=39 "hello"
 * input  in  eth0  10.0.1.2 &gt; 10.0.1.1 UDP frag id=7 off=1480 MF len=1500
 * input  in  eth0  [fd00:1::2]:40000 &gt; [fd00:1::1]:7777 UDP ext=frag frag id=9 off=0 MF len=1496
 * input  in  eth0  fd00:1::2 &gt; fd00:1::1 ICMPv6 echo request id=1 seq=1 len=104
 * </pre>
 *
 * Lengths are the IP total length (for IPv6: 40 plus the payload length). IPv6 lines list the
 * extension headers in order ({@code ext=hop,rt,dst,frag}). Not thread-safe (one reusable view);
 * cheap to create.
 */
final class PacketLine {
  private static final int MAX_SHOWN_PAYLOAD = 24;

  private final Ipv4View view = new Ipv4View();
  private final Ipv6View view6 = new Ipv6View();

  /**
   * @param batch a received batch
   * @param i a slot
   * @return where the slot's packet was diverted and what it is
   */
  String describe(PacketBatch batch, int i) {
    return where(batch.chain(i), batch.direction(i), batch.interfaceName(i))
        + decode(batch.packet(i));
  }

  /**
   * @param chain the chain, or null for an injection
   * @param direction the direction
   * @param iface the receiving interface, empty for outbound
   * @return the fixed-width prefix, e.g. {@code "input in eth0 "}
   */
  static String where(Chain chain, Direction direction, String iface) {
    return String.format(
        Locale.ROOT,
        "%-6s %-3s %-5s ",
        chain == null ? "-" : chain.keyword(),
        direction == Direction.INBOUND ? "in" : "out",
        iface == null || iface.isEmpty() ? "-" : iface);
  }

  /**
   * @param packet an IP packet from position to limit; not modified
   * @return a one-line decode, e.g. {@code 10.0.1.2 > 10.0.1.1 ICMP echo request id=1 seq=1 len=84}
   */
  String decode(ByteBuffer packet) {
    if (IpFamily.of(packet) == IpFamily.IPV6) {
      return decode6(packet);
    }
    Ipv4View v = view.wrap(packet);
    Defect d = v.check();
    if (d != null) {
      return "malformed packet (" + d.description() + "), " + packet.remaining() + " bytes";
    }
    StringBuilder sb = new StringBuilder(96);
    int proto = v.protocol();
    boolean first = v.fragmentOffset() == 0;
    int sport = v.sourcePort();
    int dport = v.destinationPort();
    boolean ports = first && sport >= 0 && (proto == 6 || proto == 17);
    sb.append(Ipv4.toString(v.source()));
    if (ports) {
      sb.append(':').append(sport);
    }
    sb.append(" > ").append(Ipv4.toString(v.destination()));
    if (ports) {
      sb.append(':').append(dport);
    }
    sb.append(' ').append(protocolName(proto));
    if (first && proto == Ipv4View.PROTOCOL_ICMP && v.icmpType() >= 0) {
      icmp(sb, packet, v);
    }
    if (first && proto == Ipv4View.PROTOCOL_TCP) {
      tcpFlags(sb, packet, v);
    }
    if (v.isFragment()) {
      sb.append(" frag id=").append(v.identification()).append(" off=").append(v.fragmentOffset());
      if (v.moreFragments()) {
        sb.append(" MF");
      }
    }
    sb.append(" len=").append(v.totalLength());
    if (!v.isFragment() && proto == Ipv4View.PROTOCOL_UDP) {
      payloadText(sb, packet, v.payloadOffset() + 8, v.payloadLength() - 8);
    }
    return sb.toString();
  }

  private String decode6(ByteBuffer packet) {
    Ipv6View v = view6.wrap(packet);
    Defect d = v.check();
    if (d != null) {
      return "malformed packet (" + d.description() + "), " + packet.remaining() + " bytes";
    }
    StringBuilder sb = new StringBuilder(128);
    int proto = v.upperLayerProtocol();
    int sport = v.sourcePort();
    boolean ports = sport >= 0 && (proto == 6 || proto == 17);
    int base = packet.position();
    String src = Ipv6View.formatAddress(packet, base + 8);
    String dst = Ipv6View.formatAddress(packet, base + 24);
    sb.append(ports ? "[" + src + "]:" + sport : src);
    sb.append(" > ").append(ports ? "[" + dst + "]:" + v.destinationPort() : dst);
    sb.append(' ').append(proto < 0 ? "(header chain past end)" : protocolName6(proto));
    extensionHeaders(sb, packet, base, base + packet.remaining());
    boolean first = v.fragmentOffset() == 0;
    if (first && proto == Ipv6View.PROTOCOL_ICMPV6 && v.icmpv6Type() >= 0) {
      icmpv6(sb, packet, v);
    }
    if (first && proto == Ipv4View.PROTOCOL_TCP && v.upperLayerOffset() + 14 <= packet.limit()) {
      appendTcpFlags(sb, packet.get(v.upperLayerOffset() + 13) & 0xff);
    }
    if (v.hasFragmentHeader()) {
      sb.append(" frag id=")
          .append(Integer.toUnsignedString(v.fragmentIdentification()))
          .append(" off=")
          .append(v.fragmentOffset());
      if (v.moreFragments()) {
        sb.append(" MF");
      }
      if (!v.isFragment()) {
        sb.append(" atomic");
      }
    }
    sb.append(" len=").append(40 + v.payloadLength());
    if (!v.isFragment() && proto == Ipv4View.PROTOCOL_UDP && v.upperLayerOffset() >= 0) {
      int at = v.upperLayerOffset() + 8;
      payloadText(sb, packet, at, base + 40 + v.payloadLength() - at);
    }
    return sb.toString();
  }

  /** Appends {@code ext=hop,rt,dst,frag} for the extension headers before the upper layer. */
  private static void extensionHeaders(StringBuilder sb, ByteBuffer p, int base, int end) {
    int nh = p.get(base + 6) & 0xff;
    int at = base + 40;
    String sep = " ext=";
    for (int n = 0; n < 16; n++) {
      String name =
          switch (nh) {
            case Ipv6View.NEXT_HOP_BY_HOP -> "hop";
            case Ipv6View.NEXT_ROUTING -> "rt";
            case Ipv6View.NEXT_DESTINATION_OPTIONS -> "dst";
            case Ipv6View.NEXT_FRAGMENT -> "frag";
            default -> null;
          };
      if (name == null || at + 8 > end) {
        return;
      }
      sb.append(sep).append(name);
      sep = ",";
      boolean later = nh == Ipv6View.NEXT_FRAGMENT && (p.getShort(at + 2) & 0xfff8) != 0;
      int len = nh == Ipv6View.NEXT_FRAGMENT ? 8 : ((p.get(at + 1) & 0xff) + 1) * 8;
      nh = p.get(at) & 0xff;
      at += len;
      if (later) {
        return; // what follows a non-first fragment's header is payload
      }
    }
  }

  private static String protocolName6(int proto) {
    return switch (proto) {
      case Ipv6View.PROTOCOL_ICMPV6 -> "ICMPv6";
      case Ipv6View.NEXT_NONE -> "no next header";
      default -> protocolName(proto);
    };
  }

  private static void icmpv6(StringBuilder sb, ByteBuffer p, Ipv6View v) {
    int type = v.icmpv6Type();
    int code = v.icmpv6Code();
    int at = v.upperLayerOffset();
    switch (type) {
      case 1 -> sb.append(" unreachable code=").append(code);
      case 2 -> sb.append(" packet too big");
      case 3 -> sb.append(" time exceeded code=").append(code);
      case 128 -> sb.append(" echo request");
      case 129 -> sb.append(" echo reply");
      case 133 -> sb.append(" router solicitation");
      case 134 -> sb.append(" router advertisement");
      case 135 -> sb.append(" neighbor solicitation");
      case 136 -> sb.append(" neighbor advertisement");
      default -> sb.append(" type=").append(type).append(" code=").append(code);
    }
    if (type == 2 && at + 8 <= p.limit()) {
      sb.append(" mtu=").append(Integer.toUnsignedString(p.getInt(at + 4)));
    }
    if ((type == 128 || type == 129) && at + 8 <= p.limit()) {
      sb.append(" id=").append(p.getShort(at + 4) & 0xffff);
      sb.append(" seq=").append(p.getShort(at + 6) & 0xffff);
    }
  }

  private static String protocolName(int proto) {
    return switch (proto) {
      case Ipv4View.PROTOCOL_ICMP -> "ICMP";
      case Ipv4View.PROTOCOL_TCP -> "TCP";
      case Ipv4View.PROTOCOL_UDP -> "UDP";
      default -> "proto " + proto;
    };
  }

  private static void icmp(StringBuilder sb, ByteBuffer p, Ipv4View v) {
    int type = v.icmpType();
    int code = v.icmpCode();
    int at = v.payloadOffset();
    boolean echo = (type == 0 || type == 8) && v.payloadLength() >= 8;
    switch (type) {
      case 0 -> sb.append(" echo reply");
      case 3 -> sb.append(" unreachable code=").append(code);
      case 8 -> sb.append(" echo request");
      case 11 -> sb.append(" time exceeded code=").append(code);
      default -> sb.append(" type=").append(type).append(" code=").append(code);
    }
    if (echo) {
      sb.append(" id=").append(p.getShort(at + 4) & 0xffff);
      sb.append(" seq=").append(p.getShort(at + 6) & 0xffff);
    }
  }

  private static void tcpFlags(StringBuilder sb, ByteBuffer p, Ipv4View v) {
    if (v.payloadLength() < 14) {
      return;
    }
    appendTcpFlags(sb, p.get(v.payloadOffset() + 13) & 0xff);
  }

  private static void appendTcpFlags(StringBuilder sb, int flags) {
    StringBuilder f = new StringBuilder();
    if ((flags & 0x02) != 0) {
      f.append('S');
    }
    if ((flags & 0x01) != 0) {
      f.append('F');
    }
    if ((flags & 0x04) != 0) {
      f.append('R');
    }
    if ((flags & 0x08) != 0) {
      f.append('P');
    }
    if ((flags & 0x10) != 0) {
      f.append('.');
    }
    sb.append(" [").append(f).append(']');
  }

  /** Appends a short payload in quotes when it is all printable ASCII (demo traffic is). */
  private static void payloadText(StringBuilder sb, ByteBuffer p, int at, int len) {
    if (len <= 0 || len > MAX_SHOWN_PAYLOAD || at + len > p.limit()) {
      return;
    }
    for (int k = 0; k < len; k++) {
      int c = p.get(at + k) & 0xff;
      if (c < 0x20 || c > 0x7e || c == '"') {
        return;
      }
    }
    sb.append(" \"");
    for (int k = 0; k < len; k++) {
      sb.append((char) (p.get(at + k) & 0xff));
    }
    sb.append('"');
  }
}
