package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;
import org.divert4j.linux.Native;

/**
 * The nfnetlink_log (NFLOG) wire format a sniffer socket speaks over the same {@code
 * NETLINK_NETFILTER} channel as NFQUEUE ({@link NfqChannel}; headers and attributes as in {@link
 * NfqCodec}): one configuration request that binds a group, and the packet messages that carry the
 * copies. Constants from include/uapi/linux/netfilter/nfnetlink_log.h; behaviour from
 * net/netfilter/nfnetlink_log.c:
 *
 * <ul>
 *   <li>{@code nfulnl_recv_config} applies the command (NFULNL_CFG_CMD_BIND: EBUSY if the group has
 *       an instance already, EPERM if another socket owns it) and then the mode, queue threshold,
 *       buffer size and flags of the same message.
 *   <li>{@code nfulnl_log_packet} copies {@code min(copy_range, skb->len)} bytes (copy mode
 *       NFULNL_COPY_PACKET) and lets the packet go on: the NFLOG target returns XT_CONTINUE.
 *   <li>{@code __build_packet_message} numbers each message with the instance's {@code seq++}
 *       (NFULA_SEQ) when NFULNL_CFG_F_SEQ is set; a message that the reader's full socket buffer
 *       refuses is lost after it was numbered, so gaps in NFULA_SEQ count the lost copies exactly.
 *   <li>{@code nfulnl_rcv_nl_event}: closing the socket (NETLINK_URELEASE, also when the process is
 *       killed) destroys the instance; NFLOG lines then log nothing and the packets go on.
 * </ul>
 *
 * Static and allocation-free. Thread-safe (stateless).
 */
final class NflogCodec {
  static final int NFNL_SUBSYS_ULOG = 4;
  static final int NFULNL_MSG_PACKET = 0;
  static final int NFULNL_MSG_CONFIG = 1;

  /** The nlmsg_type of a packet message. */
  static final int PACKET = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;

  static final int NFULA_PACKET_HDR = 1;
  static final int NFULA_MARK = 2;
  static final int NFULA_IFINDEX_INDEV = 4;
  static final int NFULA_IFINDEX_OUTDEV = 5;
  static final int NFULA_PAYLOAD = 9;
  static final int NFULA_SEQ = 12;

  static final int NFULA_CFG_CMD = 1;
  static final int NFULA_CFG_MODE = 2;
  static final int NFULA_CFG_NLBUFSIZ = 3;
  static final int NFULA_CFG_TIMEOUT = 4;
  static final int NFULA_CFG_QTHRESH = 5;
  static final int NFULA_CFG_FLAGS = 6;

  static final int NFULNL_CFG_CMD_BIND = 1;
  static final int NFULNL_COPY_PACKET = 2;
  static final int NFULNL_CFG_F_SEQ = 1;

  /**
   * The copy range asked for: all of a packet. The kernel keeps at most NFULNL_COPY_RANGE_MAX
   * (0xffff minus the attribute header, as NFQUEUE's range) in {@code nfulnl_set_mode}.
   */
  static final int COPY_RANGE = 0xffff;

  /**
   * The most copies one message batch carries ({@link #threshold}). Each copy of a small packet
   * takes about 200 bytes of a batch (headers, timestamp, hardware header, sequence number and the
   * packet), so 64 of them fill most of {@link #BATCH_BUFFER}.
   */
  static final int MAX_BATCH = 64;

  /**
   * The instance's message buffer for batches (NFULA_CFG_NLBUFSIZ): 16 KiB less room for {@code
   * struct skb_shared_info}, so that {@code alloc_skb} in {@code nfulnl_alloc_skb} takes a 16 KiB
   * slab object rather than a 32 KiB one. Below the receive slot ({@link NfqChannel#RX_SLOT}), so a
   * batch is never truncated; a copy larger than the buffer gets a buffer of its own size.
   */
  static final int BATCH_BUFFER = 16384 - 1024;

  /**
   * The flush timeout of a partial batch (NFULA_CFG_TIMEOUT, in hundredths of a second: {@code
   * jiffies + flushtimeout * HZ / 100} in {@code nfulnl_log_packet}): the smallest, 10 ms, is the
   * most a copy can wait in the kernel when traffic is slow. The kernel default is a whole second.
   */
  static final int FLUSH_TIMEOUT = 1;

  private NflogCodec() {}

  /**
   * The number of copies per message batch (the queue threshold) for a sniffer whose queue holds
   * about {@code queueLength} copies: a sixteenth of it, at least 1 and at most {@link #MAX_BATCH}.
   * The reader's socket buffer refuses or takes a batch whole ({@code netlink_attachskb} checks the
   * buffer before each message), so a batch stays a small part of the queue; a queue of 16 or fewer
   * copies gets one copy per message, as before batching.
   *
   * @param queueLength the sniffer's queue length in packets ({@code HostOptions#queueLength})
   * @return the queue threshold, 1 to {@link #MAX_BATCH}
   */
  static int threshold(int queueLength) {
    return Math.max(1, Math.min(MAX_BATCH, queueLength / 16));
  }

