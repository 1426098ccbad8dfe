package org.divert4j.packet;

/**
 * What is wrong with a malformed IPv4 packet (SEMANTICS.md S47) or IPv6 packet (S62). The IPv4
 * checks ({@link Ipv4View#check()}) and the IPv6 checks ({@link Ipv6View#check()}) share the two
 * fragment defects; the others belong to one family, and their descriptions say which.
 */
public enum Defect {
  /** Fewer than 20 bytes: no room for an IPv4 header. */
  TOO_SHORT("shorter than the 20-byte IPv4 header"),
  /** The version field is not 4. */
  BAD_VERSION("IP version is not 4"),
  /** The header length field (IHL) is under 5 words. */
  BAD_HEADER_LENGTH("header length (IHL) is under 5 words"),
  /** The header length field points past the end of the packet. */
  HEADER_PAST_END("header length (IHL) points past the end of the packet"),
  /** The total length field is larger than the bytes present. */
  TOTAL_LENGTH_PAST_END("total length is larger than the packet"),
  /** The total length field is smaller than the header. */
  TOTAL_LENGTH_TOO_SHORT("total length is shorter than the header"),
  /** Fragment offset plus payload length exceeds 65535 bytes. */
  FRAGMENT_PAST_MAXIMUM("fragment offset plus length exceeds 65535 bytes"),
  /**
   * The fragment fields contradict the length: MF with a payload that is not a multiple of 8 bytes
   * (the next fragment's offset could not be expressed). DF on a fragment is not a defect: Linux
   * sends such fragments when it refragments a reassembled DF datagram, and S17 requires that
   * fragments be written back unchanged.
   */
  FRAGMENT_FLAGS_INCONSISTENT("fragment flags are inconsistent with the offset or length"),
  /** The reserved (evil) bit of the flags is set. */
  RESERVED_FLAG_SET("the reserved flag bit is set"),
  /** IPv6: fewer than 40 bytes, no room for the fixed IPv6 header. */
  IPV6_TOO_SHORT("shorter than the 40-byte IPv6 header"),
  /** IPv6: the version field is not 6. */
  IPV6_BAD_VERSION("IP version is not 6"),
  /**
   * IPv6: the payload length field does not agree with the bytes present (40 plus the payload
   * length is larger than the packet).
   */
  PAYLOAD_LENGTH_INCONSISTENT("IPv6 payload length is inconsistent with the bytes present"),
  /**
   * IPv6: an extension header (hop-by-hop, routing, destination options, fragment) runs past the
   * end.
   */
  EXTENSION_HEADER_PAST_END("an IPv6 extension header runs past the end of the packet"),
  /** IPv6: a Jumbo Payload option (RFC 2675); divert4j refuses jumbograms (S59). */
  JUMBOGRAM("IPv6 jumbogram (Jumbo Payload option) is not supported");

  private final String description;

  Defect(String description) {
    this.description = description;
  }

  /**
   * @return a short English description of the defect
   */
  public String description() {
    return description;
  }
}
