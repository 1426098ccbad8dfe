package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;
import org.divert4j.linux.Native;

/**
 * The NFQUEUE wire format, spoken directly over {@code NETLINK_NETFILTER} (no libnetfilter_queue):
 * {@code nlmsghdr} (16 bytes, host order) | {@code nfgenmsg} (family u8, version u8, res_id u16
 * big-endian = queue number) | attributes ({@code nlattr}: len u16, type u16, host order; payload
 * padded to 4 bytes, its numbers big-endian). See include/uapi/linux/netfilter/nfnetlink_queue.h
 * and net/netfilter/nfnetlink_queue.c ({@code nfqnl_build_packet_message}, {@code
 * nfqnl_recv_config}, {@code nfqnl_recv_verdict[_batch]}).
 *
 * <p>Static, allocation-free encoders and a decoder over little-endian direct buffers (the backend
 * runs on little-endian Linux only). Thread-safe (stateless).
 */
public final class NfqCodec {
  public static final int NLMSG_HDRLEN = 16;
  public static final int NLMSG_NOOP = 1;
  public static final int NLMSG_ERROR = 2;
  public static final int NLMSG_DONE = 3;
  public static final int NLMSG_OVERRUN = 4;
  public static final int NLM_F_REQUEST = 1;
  public static final int NLM_F_MULTI = 2;
  public static final int NLM_F_ACK = 4;
  public static final int NLM_F_DUMP = 0x300;

  public static final int NFNL_SUBSYS_QUEUE = 3;
  public static final int NFQNL_MSG_PACKET = 0;
  public static final int NFQNL_MSG_VERDICT = 1;
  public static final int NFQNL_MSG_CONFIG = 2;
  public static final int NFQNL_MSG_VERDICT_BATCH = 3;

  public static final int NFQA_PACKET_HDR = 1;
  public static final int NFQA_VERDICT_HDR = 2;
  public static final int NFQA_MARK = 3;
  public static final int NFQA_TIMESTAMP = 4;
  public static final int NFQA_IFINDEX_INDEV = 5;
  public static final int NFQA_IFINDEX_OUTDEV = 6;
  public static final int NFQA_PAYLOAD = 10;
  public static final int NFQA_CT_INFO = 12;
  public static final int NFQA_CAP_LEN = 13;
  public static final int NFQA_SKB_INFO = 14;
  public static final int NFQA_UID = 16;
  public static final int NFQA_GID = 17;

  public static final int NFQA_CFG_CMD = 1;
  public static final int NFQA_CFG_PARAMS = 2;
  public static final int NFQA_CFG_QUEUE_MAXLEN = 3;
  public static final int NFQA_CFG_MASK = 4;
  public static final int NFQA_CFG_FLAGS = 5;
  public static final int NFQA_CFG_F_FAIL_OPEN = 1;
  public static final int NFQA_CFG_F_CONNTRACK = 2;
  public static final int NFQA_CFG_F_UID_GID = 8;

  /**
   * Hand GSO packets to user space whole: without it {@code nfqnl_enqueue_packet} cuts each one
   * with {@code skb_gso_segment} before queueing, and {@code nfqnl_build_packet_message} completes
   * a CHECKSUM_PARTIAL checksum ({@code skb_checksum_help}) only when the flag is off.
   */
  public static final int NFQA_CFG_F_GSO = 4;

  /** NFQA_SKB_INFO: the transport checksum is partial (ip_summed == CHECKSUM_PARTIAL). */
  public static final int NFQA_SKB_CSUMNOTREADY = 1;

  /** NFQA_SKB_INFO: the packet is GSO ({@code skb_is_gso}), may exceed the device MTU. */
  public static final int NFQA_SKB_GSO = 2;

  public static final int NFQNL_CFG_CMD_NONE = 0;
  public static final int NFQNL_CFG_CMD_BIND = 1;
  public static final int NFQNL_CFG_CMD_UNBIND = 2;
  public static final int NFQNL_CFG_CMD_PF_UNBIND = 4;
  public static final int NFQNL_COPY_PACKET = 2;

  /** nla_len is a u16 that includes the 4-byte header: payloads above this are truncated. */
  public static final int MAX_COPY_RANGE = 0xffff - 4;

  public static final int NF_DROP = 0;
  public static final int NF_ACCEPT = 1;
  public static final int NF_REPEAT = 4;

  public static final int HOOK_PRE_ROUTING = 0;
  public static final int HOOK_LOCAL_IN = 1;
  public static final int HOOK_FORWARD = 2;
  public static final int HOOK_LOCAL_OUT = 3;
  public static final int HOOK_POST_ROUTING = 4;

  /** The bytes a verdict message takes without payload and mark. */
  public static final int VERDICT_SIZE = NLMSG_HDRLEN + 4 + 12;

  /** The extra bytes a mark attribute takes. */
  public static final int MARK_SIZE = 8;

  private NfqCodec() {}

  /**
   * @param v a length
   * @return it rounded up to 4 (NLMSG_ALIGN, NLA_ALIGN)
   */
  public static int align(int v) {
    return (v + 3) & ~3;
  }