  /**
   * Writes the request that binds a group and configures it in one message, with NLM_F_ACK: copy
   * mode PACKET over {@link #COPY_RANGE}, sequence numbers (NFULNL_CFG_F_SEQ), and the queue
   * threshold: with 1, each copy is its own netlink message, sent at once; with more, {@code
   * nfulnl_log_packet} appends copies to one buffer ({@link #BATCH_BUFFER}, NFULA_CFG_NLBUFSIZ) and
   * sends it when it holds {@code threshold} copies, when the next copy does not fit, or {@link
   * #FLUSH_TIMEOUT} after its first copy (NFULA_CFG_TIMEOUT), ending it with NLMSG_DONE. Per copy
   * that saves the buffer's allocation, the {@code netlink_unicast} and the wake-up of the reader,
   * which under a flood of small packets cost more than building the copy; the reader sees the same
   * messages, several to a datagram.
   *
   * @param b the buffer
   * @param off where to write
   * @param seq the request's sequence number, echoed in the ack
   * @param group the NFLOG group (the divert port)
   * @param threshold copies per batch, from {@link #threshold}
   * @return the aligned end of the message
   */
  static int bind(ByteBuffer b, int off, int seq, int group, int threshold) {
    int p =
        NfqCodec.nfHeader(
            b,
            off,
            (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG,
            NfqCodec.NLM_F_REQUEST | NfqCodec.NLM_F_ACK,
            seq,
            Native.AF_INET,
            group);
    p = NfqCodec.attrHeader(b, p, NFULA_CFG_CMD, 1); // struct nfulnl_msg_config_cmd, packed
    b.put(p, (byte) NFULNL_CFG_CMD_BIND);
    p = NfqCodec.align(p + 1);
    p = NfqCodec.attrHeader(b, p, NFULA_CFG_MODE, 6); // struct nfulnl_msg_config_mode, packed
    b.putInt(p, Integer.reverseBytes(COPY_RANGE));
    b.put(p + 4, (byte) NFULNL_COPY_PACKET);
    b.put(p + 5, (byte) 0);
    p = NfqCodec.align(p + 6);
    p = NfqCodec.attrBe32(b, p, NFULA_CFG_QTHRESH, threshold);
    if (threshold > 1) {
      p = NfqCodec.attrBe32(b, p, NFULA_CFG_TIMEOUT, FLUSH_TIMEOUT);
      p = NfqCodec.attrBe32(b, p, NFULA_CFG_NLBUFSIZ, BATCH_BUFFER);
    }
    p = NfqCodec.attrHeader(b, p, NFULA_CFG_FLAGS, 2); // __be16
    b.putShort(p, Short.reverseBytes((short) NFULNL_CFG_F_SEQ));
    p = NfqCodec.align(p + 2);
    return NfqCodec.end(b, off, p);
  }

  /**
   * Decodes an NFULNL_MSG_PACKET into the fields a sniffer uses: hook, mark, interfaces, payload
   * and sequence number ({@link NfqPacket#id} stays 0: a copy has no verdict). Bounds-checked like
   * {@link NfqPacket#parse}.
   *
   * @param b the buffer
   * @param off the message start
   * @param msgLen its length, already checked to fit
   * @param out where to put the fields (cleared by the caller)
   * @return true if it carried the packet header attribute
   */
  static boolean parse(ByteBuffer b, int off, int msgLen, NfqPacket out) {
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
        case NFULA_PACKET_HDR -> {
          if (vlen >= 3) { // struct nfulnl_msg_packet_hdr: hw_protocol, hook, pad
            out.hook = b.get(v + 2) & 0xff;
            header = true;
          }
        }
        case NFULA_MARK -> out.mark = vlen >= 4 ? Integer.reverseBytes(b.getInt(v)) : 0;
        case NFULA_IFINDEX_INDEV -> out.inIndex = vlen >= 4 ? Integer.reverseBytes(b.getInt(v)) : 0;
        case NFULA_IFINDEX_OUTDEV ->
            out.outIndex = vlen >= 4 ? Integer.reverseBytes(b.getInt(v)) : 0;
        case NFULA_SEQ ->
            out.seq = vlen >= 4 ? Integer.toUnsignedLong(Integer.reverseBytes(b.getInt(v))) : -1;
        case NFULA_PAYLOAD -> {
          out.payloadOffset = v;
          out.payloadLength = vlen;
        }
        default -> {
          // timestamp, hardware address, prefix, uid, ...: not used
        }
      }
      p += NfqCodec.align(alen);
    }
    out.capturedLength = out.payloadLength;
    return header;
  }
}
