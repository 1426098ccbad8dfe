package org.divert4j.rawsocket.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import org.divert4j.linux.Native;
import org.divert4j.packet.Checksums;
import org.junit.jupiter.api.Test;

/** The segment size and the checksum completion of S69's super-packets. */
class SegmentOffloadPartsTest {
  private static final byte[] TIMESTAMP_OPTIONS = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};

  @Test
  void segmentSizeIsTheMtuLessBothHeadersWithOptions() throws Exception {
    ByteBuffer b = tcp(32_000 + 52, 8); // data offset 8: 32-byte header with timestamps
    assertEquals(1448, SegmentSize.of(b, 0, 32_052, 1500));
    ByteBuffer u = ByteBuffer.allocate(9000);
    u.put(0, (byte) 0x45);
    u.put(9, (byte) 17);
    assertEquals(1472, SegmentSize.of(u, 0, 9000, 1500));
    assertEquals(9000 - 28, SegmentSize.of(u, 0, 9000, 0), "unknown MTU: one segment");
  }

  /**
   * The send buffer is in native (little-endian) order: completing the checksum must still write
   * the length big-endian and yield a checksum the receiver accepts.
   */
  @Test
  void completesAPartialChecksumInANativeOrderBuffer() throws Exception {
    int len = 20_052;
    ByteBuffer src = tcp(len, 8);
    ByteBuffer b = Native.allocate(65536 + 64);
    b.put(0, src, 0, len);
    b.put(2, (byte) 0).put(3, (byte) 0); // a stale length, as S40 allows
    b.put(36, (byte) 0x12).put(37, (byte) 0x34); // a partial checksum: any value
    assertFalse(Checksums.isTransportValid(b.duplicate().limit(len), 0));
    TransportChecksum.complete(b, len);
    assertEquals(len >>> 8, b.get(2) & 0xff);
    assertEquals(len & 0xff, b.get(3) & 0xff);
    assertTrue(Checksums.isTransportValid(b.duplicate().limit(len), 0));
  }

  private static ByteBuffer tcp(int len, int dataOffsetWords) throws Exception {
    Inet4Address a = (Inet4Address) InetAddress.getByName("10.0.0.1");
    Inet4Address c = (Inet4Address) InetAddress.getByName("10.0.0.2");
    ByteBuffer b = ByteBuffer.allocate(len);
    b.put(0, (byte) 0x45);
    b.put(2, (byte) (len >>> 8)).put(3, (byte) len);
    b.put(8, (byte) 64).put(9, (byte) 6);
    b.put(12, a.getAddress()).put(16, c.getAddress());
    b.put(32, (byte) (dataOffsetWords << 4));
    b.put(40, TIMESTAMP_OPTIONS);
    for (int i = 52; i < len; i++) {
      b.put(i, (byte) (i * 31));
    }
    Checksums.fillIpv4Header(b, 0);
    return b;
  }
}