  /**
   * @param msg NFQNL_MSG_*
   * @return the nlmsg_type of that queue message
   */
  public static int type(int msg) {
    return (NFNL_SUBSYS_QUEUE << 8) | msg;
  }

  private static int header(
      ByteBuffer b, int off, int msg, int flags, int seq, int family, int queue) {
    return nfHeader(b, off, type(msg), flags, seq, family, queue);
  }

  /**
   * Writes an nfnetlink request header ({@code nlmsghdr} then {@code nfgenmsg}) of any subsystem;
   * {@link #end} fixes its length. Shared with {@link NflogCodec}.
   *
   * @return where the first attribute goes
   */
  static int nfHeader(
      ByteBuffer b, int off, int fullType, int flags, int seq, int family, int resId) {
    b.putInt(off, 0); // length, fixed by end()
    b.putShort(off + 4, (short) fullType);
    b.putShort(off + 6, (short) flags);
    b.putInt(off + 8, seq);
    b.putInt(off + 12, 0); // port id: the kernel
    b.put(off + 16, (byte) family);
    b.put(off + 17, (byte) 0); // NFNETLINK_V0
    b.putShort(off + 18, Short.reverseBytes((short) resId)); // queue or group number
    return off + 20;
  }

  static int attrHeader(ByteBuffer b, int off, int type, int payloadLen) {
    b.putShort(off, (short) (4 + payloadLen));
    b.putShort(off + 2, (short) type);
    return off + 4;
  }

  static int attrBe32(ByteBuffer b, int off, int type, int value) {
    int p = attrHeader(b, off, type, 4);
    b.putInt(p, Integer.reverseBytes(value));
    return p + 4;
  }

  /**
   * Finishes a message: sets nlmsg_len and zero-pads to 4 bytes.
   *
   * @param b the buffer
   * @param start where the message starts
   * @param end where its last attribute ends
   * @return the aligned end, where the next message may start
   */
  public static int end(ByteBuffer b, int start, int end) {
    b.putInt(start, end - start);
    int aligned = align(end);
    for (int i = end; i < aligned; i++) {
      b.put(i, (byte) 0);
    }
    return aligned;
  }

  /**
   * Writes a queue configuration message (NFQNL_MSG_CONFIG) with NLM_F_ACK: one message binds the
   * queue and sets copy mode, queue length and flags atomically ({@code nfqnl_recv_config} applies
   * the command first, then the other attributes).
   *
   * @param b the buffer
   * @param off where to write
   * @param seq sequence number, echoed in the ack
   * @param queue the queue number
   * @param cmd NFQNL_CFG_CMD_*, or NONE for no command
   * @param copyRange the copy range for NFQNL_COPY_PACKET, or -1 for no parameters
   * @param maxLen the queue length, or -1 to leave it
   * @param flags NFQA_CFG_F_* flags to set
   * @param mask which flags to change; 0 for no flags attribute
   * @return the aligned end of the message
   */
  public static int config(
      ByteBuffer b,
      int off,
      int seq,
      int queue,
      int cmd,
      int copyRange,
      int maxLen,
      int flags,
      int mask) {
    int p = header(b, off, NFQNL_MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK, seq, Native.AF_INET, queue);
    if (cmd != NFQNL_CFG_CMD_NONE) {
      p = attrHeader(b, p, NFQA_CFG_CMD, 4);
      b.put(p, (byte) cmd);
      b.put(p + 1, (byte) 0);
      b.putShort(p + 2, Short.reverseBytes((short) Native.AF_INET));
      p += 4;
    }
    if (copyRange >= 0) {
      p = attrHeader(b, p, NFQA_CFG_PARAMS, 5);
      b.putInt(p, Integer.reverseBytes(copyRange));
      b.put(p + 4, (byte) NFQNL_COPY_PACKET);
      p = align(p + 5);
    }
    if (maxLen >= 0) {
      p = attrBe32(b, p, NFQA_CFG_QUEUE_MAXLEN, maxLen);
    }
    if (mask != 0) {
      p = attrBe32(b, p, NFQA_CFG_MASK, mask);
      p = attrBe32(b, p, NFQA_CFG_FLAGS, flags);
    }
    return end(b, off, p);
  }

  /**
   * Writes the start of a verdict message (NFQNL_MSG_VERDICT, or NFQNL_MSG_VERDICT_BATCH which
   * applies to every queued packet with an id up to {@code id}), without NLM_F_ACK: the kernel only
   * answers a failed verdict, with an NLMSG_ERROR the receive path counts.
   *
   * @param b the buffer
   * @param off where to write
   * @param batch true for NFQNL_MSG_VERDICT_BATCH
   * @param queue the queue number
   * @param verdict NF_ACCEPT, NF_DROP or NF_REPEAT
   * @param id the packet id (the highest id for a batch)
   * @param setMark true to set the packet mark
   * @param mark the mark to set
   * @return where a payload attribute may follow, or the message end
   */
  public static int verdict(
      ByteBuffer b,
      int off,
      boolean batch,
      int queue,
      int verdict,
      int id,
      boolean setMark,
      int mark) {
    int p =
        header(
            b,
            off,
            batch ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT,
            NLM_F_REQUEST,
            0,
            0,
            queue);
    p = attrHeader(b, p, NFQA_VERDICT_HDR, 8);
    b.putInt(p, Integer.reverseBytes(verdict));
    b.putInt(p + 4, Integer.reverseBytes(id));
    p += 8;
    if (setMark) {
      p = attrBe32(b, p, NFQA_MARK, mark);
    }
    return p;
  }

