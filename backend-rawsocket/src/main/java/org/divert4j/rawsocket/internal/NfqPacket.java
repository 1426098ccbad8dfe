package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;

/** A decoded NFQNL_MSG_PACKET; reused, never allocated per packet. Not thread-safe. */
public final class NfqPacket {
  /** The packet id (unsigned 32 bits). */
  public int id;

  /** The netfilter hook, NF_INET_*. */
  public int hook;

  /** The queue number (res_id). */
  public int queue;

  /** skb->mark, 0 when absent. */
  public int mark;

  /** The input interface index, 0 when absent. */
  public int inIndex;

  /** The output interface index, 0 when absent. */
  public int outIndex;

  /**
   * NFQA_TIMESTAMP as nanoseconds since the epoch (struct nfqnl_msg_packet_timestamp: big-endian
   * seconds and microseconds), -1 when absent.
   */
  public long timestamp;

  /** NFQA_UID (unsigned 32 bits), -1 when absent. */
  public long uid;

  /** NFQA_GID (unsigned 32 bits), -1 when absent. */
  public long gid;

  /** NFQA_CT_INFO (enum ip_conntrack_info), -1 when absent. */
  public int ctInfo;

  /** Offset of the packet bytes in the buffer. */
  public int payloadOffset;

  /** Number of packet bytes present. */
  public int payloadLength;

  /**
   * NFQA_SKB_INFO flags ({@code nfqnl_put_packet_info}): NFQA_SKB_GSO, NFQA_SKB_CSUMNOTREADY; 0
   * when absent. The kernel sends no segment size (include/uapi/linux/netfilter/nfnetlink_queue.h
   * has no such attribute up to 6.x).
   */
  public int skbInfo;

  /** The packet's real length: larger than {@link #payloadLength} if it was truncated. */
  public int capturedLength;

  /**
   * For an nfnetlink_log copy ({@link NflogCodec}): the instance-local sequence number (NFULA_SEQ),
   * or -1 if the message had none.
   */
  public long seq;

  void clear() {
    seq = -1;
    id = 0;
    hook = -1;
    queue = 0;
    mark = 0;
    inIndex = 0;
    outIndex = 0;
    timestamp = -1;
    uid = -1;
    gid = -1;
    ctInfo = -1;
    payloadOffset = 0;
    payloadLength = 0;
    capturedLength = 0;
    skbInfo = 0;
  }

  /**
   * @return true if the kernel marked the packet GSO (a super-packet, NFQA_CFG_F_GSO queues only)
   */
  public boolean gso() {
    return (skbInfo & NfqCodec.NFQA_SKB_GSO) != 0;
  }

  /**
   * @return true if its transport checksum is partial, to be completed by the stack or device
   */
  public boolean checksumPartial() {
    return (skbInfo & NfqCodec.NFQA_SKB_CSUMNOTREADY) != 0;
  }

  /**
   * @return true if the kernel cut the packet (longer than {@link NfqCodec#MAX_COPY_RANGE})
   */
  public boolean truncated() {
    return capturedLength > payloadLength;
  }

  /**
   * Decodes a packet message. Tolerates unknown attributes and bounds-checks everything against
   * {@code msgLen}, so a malformed message yields false rather than an exception.
   *
   * @param b the buffer
   * @param off the message start
   * @param msgLen the message length (nlmsg_len, already checked to fit the buffer)
   * @param out where to put the fields
   * @return true if it is a packet message with a header attribute
   */
  public static boolean parse(ByteBuffer b, int off, int msgLen, NfqPacket out) {
    out.clear();
    if (msgLen >= NfqCodec.NLMSG_HDRLEN + 4 && NfqCodec.messageType(b, off) == NflogCodec.PACKET) {
      return NflogCodec.parse(b, off, msgLen, out);
    }
    if (msgLen < NfqCodec.NLMSG_HDRLEN + 4
        || NfqCodec.messageType(b, off) != NfqCodec.type(NfqCodec.NFQNL_MSG_PACKET)) {
      return false;
    }
    out.queue = Short.reverseBytes(b.getShort(off + 18)) & 0xffff;
    int end = off + msgLen;
    int p = off + NfqCodec.NLMSG_HDRLEN + 4;
    boolean header = false;
    while (p + 4 <= end) {
      int alen = b.getShort(p) & 0xffff;
      int atype = b.getShort(p + 2) & 0x3fff;
      if (alen < 4 || p + alen > end) {
        return false;
      }
      int v = p + 4;
      int vlen = alen - 4;
      switch (atype) {
        case NfqCodec.NFQA_PACKET_HDR -> {
          if (vlen >= 7) {
            out.id = Integer.reverseBytes(b.getInt(v));
            out.hook = b.get(v + 6) & 0xff;
            header = true;
          }
        }
        case NfqCodec.NFQA_MARK -> {
          if (vlen >= 4) {
            out.mark = Integer.reverseBytes(b.getInt(v));
          }
        }
        case NfqCodec.NFQA_IFINDEX_INDEV -> {
          if (vlen >= 4) {
            out.inIndex = Integer.reverseBytes(b.getInt(v));
          }
        }
        case NfqCodec.NFQA_IFINDEX_OUTDEV -> {
          if (vlen >= 4) {
            out.outIndex = Integer.reverseBytes(b.getInt(v));
          }
        }
        case NfqCodec.NFQA_CAP_LEN -> {
          if (vlen >= 4) {
            out.capturedLength = Integer.reverseBytes(b.getInt(v));
          }
        }
        case NfqCodec.NFQA_SKB_INFO -> {
          if (vlen >= 4) {
            out.skbInfo = Integer.reverseBytes(b.getInt(v));
          }
        }
        case NfqCodec.NFQA_TIMESTAMP -> {
          if (vlen >= 16) {
            out.timestamp = be64(b, v) * 1_000_000_000L + be64(b, v + 8) * 1_000L;
          }
        }
        case NfqCodec.NFQA_UID -> {
          if (vlen >= 4) {
            out.uid = be32(b, v) & 0xffffffffL;
          }
        }
        case NfqCodec.NFQA_GID -> {
          if (vlen >= 4) {
            out.gid = be32(b, v) & 0xffffffffL;
          }
        }
        case NfqCodec.NFQA_CT_INFO -> {
          if (vlen >= 4) {
            out.ctInfo = be32(b, v);
          }
        }
        case NfqCodec.NFQA_PAYLOAD -> {
          out.payloadOffset = v;
          out.payloadLength = vlen;
        }
        default -> {
          // attributes we do not use (timestamp, hwaddr, ...)
        }
      }
      p += NfqCodec.align(alen);
    }
    if (out.capturedLength < out.payloadLength) {
      out.capturedLength = out.payloadLength;
    }
    return header;
  }

  /** A big-endian 32-bit attribute value, whatever the buffer's order. */
  private static int be32(ByteBuffer b, int at) {
    int v = b.getInt(at);
    return b.order() == java.nio.ByteOrder.BIG_ENDIAN ? v : Integer.reverseBytes(v);
  }

  /** A big-endian 64-bit attribute value, whatever the buffer's order. */
  private static long be64(ByteBuffer b, int at) {
    long v = b.getLong(at);
    return b.order() == java.nio.ByteOrder.BIG_ENDIAN ? v : Long.reverseBytes(v);
  }
}
