package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;
import org.divert4j.packet.Checksums;

/**
 * Completes the TCP or UDP checksum of a changed packet that was received with a partial one (S69).
 * With NFQA_CFG_F_GSO, {@code nfqnl_build_packet_message} no longer calls {@code skb_checksum_help}
 * on a CHECKSUM_PARTIAL skb, so the program sees only the pseudo-header sum in the checksum field
 * (NFQA_SKB_CSUMNOTREADY). A verdict with a payload makes the skb CHECKSUM_NONE ({@code
 * nfqnl_mangle}, net/netfilter/nfnetlink_queue.c): the field is then taken as final by the
 * receiving stack, so it must be whole. (A super-packet the stack then segments would be fixed by
 * {@code tcp4_gso_segment}, which recomputes a non-partial checksum; a packet delivered locally or
 * sent without segmentation would not.) Stateless, allocation-free.
 */
final class TransportChecksum {
  private TransportChecksum() {}

  /** Big-endian whatever the buffer's order (the send buffer is in native order). */
  private static void putU16(ByteBuffer b, int at, int v) {
    b.put(at, (byte) (v >>> 8));
    b.put(at + 1, (byte) v);
  }

  /**
   * Sets the IP length field to {@code len} and stores the transport checksum; leaves a packet it
   * cannot parse as it is (the send path's own checks answer for it).
   *
   * @param b the buffer, the packet at index 0
   * @param len the packet's length
   */
  static void complete(ByteBuffer b, int len) {
    int version = (b.get(0) & 0xff) >>> 4;
    try {
      if (version == 4) {
        putU16(b, 2, len);
        Checksums.fillTransport(b, 0);
      } else if (version == 6 && len >= 40) {
        putU16(b, 4, len - 40);
        Checksums.fillTransport6(b, 0);
      }
    } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
      // malformed transport header: written back as the program left it
    }
  }
}