  /**
   * Writes a payload attribute header; the caller writes the packet right after it.
   *
   * @param b the buffer
   * @param off where to write
   * @param length the packet length
   * @return where the packet bytes go
   */
  public static int payloadHeader(ByteBuffer b, int off, int length) {
    return attrHeader(b, off, NFQA_PAYLOAD, length);
  }

  /**
   * @param b a buffer holding netlink messages
   * @param off a message start
   * @return its nlmsg_len
   */
  public static int messageLength(ByteBuffer b, int off) {
    return b.getInt(off);
  }

  /**
   * @param b a buffer holding netlink messages
   * @param off a message start
   * @return its nlmsg_type
   */
  public static int messageType(ByteBuffer b, int off) {
    return b.getShort(off + 4) & 0xffff;
  }

  /** The smallest NLMSG_ERROR that carries its error code. */
  public static final int ERROR_CODE_SIZE = NLMSG_HDRLEN + 4;

  /** The smallest NLMSG_ERROR that carries the header of the request it answers. */
  public static final int ERROR_SIZE = NLMSG_HDRLEN + 4 + NLMSG_HDRLEN;

  /**
   * The length of the message at {@code off} if a whole message lies there: its nlmsg_len is at
   * least the header and reaches no further than {@code end}. Compares with the room left rather
   * than computing {@code off + nlmsg_len}, which a huge length field would overflow.
   *
   * @param b a buffer holding netlink messages
   * @param off where a message may start
   * @param end where the received bytes end
   * @return nlmsg_len, or -1 if no whole message starts at {@code off}
   */
  public static int wholeMessageLength(ByteBuffer b, int off, int end) {
    if (off < 0 || end - off < NLMSG_HDRLEN) {
      return -1;
    }
    int len = b.getInt(off);
    return len < NLMSG_HDRLEN || len > end - off ? -1 : len;
  }

  /**
   * Walks the netlink messages of one received datagram, as the receive path does: decodes packet
   * messages, counts error messages, and skips acks and everything else. Stops at the first bytes
   * that are not a whole message (the rest of the datagram is ignored). Never throws for any
   * content of the bytes between the bounds given to {@link #reset}. Reused; not thread-safe.
   */
  public static final class Walk {
    private int at;
    private int end;
    private long errors;
    private int lastError;

    /**
     * Starts on a datagram.
     *
     * @param start where its first message starts
     * @param end where it ends (start plus the received length)
     */
    public void reset(int start, int end) {
      this.at = start;
      this.end = end;
    }

    /**
     * Decodes the next packet message of the datagram.
     *
     * @param b the buffer the datagram is in
     * @param out where to decode it; its payload offset indexes {@code b}
     * @return true if a packet was decoded, false when the datagram has no more
     */
    public boolean next(ByteBuffer b, NfqPacket out) {
      while (true) {
        int len = wholeMessageLength(b, at, end);
        if (len < 0) {
          at = end;
          return false;
        }
        int o = at;
        at = len > end - o - 4 ? end : o + align(len);
        int type = messageType(b, o);
        if (type == type(NFQNL_MSG_PACKET) || type == NflogCodec.PACKET) {
          if (NfqPacket.parse(b, o, len, out)) {
            return true;
          }
        } else if (type == NLMSG_ERROR && len >= ERROR_CODE_SIZE) {
          int code = errorCode(b, o);
          if (code != 0) {
            errors++;
            lastError = -code;
          }
        }
      }
    }

    /**
     * @return where the next message would start
     */
    public int position() {
      return at;
    }

    /**
     * @return error messages with a non-zero code seen so far (refused verdicts)
     */
    public long errors() {
      return errors;
    }

    /**
     * @return the errno of the last of them
     */
    public int lastError() {
      return lastError;
    }
  }

  /**
   * @param b a buffer holding an NLMSG_ERROR message
   * @param off its start
   * @return the error code: 0 for an ack, else a negative errno
   */
  public static int errorCode(ByteBuffer b, int off) {
    return b.getInt(off + NLMSG_HDRLEN);
  }

  /**
   * @param b a buffer holding an NLMSG_ERROR message
   * @param off its start
   * @return the sequence number of the request it answers
   */
  public static int errorSequence(ByteBuffer b, int off) {
    return b.getInt(off + NLMSG_HDRLEN + 4 + 8);
  }

  /**
   * @param b a buffer holding an NLMSG_ERROR message
   * @param off its start
   * @return the nlmsg_type of the request it answers
   */
  public static int errorRequestType(ByteBuffer b, int off) {
    return b.getShort(off + NLMSG_HDRLEN + 4 + 4) & 0xffff;
  }
}
