package org.divert4j.pcap.internal;

/**
 * The link types the pcap backend can divert ({@code DLT_} values of pcap-linktype(7) and the
 * {@code LINKTYPE_} values savefiles carry), with the header each puts in front of an IP packet and
 * a name for messages. {@link LinkLayer} reads and writes frames of one of them.
 */
final class LinkTypes {
  static final int DLT_EN10MB = 1;
  static final int DLT_RAW = 12;
  static final int DLT_RAW_OPENBSD = 14;
  static final int LINKTYPE_RAW = 101;
  static final int DLT_LINUX_SLL = 113;
  static final int DLT_IPV4 = 228;
  static final int DLT_IPV6 = 229;
  static final int DLT_LINUX_SLL2 = 276;

  private LinkTypes() {}

  /**
   * @param linkType a DLT_ value
   * @return true if frames of that type can be diverted
   */
  static boolean supported(int linkType) {
    return headerLength(linkType) >= 0;
  }

  /**
   * @param linkType a DLT_ value
   * @return the length of the link header written in front of IPv4 packets, or -1 if unsupported
   */
  static int headerLength(int linkType) {
    switch (linkType) {
      case DLT_EN10MB:
        return 14;
      case DLT_RAW:
      case DLT_RAW_OPENBSD:
      case LINKTYPE_RAW:
      case DLT_IPV4:
      case DLT_IPV6:
        return 0;
      case DLT_LINUX_SLL:
        return 16;
      case DLT_LINUX_SLL2:
        return 20;
      default:
        return -1;
    }
  }

  /**
   * @param linkType a DLT_ value
   * @return a short name for messages
   */
  static String name(int linkType) {
    switch (linkType) {
      case DLT_EN10MB:
        return "Ethernet";
      case DLT_RAW:
      case DLT_RAW_OPENBSD:
      case LINKTYPE_RAW:
        return "raw IP";
      case DLT_IPV4:
        return "raw IPv4";
      case DLT_IPV6:
        return "raw IPv6";
      case DLT_LINUX_SLL:
        return "Linux cooked";
      case DLT_LINUX_SLL2:
        return "Linux cooked v2";
      default:
        return "link type " + linkType;
    }
  }
}
