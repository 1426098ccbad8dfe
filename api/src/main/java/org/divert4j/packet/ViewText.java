package org.divert4j.packet;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * The text of {@link Ipv4View} and {@link Ipv6View}: the values behind a {@link Defect} for
 * exception messages, the one-line summaries of {@code toString()}, and RFC 5952 address text. All
 * of it allocates; none of it is on a per-packet path.
 */
final class ViewText {
  private ViewText() {}

  /** The values behind an IPv4 defect; {@code send} says the total length field is ignored. */
  static String detail(Ipv4View v, Defect d, boolean send) {
    switch (d) {
      case TOO_SHORT:
        return named(d, v.length() + " bytes");
      case BAD_VERSION:
        return named(d, "version " + v.version());
      case BAD_HEADER_LENGTH:
        return named(d, "IHL " + v.ihl());
      case HEADER_PAST_END:
        return named(
            d, "IHL " + v.ihl() + " = " + v.headerLength() + " bytes, packet " + v.length());
      case TOTAL_LENGTH_PAST_END:
        return named(d, "total length " + v.totalLength() + ", " + v.length() + " bytes present");
      case TOTAL_LENGTH_TOO_SHORT:
        return named(
            d, "total length " + v.totalLength() + ", header " + v.headerLength() + " bytes");
      case FRAGMENT_FLAGS_INCONSISTENT:
      case FRAGMENT_PAST_MAXIMUM:
        int payload = send ? v.length() - v.headerLength() : v.payloadLength();
        return named(
            d,
            "DF "
                + (v.dontFragment() ? 1 : 0)
                + ", MF "
                + (v.moreFragments() ? 1 : 0)
                + ", offset "
                + v.fragmentOffset()
                + ", payload "
                + payload);
      case RESERVED_FLAG_SET:
        return named(d, "flags 0x" + Integer.toHexString(Bytes.u16(v.buf, v.base + 6) >>> 13));
      default:
        return d.name();
    }
  }

  /** The values behind an IPv6 defect. */
  static String detail(Ipv6View v, Defect d) {
    switch (d) {
      case IPV6_TOO_SHORT:
        return named(d, v.length() + " bytes");
      case IPV6_BAD_VERSION:
        return named(d, "version " + v.version());
      case PAYLOAD_LENGTH_INCONSISTENT:
        return named(
            d, "payload length " + v.payloadLength() + ", " + v.length() + " bytes present");
      case EXTENSION_HEADER_PAST_END:
        return named(d, "next header " + v.nextHeader() + ", " + v.length() + " bytes present");
      case FRAGMENT_FLAGS_INCONSISTENT:
      case FRAGMENT_PAST_MAXIMUM:
        return named(d, "M " + (v.moreFragments() ? 1 : 0) + ", offset " + v.fragmentOffset());
      default:
        return d.name();
    }
  }

  private static String named(Defect d, String values) {
    return d.name() + ": " + values;
  }

  /** See {@link Ipv4View#toString()}. */
  static String summary(Ipv4View v) {
    String unfit = unfit("Ipv4View", v);
    if (unfit != null) {
      return unfit;
    }
    StringBuilder sb =
        new StringBuilder()
            .append(org.divert4j.Ipv4.toString(v.source()))
            .append(" > ")
            .append(org.divert4j.Ipv4.toString(v.destination()))
            .append(" proto ")
            .append(v.protocol())
            .append(" len ")
            .append(v.totalLength())
            .append(" id ")
            .append(v.identification())
            .append(" ttl ")
            .append(v.ttl());
    if (v.dontFragment()) {
      sb.append(" DF");
    }
    if (v.isFragment()) {
      sb.append(v.moreFragments() ? " MF" : "").append(" off ").append(v.fragmentOffset());
    }
    return sb.toString();
  }

  /** See {@link Ipv6View#toString()}. */
  static String summary(Ipv6View v) {
    String unfit = unfit("Ipv6View", v);
    if (unfit != null) {
      return unfit;
    }
    StringBuilder sb =
        new StringBuilder()
            .append(ipv6Address(v.buf, v.base + 8))
            .append(" > ")
            .append(ipv6Address(v.buf, v.base + 24))
            .append(" next ")
            .append(v.upperLayerProtocol())
            .append(" len ")
            .append(v.payloadLength())
            .append(" hlim ")
            .append(v.hopLimit());
    if (v.hasFragmentHeader()) {
      sb.append(" frag off ")
          .append(v.fragmentOffset())
          .append(v.moreFragments() ? " M" : "")
          .append(" id ")
          .append(Integer.toUnsignedString(v.fragmentIdentification()));
    }
    return sb.toString();
  }

  /** What a view says of itself when it has no packet or a malformed one; null otherwise. */
  private static String unfit(String name, IpView v) {
    if (v.buf == null) {
      return name + "(unwrapped)";
    }
    Defect d = v.check();
    return d == null ? null : name + "(malformed: " + v.detail(d, false) + ")";
  }

  /** See {@link Ipv6View#formatAddress}. */
  static String ipv6Address(ByteBuffer b, int at) {
    Objects.checkFromIndexSize(at, 16, b.limit());
    int bestAt = -1;
    int bestLen = 1;
    for (int i = 0; i < 8; ) {
      int j = i;
      while (j < 8 && Bytes.u16(b, at + 2 * j) == 0) {
        j++;
      }
      if (j - i > bestLen) {
        bestAt = i;
        bestLen = j - i;
      }
      i = j == i ? i + 1 : j;
    }
    StringBuilder sb = new StringBuilder(39);
    for (int i = 0; i < 8; i++) {
      if (i == bestAt) {
        sb.append("::");
        i += bestLen - 1;
        continue;
      }
      if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
        sb.append(':');
      }
      sb.append(Integer.toHexString(Bytes.u16(b, at + 2 * i)));
    }
    return sb.toString();
  }
}
