package org.divert4j.packet;

import java.nio.ByteBuffer;

/**
 * The header checks behind {@link Ipv4View#check()}, {@link Ipv4View#checkForSend()}, {@link
 * Ipv6View#check()} and {@link Ipv6View#checkForSend()}, whose javadoc says what is checked and
 * why. Static, allocation-free and stateless; the fragment rule is written once for both families.
 */
final class PacketChecks {
  private PacketChecks() {}

  /**
   * The first defect of the IPv4 packet of {@code length} bytes at {@code base}, or null. On send
   * the total length field is ignored and the packet is all {@code length} bytes (S40).
   */
  static Defect ipv4(ByteBuffer b, int base, int length, boolean send) {
    if (length < Ipv4View.MIN_HEADER_LENGTH) {
      return Defect.TOO_SHORT;
    }
    int first = Bytes.u8(b, base);
    if (first >>> 4 != 4) {
      return Defect.BAD_VERSION;
    }
    int hl = (first & 0x0f) << 2;
    if (hl < Ipv4View.MIN_HEADER_LENGTH) {
      return Defect.BAD_HEADER_LENGTH;
    }
    if (hl > length) {
      return Defect.HEADER_PAST_END;
    }
    int end = length;
    if (!send) {
      end = Bytes.u16(b, base + 2);
      if (end > length) {
        return Defect.TOTAL_LENGTH_PAST_END;
      }
      if (end < hl) {
        return Defect.TOTAL_LENGTH_TOO_SHORT;
      }
    }
    int w = Bytes.u16(b, base + 6);
    boolean mf = (w & Ipv4View.FLAG_MF) != 0;
    int offset = (w & Ipv4View.OFFSET_MASK) << 3;
    // Only a fragment can reach past 65535 by its offset; a whole packet that long is simply too
    // large (S31), which the sender reports as PacketTooLargeException, not as a defect.
    return mf || offset != 0 ? fragment(mf, offset, end - hl) : null;
  }

  /** The defects of the fixed IPv6 header: too short, not version 6, a jumbogram (S59). */
  static Defect ipv6Header(ByteBuffer b, int base, int length) {
    if (length < Ipv6View.HEADER_LENGTH) {
      return Defect.IPV6_TOO_SHORT;
    }
    if (Bytes.u8(b, base) >>> 4 != 6) {
      return Defect.IPV6_BAD_VERSION;
    }
    if (Ipv6HeaderChain.jumbo(b, base, length)) {
      return Defect.JUMBOGRAM;
    }
    return null;
  }

  /**
   * The first defect of the IPv6 packet as received, before its header chain is walked: the fixed
   * header's ({@link #ipv6Header}), or a payload length that says more bytes than are present.
   */
  static Defect ipv6Received(ByteBuffer b, int base, int length) {
    Defect d = ipv6Header(b, base, length);
    if (d != null) {
      return d;
    }
    if (Ipv6View.HEADER_LENGTH + Bytes.u16(b, base + 4) > length) {
      return Defect.PAYLOAD_LENGTH_INCONSISTENT;
    }
    return null;
  }

  /**
   * The first defect of the IPv6 packet of {@code length} bytes at {@code base} as it is about to
   * be sent: the payload length field is ignored and the datagram is all {@code length} bytes
   * (S61).
   */
  static Defect ipv6ForSend(ByteBuffer b, int base, int length) {
    Defect d = ipv6Header(b, base, length);
    if (d != null) {
      return d;
    }
    // Past 40 + 65535 bytes the packet is too large, which the sender reports (S31); the walk
    // stays within what a payload length can describe.
    int end = base + Math.min(length, Ipv6View.HEADER_LENGTH + Ipv6View.MAX_PAYLOAD_LENGTH);
    return ipv6Chain(b, base, Ipv6HeaderChain.walk(b, base, end), end);
  }

  /**
   * The defect of a walked chain whose datagram ends at the absolute index {@code end}: a chain
   * past the end, or a fragment whose M flag and payload disagree or that reaches past 65535 (RFC
   * 8200 section 4.5); null when there is none.
   */
  static Defect ipv6Chain(ByteBuffer b, int base, long w, int end) {
    if (Ipv6HeaderChain.pastEnd(w)) {
      return Defect.EXTENSION_HEADER_PAST_END;
    }
    int f = Ipv6HeaderChain.fragmentHeader(w);
    if (f == 0) {
      return null;
    }
    int field = Bytes.u16(b, base + f + 2);
    int offset = field & Ipv6HeaderChain.OFFSET_MASK;
    boolean m = (field & Ipv6HeaderChain.M_FLAG) != 0;
    int payload = end - (base + f + Ipv6View.FRAGMENT_HEADER_LENGTH);
    return fragment(m, offset, payload);
  }

  /**
   * The defect of a fragment with the more-fragments flag {@code more} whose payload of {@code
   * payload} bytes starts at byte {@code offset} of its datagram: a payload that is not a multiple
   * of 8 although more follow (the next offset could not be expressed, RFC 791, RFC 8200 section
   * 4.5), or one that reaches past 65535 (the "ping of death"); null when there is none.
   */
  static Defect fragment(boolean more, int offset, int payload) {
    if (more && (payload & 7) != 0) {
      return Defect.FRAGMENT_FLAGS_INCONSISTENT;
    }
    if (offset + payload > Ipv4View.MAX_LENGTH) {
      return Defect.FRAGMENT_PAST_MAXIMUM;
    }
    return null;
  }
}
