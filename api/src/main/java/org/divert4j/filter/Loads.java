package org.divert4j.filter;

/**
 * How to load each plain header field with one read: the header it lives in (an index into {@link
 * Layout#anchors}), its byte offset there, the width of the read, then a right shift, a mask and
 * bits to set. {@link Program}'s fast path evaluates such a field with array loads and one buffer
 * read instead of a per-field switch. Fields whose value needs more than that ({@code inbound},
 * payload lengths, indexed words, the protocol tests, ...) have anchor {@link #SPECIAL} and are
 * computed by {@code Values.value}; so does any field added later until it is listed here.
 */
final class Loads {
  /** Not a plain header field. */
  static final int SPECIAL = 0;

  static final int[] ANCHOR = new int[Field.values().length];
  static final int[] OFFSET = new int[ANCHOR.length];

  /** Bytes read: 1, 2, 4, or 8 (the low 64 bits of an IPv6 address; the high half precedes). */
  static final int[] WIDTH = new int[ANCHOR.length];

  static final int[] SHIFT = new int[ANCHOR.length];
  static final long[] MASK = new long[ANCHOR.length];
  static final long[] OR = new long[ANCHOR.length];

  static {
    int v4 = Layout.A_IP4;
    int v6 = Layout.A_IP6;
    set(Field.IP_HDR_LENGTH, v4, 0, 1, 0, 0x0f);
    set(Field.IP_TOS, v4, 1, 1, 0, 0xff);
    set(Field.IP_LENGTH, v4, 2, 2, 0, 0xffff);
    set(Field.IP_ID, v4, 4, 2, 0, 0xffff);
    set(Field.IP_DF, v4, 6, 1, 6, 1);
    set(Field.IP_MF, v4, 6, 1, 5, 1);
    set(Field.IP_FRAG_OFF, v4, 6, 2, 0, 0x1fff);
    set(Field.IP_TTL, v4, 8, 1, 0, 0xff);
    set(Field.IP_PROTOCOL, v4, 9, 1, 0, 0xff);
    set(Field.IP_CHECKSUM, v4, 10, 2, 0, 0xffff);
    // IPv4 addresses compare as ::ffff:a.b.c.d
    set(Field.IP_SRC_ADDR, v4, 12, 4, 0, 0xffff_ffffL);
    OR[Field.IP_SRC_ADDR.ordinal()] = 0xffff_0000_0000L;
    set(Field.IP_DST_ADDR, v4, 16, 4, 0, 0xffff_ffffL);
    OR[Field.IP_DST_ADDR.ordinal()] = 0xffff_0000_0000L;
    set(Field.IPV6_TRAFFIC_CLASS, v6, 0, 2, 4, 0xff);
    set(Field.IPV6_FLOW_LABEL, v6, 0, 4, 0, 0xfffff);
    set(Field.IPV6_LENGTH, v6, 4, 2, 0, 0xffff);
    set(Field.IPV6_NEXT_HDR, v6, 6, 1, 0, 0xff);
    set(Field.IPV6_HOP_LIMIT, v6, 7, 1, 0, 0xff);
    set(Field.IPV6_SRC_ADDR, v6, 16, 8, 0, -1);
    set(Field.IPV6_DST_ADDR, v6, 32, 8, 0, -1);
    int[] icmps = {Layout.A_ICMP, Layout.A_ICMPV6};
    Field[][] icmpFields = {
      {Field.ICMP_TYPE, Field.ICMP_CODE, Field.ICMP_CHECKSUM, Field.ICMP_BODY},
      {Field.ICMPV6_TYPE, Field.ICMPV6_CODE, Field.ICMPV6_CHECKSUM, Field.ICMPV6_BODY}
    };
    for (int k = 0; k < 2; k++) {
      set(icmpFields[k][0], icmps[k], 0, 1, 0, 0xff);
      set(icmpFields[k][1], icmps[k], 1, 1, 0, 0xff);
      set(icmpFields[k][2], icmps[k], 2, 2, 0, 0xffff);
      set(icmpFields[k][3], icmps[k], 4, 4, 0, 0xffff_ffffL);
    }
    int t = Layout.A_TCP;
    set(Field.TCP_SRC_PORT, t, 0, 2, 0, 0xffff);
    set(Field.TCP_DST_PORT, t, 2, 2, 0, 0xffff);
    set(Field.TCP_SEQ_NUM, t, 4, 4, 0, 0xffff_ffffL);
    set(Field.TCP_ACK_NUM, t, 8, 4, 0, 0xffff_ffffL);
    set(Field.TCP_HDR_LENGTH, t, 12, 1, 4, 0x0f);
    set(Field.TCP_URG, t, 13, 1, 5, 1);
    set(Field.TCP_ACK, t, 13, 1, 4, 1);
    set(Field.TCP_PSH, t, 13, 1, 3, 1);
    set(Field.TCP_RST, t, 13, 1, 2, 1);
    set(Field.TCP_SYN, t, 13, 1, 1, 1);
    set(Field.TCP_FIN, t, 13, 1, 0, 1);
    set(Field.TCP_WINDOW, t, 14, 2, 0, 0xffff);
    set(Field.TCP_CHECKSUM, t, 16, 2, 0, 0xffff);
    set(Field.TCP_URG_PTR, t, 18, 2, 0, 0xffff);
    int u = Layout.A_UDP;
    set(Field.UDP_SRC_PORT, u, 0, 2, 0, 0xffff);
    set(Field.UDP_DST_PORT, u, 2, 2, 0, 0xffff);
    set(Field.UDP_LENGTH, u, 4, 2, 0, 0xffff);
    set(Field.UDP_CHECKSUM, u, 6, 2, 0, 0xffff);
  }

  private Loads() {}

  private static void set(Field f, int anchor, int offset, int width, int shift, long mask) {
    int i = f.ordinal();
    ANCHOR[i] = anchor;
    OFFSET[i] = offset;
    WIDTH[i] = width;
    SHIFT[i] = shift;
    MASK[i] = mask;
  }

  /** Fields whose value {@link FilterContext} alone gives, or the buffer's bounds. */
  static boolean needsNoLayout(Field f) {
    return switch (f) {
      case ZERO, TRUE, FALSE, INBOUND, OUTBOUND, LOOPBACK, IF_IDX, LENGTH -> true;
      case PACKET, PACKET16, PACKET32 -> true;
      default -> false;
    };
  }
}
