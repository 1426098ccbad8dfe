package org.divert4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

class PcapWriterTest {
  @Test
  void writesTheClassicHeaderAndOneRecordPerPacket() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    ByteBuffer packet = ByteBuffer.wrap(new byte[] {0x45, 0, 0, 5, 9});
    packet.position(0);
    try (PcapWriter w = new PcapWriter(bytes)) {
      w.write(packet, 1_700_000_000_123_456L);
      assertEquals(1, w.records());
    }
    assertEquals(0, packet.position(), "the packet is not consumed");
    ByteBuffer b = ByteBuffer.wrap(bytes.toByteArray()).order(ByteOrder.LITTLE_ENDIAN);
    assertEquals(24 + 16 + 5, b.limit());
    assertEquals(0xa1b2c3d4, b.getInt(0));
    assertEquals(2, b.getShort(4));
    assertEquals(4, b.getShort(6));
    assertEquals(65535, b.getInt(16));
    assertEquals(101, b.getInt(20), "LINKTYPE_RAW");
    assertEquals(1_700_000_000, b.getInt(24));
    assertEquals(123_456, b.getInt(28));
    assertEquals(5, b.getInt(32));
    assertEquals(5, b.getInt(36));
    byte[] data = new byte[5];
    b.get(40, data);
    assertArrayEquals(new byte[] {0x45, 0, 0, 5, 9}, data);
  }
}
