package org.divert4j.rawsocket.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/**
 * The netlink codec against byte vectors of real kernel messages, captured on Linux 6.18 with a
 * raw-netlink NFQUEUE client (queue 7; ping -s 24 -p 41 from 10.250.1.1 to 10.250.1.2; a raw
 * PREROUTING rule and a mangle POSTROUTING rule with MARK 0x8010000 before NFQUEUE).
 */
class NfqCodecTest {
  /** The ack of a BIND+PARAMS config with seq 0x11223344. */
  static final String ACK =
      "240000000200000144332211967500000000000028000000020305004433221100000000";

  /** An echo request at PRE_ROUTING: id 1, indev 2, hwaddr, timestamp, skb info, 52-byte IP. */
  static final String PREROUTING =
      "8c000000000300000000000000000000020000070b000100000000010800000008000500000000021000090000"
          + "060000d2f5cffca7ee000014000400000000006b09fc110000000000004bac08000e000000000438000a00"
          + "45000034b2704000400170620afa01010afa01020800d68775bf000111fc096b000000008b4b0000000000"
          + "004141414141414141";

  /** The echo reply at POST_ROUTING: id 2, outdev 2, mark 0x08010000. */
  static final String POSTROUTING =
      "68000000000300000000000000000000020000070b00010000000002080004000800060000000002080003000801"
          + "000038000a0045000034787900004001ea590afa01020afa01010000de8775bf000111fc096b0000000"
          + "08b4b0000000000004141414141414141";

  /** The error for a verdict on an unknown id (999): ENOENT. */
  static final String ENOENT =
      "34000000020000000100000096750000feffffff20000000010301000100000000000000000000070c0002000000"
          + "0001000003e7";

  static ByteBuffer buf(String hex) {
    byte[] b = HexFormat.of().parseHex(hex);
    ByteBuffer bb = ByteBuffer.allocateDirect(b.length + 64).order(ByteOrder.LITTLE_ENDIAN);
    bb.put(0, b);
    return bb;
  }

  @Test
  void decodesAck() {
    ByteBuffer b = buf(ACK);
    assertEquals(36, NfqCodec.messageLength(b, 0));
    assertEquals(NfqCodec.NLMSG_ERROR, NfqCodec.messageType(b, 0));
    assertEquals(0, NfqCodec.errorCode(b, 0));
    assertEquals(0x11223344, NfqCodec.errorSequence(b, 0));
    assertEquals(NfqCodec.type(NfqCodec.NFQNL_MSG_CONFIG), NfqCodec.errorRequestType(b, 0));
  }

  @Test
  void decodesPreroutingPacket() {
    ByteBuffer b = buf(PREROUTING);
    NfqPacket p = new NfqPacket();
    assertTrue(NfqPacket.parse(b, 0, NfqCodec.messageLength(b, 0), p));
    assertEquals(1, p.id);
    assertEquals(NfqCodec.HOOK_PRE_ROUTING, p.hook);
    assertEquals(7, p.queue);
    assertEquals(2, p.inIndex);
    assertEquals(0, p.outIndex);
    assertEquals(0, p.mark);
    assertEquals(52, p.payloadLength);
    assertFalse(p.truncated());
    assertEquals(4, p.skbInfo, "NFQA_SKB_INFO: NFQA_SKB_CSUM_NOTVERIFIED");
    assertFalse(p.gso());
    assertFalse(p.checksumPartial());
    assertEquals(0x45, b.get(p.payloadOffset) & 0xff);
    org.divert4j.packet.Ipv4View v =
        new org.divert4j.packet.Ipv4View().wrap(b, p.payloadOffset, p.payloadLength);
    assertEquals(0x0afa0101, v.source());
    assertEquals(0x0afa0102, v.destination());
    assertTrue(
        org.divert4j.packet.Checksums.isIpv4HeaderValid(b, p.payloadOffset),
        "received header checksums are valid");
  }

  /** The same message with NFQA_SKB_INFO = NFQA_SKB_GSO | NFQA_SKB_CSUMNOTREADY (S69). */
  @Test
  void decodesSkbInfoOfASuperPacket() {
    assertTrue(PREROUTING.contains("08000e0000000004"));
    ByteBuffer b = buf(PREROUTING.replace("08000e0000000004", "08000e0000000003"));
    NfqPacket p = new NfqPacket();
    assertTrue(NfqPacket.parse(b, 0, NfqCodec.messageLength(b, 0), p));
    assertTrue(p.gso());
    assertTrue(p.checksumPartial());
    NfqPacket q = new NfqPacket();
    ByteBuffer plain = buf(POSTROUTING);
    assertTrue(NfqPacket.parse(plain, 0, NfqCodec.messageLength(plain, 0), q));
    assertEquals(0, q.skbInfo, "no NFQA_SKB_INFO attribute");
  }

  @Test
  void encodesTheGsoFlagWithItsMask() {
    ByteBuffer b = buf("00".repeat(128));
    int end =
        NfqCodec.config(
            b,
            0,
            1,
            7,
            NfqCodec.NFQNL_CFG_CMD_NONE,
            -1,
            -1,
            NfqCodec.NFQA_CFG_F_GSO,
            NfqCodec.NFQA_CFG_F_FAIL_OPEN | NfqCodec.NFQA_CFG_F_GSO);
    byte[] out = new byte[end];
    b.get(0, out);
    // NFQA_CFG_MASK (4) = 5, NFQA_CFG_FLAGS (5) = 4, both big-endian u32
    assertTrue(
        HexFormat.of().formatHex(out).endsWith("080004000000000508000500" + "00000004"),
        HexFormat.of().formatHex(out));
  }

