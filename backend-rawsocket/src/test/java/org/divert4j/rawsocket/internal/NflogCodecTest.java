package org.divert4j.rawsocket.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** The nfnetlink_log wire format of a sniffer: the bind request and the packet message. */
class NflogCodecTest {
  private static ByteBuffer buffer() {
    return ByteBuffer.allocate(512).order(ByteOrder.LITTLE_ENDIAN);
  }

  @Test
  void bindRequestCarriesCommandModeThresholdAndSequenceFlag() {
    ByteBuffer b = buffer();
    int end = NflogCodec.bind(b, 0, 77, 4200, 1);
    assertEquals(end, b.getInt(0), "nlmsg_len");
    assertEquals((4 << 8) | 1, b.getShort(4) & 0xffff, "NFNL_SUBSYS_ULOG, NFULNL_MSG_CONFIG");
    assertEquals(NfqCodec.NLM_F_REQUEST | NfqCodec.NLM_F_ACK, b.getShort(6));
    assertEquals(77, b.getInt(8));
    assertEquals(4200, Short.reverseBytes(b.getShort(18)) & 0xffff, "res_id = group");
    int p = 20;
    assertEquals(5, b.getShort(p)); // NFULA_CFG_CMD, 1 byte
    assertEquals(NflogCodec.NFULA_CFG_CMD, b.getShort(p + 2));
    assertEquals(NflogCodec.NFULNL_CFG_CMD_BIND, b.get(p + 4));
    p += 8;
    assertEquals(10, b.getShort(p)); // NFULA_CFG_MODE, packed 6 bytes
    assertEquals(0xffff, Integer.reverseBytes(b.getInt(p + 4)), "copy range, big-endian");
    assertEquals(NflogCodec.NFULNL_COPY_PACKET, b.get(p + 8));
    p += 12;
    assertEquals(NflogCodec.NFULA_CFG_QTHRESH, b.getShort(p + 2));
    assertEquals(1, Integer.reverseBytes(b.getInt(p + 4)));
    p += 8;
    assertEquals(6, b.getShort(p)); // NFULA_CFG_FLAGS, __be16
    assertEquals(NflogCodec.NFULNL_CFG_F_SEQ, Short.reverseBytes(b.getShort(p + 4)));
    assertEquals(end, p + 8);
  }

  @Test
  void batchedBindAddsFlushTimeoutAndBufferSize() {
    ByteBuffer b = buffer();
    int end = NflogCodec.bind(b, 0, 77, 4200, 64);
    int p = 20 + 8 + 12;
    assertEquals(NflogCodec.NFULA_CFG_QTHRESH, b.getShort(p + 2));
    assertEquals(64, Integer.reverseBytes(b.getInt(p + 4)));
    p += 8;
    assertEquals(NflogCodec.NFULA_CFG_TIMEOUT, b.getShort(p + 2));
    assertEquals(1, Integer.reverseBytes(b.getInt(p + 4)), "10 ms, in hundredths of a second");
    p += 8;
    assertEquals(NflogCodec.NFULA_CFG_NLBUFSIZ, b.getShort(p + 2));
    assertEquals(NflogCodec.BATCH_BUFFER, Integer.reverseBytes(b.getInt(p + 4)));
    assertTrue(NflogCodec.BATCH_BUFFER < NfqChannel.RX_SLOT, "a batch fits one receive slot");
    p += 8;
    assertEquals(NflogCodec.NFULA_CFG_FLAGS, b.getShort(p + 2));
    assertEquals(end, p + 8);
  }

  @Test
  void thresholdIsASixteenthOfTheQueueWithinOneAndTheBatchLimit() {
    assertEquals(1, NflogCodec.threshold(1));
    assertEquals(1, NflogCodec.threshold(8), "a small queue keeps one copy per message");
    assertEquals(1, NflogCodec.threshold(31));
    assertEquals(2, NflogCodec.threshold(32));
    assertEquals(64, NflogCodec.threshold(1024), "the default queue length");
    assertEquals(NflogCodec.MAX_BATCH, NflogCodec.threshold(1 << 20));
  }

  @Test
  void packetMessageGivesHookMarkInterfacePayloadAndSequence() {
    ByteBuffer b = buffer();
    int p = NfqCodec.nfHeader(b, 0, NflogCodec.PACKET, 0, 0, 2, 4200);
    p = NfqCodec.attrHeader(b, p, NflogCodec.NFULA_PACKET_HDR, 4);
    b.putShort(p, (short) 0x0008);
    b.put(p + 2, (byte) NfqCodec.HOOK_PRE_ROUTING);
    p += 4;
    p = NfqCodec.attrBe32(b, p, NflogCodec.NFULA_MARK, 0x8010000);
    p = NfqCodec.attrBe32(b, p, NflogCodec.NFULA_IFINDEX_INDEV, 3);
    p = NfqCodec.attrBe32(b, p, NflogCodec.NFULA_SEQ, 0xfffffffe);
    p = NfqCodec.attrHeader(b, p, NflogCodec.NFULA_PAYLOAD, 20);
    int payload = p;
    p += 20;
    int end = NfqCodec.end(b, 0, p);
    NfqPacket pkt = new NfqPacket();
    assertTrue(NfqPacket.parse(b, 0, end, pkt));
    assertEquals(4200, pkt.queue);
    assertEquals(NfqCodec.HOOK_PRE_ROUTING, pkt.hook);
    assertEquals(0x8010000, pkt.mark);
    assertEquals(3, pkt.inIndex);
    assertEquals(0xfffffffeL, pkt.seq, "an unsigned u32");
    assertEquals(payload, pkt.payloadOffset);
    assertEquals(20, pkt.payloadLength);
    assertEquals(0, pkt.id, "a copy has no verdict id");
    assertFalse(NfqPacket.parse(b, 0, 20, pkt), "no packet header attribute");
  }
}
