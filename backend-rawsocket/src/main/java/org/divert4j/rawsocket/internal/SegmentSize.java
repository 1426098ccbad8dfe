package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;

/**
 * The segment size of a GSO super-packet (S69). NFQUEUE tells that a packet is GSO (NFQA_SKB_GSO in
 * NFQA_SKB_INFO, {@code nfqnl_put_packet_info} in net/netfilter/nfnetlink_queue.c) but not its
 * {@code gso_size}: include/uapi/linux/netfilter/nfnetlink_queue.h has no attribute for it. The
 * size is therefore derived from the interface MTU the way the stack derives it: the MTU less the
 * IP header and the transport header, options included (a TCP sender on an MTU 1500 link with
 * timestamps cuts 1448-byte segments, and GRO on the receiver coalesces segments of that size).
 * Stateless, allocation-free.
 */
final class SegmentSize {
  private static final int TCP = 6;
  private static final int UDP = 17;

  private SegmentSize() {}

  /**
   * @param b the buffer holding the packet
   * @param off where its IP header starts
   * @param len its length
   * @param mtu the MTU of its interface, 0 if unknown
   * @return the transport payload bytes per segment, at least 1
   */
  static int of(ByteBuffer b, int off, int len, int mtu) {
    int version = (b.get(off) & 0xff) >>> 4;
    int ipHeader;
    int protocol;
    if (version == 6) {
      ipHeader = 40;
      protocol = b.get(off + 6) & 0xff;
    } else {
      ipHeader = (b.get(off) & 0x0f) * 4;
      protocol = b.get(off + 9) & 0xff;
    }
    int l4 = 0;
    if (protocol == TCP && ipHeader + 13 <= len) {
      l4 = ((b.get(off + ipHeader + 12) & 0xff) >>> 4) * 4;
    } else if (protocol == UDP) {
      l4 = 8;
    }
    int payload = len - ipHeader - l4;
    int size = mtu > 0 ? mtu - ipHeader - l4 : payload;
    if (size > payload) {
      size = payload;
    }
    return Math.max(1, size);
  }
}