  @Test
  void decodesPostroutingPacketWithMark() {
    ByteBuffer b = buf(POSTROUTING);
    NfqPacket p = new NfqPacket();
    assertTrue(NfqPacket.parse(b, 0, NfqCodec.messageLength(b, 0), p));
    assertEquals(2, p.id);
    assertEquals(NfqCodec.HOOK_POST_ROUTING, p.hook);
    assertEquals(0, p.inIndex);
    assertEquals(2, p.outIndex);
    assertEquals(0x08010000, p.mark);
    assertEquals(52, p.payloadLength);
  }

  @Test
  void decodesVerdictError() {
    ByteBuffer b = buf(ENOENT);
    assertEquals(NfqCodec.NLMSG_ERROR, NfqCodec.messageType(b, 0));
    assertEquals(-2, NfqCodec.errorCode(b, 0));
    assertEquals(NfqCodec.type(NfqCodec.NFQNL_MSG_VERDICT), NfqCodec.errorRequestType(b, 0));
  }

  @Test
  void rejectsTruncatedAndForeignMessages() {
    ByteBuffer b = buf(PREROUTING);
    NfqPacket p = new NfqPacket();
    // an attribute that claims to run past the message
    assertFalse(NfqPacket.parse(b, 0, 38, p));
    assertFalse(NfqPacket.parse(buf(ACK), 0, 36, p));
    assertFalse(NfqPacket.parse(b, 0, 10, p));
  }

  @Test
  void encodesConfigAsTheKernelExpects() {
    ByteBuffer b = buf("00".repeat(128));
    int end = NfqCodec.config(b, 0, 0x11223344, 7, NfqCodec.NFQNL_CFG_CMD_BIND, 0xffff, -1, 0, 0);
    byte[] out = new byte[end];
    b.get(0, out);
    // the same bytes nfq_probe.py sends for "bind queue 7 + copy packet 0xffff", in one message
    assertEquals(
        "28000000020305004433221100000000020000070800010001000002090002000000ffff02000000",
        HexFormat.of().formatHex(out));
    assertEquals(40, end);
  }

  @Test
  void encodesVerdicts() {
    ByteBuffer b = buf("00".repeat(256));
    int p = NfqCodec.verdict(b, 0, false, 7, NfqCodec.NF_REPEAT, 0x01020304, true, 0x0c010000);
    int end = NfqCodec.end(b, 0, p);
    assertEquals(NfqCodec.VERDICT_SIZE + NfqCodec.MARK_SIZE, end);
    byte[] out = new byte[end];
    b.get(0, out);
    assertEquals(
        "28000000"
            + "01030100"
            + "00000000"
            + "00000000"
            + "00000007" // nlmsghdr, nfgenmsg
            + "0c000200"
            + "00000004"
            + "01020304" // NFQA_VERDICT_HDR: NF_REPEAT, id
            + "08000300"
            + "0c010000", // NFQA_MARK
        HexFormat.of().formatHex(out));
    int q = NfqCodec.verdict(b, end, true, 7, NfqCodec.NF_ACCEPT, 9, false, 0);
    assertEquals(NfqCodec.type(NfqCodec.NFQNL_MSG_VERDICT_BATCH), NfqCodec.messageType(b, end));
    assertEquals(end + NfqCodec.VERDICT_SIZE, NfqCodec.end(b, end, q));
  }

  /**
   * Regression (found by NfqCodecFuzzPropertyTest): an nlmsg_len near 2^31 made {@code off + len}
   * overflow, so the old walk took it for a whole message, jumped to a negative offset and threw
   * IndexOutOfBoundsException out of the receive loop. The walk now stops at it.
   */
  @Test
  void aHugeMessageLengthEndsTheWalkInsteadOfOverflowing() {
    byte[] pkt = HexFormat.of().parseHex(PREROUTING);
    ByteBuffer b = ByteBuffer.allocateDirect(pkt.length + 32).order(ByteOrder.LITTLE_ENDIAN);
    b.put(0, pkt);
    b.putInt(pkt.length, 0x7ffffffc);
    b.putShort(pkt.length + 4, (short) 0x1234);
    NfqCodec.Walk w = new NfqCodec.Walk();
    w.reset(0, b.capacity());
    NfqPacket p = new NfqPacket();
    assertTrue(w.next(b, p));
    assertEquals(1, p.id);
    assertFalse(w.next(b, p));
    assertEquals(b.capacity(), w.position());
  }

  /**
   * Regression: an NLMSG_ERROR shorter than its error field, last in the buffer, made the old walk
   * read the error code past the buffer's end. It is skipped now.
   */
  @Test
  void aTruncatedErrorMessageAtTheEndIsSkipped() {
    ByteBuffer b = ByteBuffer.allocateDirect(16).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(0, 16);
    b.putShort(4, (short) NfqCodec.NLMSG_ERROR);
    NfqCodec.Walk w = new NfqCodec.Walk();
    w.reset(0, 16);
    assertFalse(w.next(b, new NfqPacket()));
    assertEquals(0, w.errors());
    ByteBuffer e = buf(ENOENT);
    w.reset(0, NfqCodec.messageLength(e, 0));
    assertFalse(w.next(e, new NfqPacket()));
    assertEquals(1, w.errors(), "a whole error message is still counted");
    assertEquals(2, w.lastError(), "ENOENT");
  }
}
