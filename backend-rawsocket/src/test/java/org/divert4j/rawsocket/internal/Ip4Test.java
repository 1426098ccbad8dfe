package org.divert4j.rawsocket.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import org.divert4j.MalformedPacketException;
import org.divert4j.packet.Defect;
import org.junit.jupiter.api.Test;

class Ip4Test {
  static ByteBuffer datagram(int total, int id, int flags) {
    ByteBuffer b = Native.allocate(65536);
    b.put(0, (byte) 0x45);
    b.putShort(2, Short.reverseBytes((short) total));
    b.putShort(4, Short.reverseBytes((short) id));
    b.putShort(6, Short.reverseBytes((short) flags));
    b.put(8, (byte) 64);
    b.put(9, (byte) 17);
    b.putInt(12, Integer.reverseBytes(0x0a000001));
    b.putInt(16, Integer.reverseBytes(0x0a000002));
    for (int i = 20; i < total; i++) {
      b.put(i, (byte) i);
    }
    return b;
  }

  @Test
  void validatesForSend() {
    ByteBuffer b = datagram(100, 1, 0);
    assertNull(Ip4.checkForSend(b, 0, 100));
    assertEquals(Defect.TOO_SHORT, Ip4.checkForSend(b, 0, 19));
    b.put(0, (byte) 0x65);
    assertEquals(Defect.BAD_VERSION, Ip4.checkForSend(b, 0, 100));
    b.put(0, (byte) 0x44);
    assertEquals(Defect.BAD_HEADER_LENGTH, Ip4.checkForSend(b, 0, 100));
    b.put(0, (byte) 0x4f);
    assertEquals(Defect.HEADER_PAST_END, Ip4.checkForSend(b, 0, 40));
    b.put(0, (byte) 0x45);
    b.putShort(6, Short.reverseBytes((short) (Ip4.FLAG_DF | Ip4.FLAG_MF)));
    assertEquals(Defect.FRAGMENT_FLAGS_INCONSISTENT, Ip4.checkForSend(b, 0, 100));
    b.putShort(6, Short.reverseBytes((short) Ip4.FLAG_MF));
    assertEquals(Defect.FRAGMENT_FLAGS_INCONSISTENT, Ip4.checkForSend(b, 0, 101));
    b.putShort(6, Short.reverseBytes((short) 0x1fff));
    assertEquals(Defect.FRAGMENT_PAST_MAXIMUM, Ip4.checkForSend(b, 0, 100));
    MalformedPacketException e =
        assertThrows(MalformedPacketException.class, () -> Ip4.validateForSend(b, 0, 100));
    assertEquals(Defect.FRAGMENT_PAST_MAXIMUM, e.defect());
  }

  @Test
  void fixUpSetsLengthIdAndChecksum() {
    ByteBuffer b = datagram(60, 0, Ip4.FLAG_DF);
    b.putShort(2, (short) 0);
    b.putShort(10, (short) 0xbeef);
    Ip4.fixUp(b, 0, 60, 0x1234);
    assertEquals(60, Short.reverseBytes(b.getShort(2)) & 0xffff);
    assertEquals(0x1234, Ip4.id(b, 0), "S39: ID 0 replaced also with DF");
    assertEquals(0, Ip4.checksum(b, 0, 20), "S38: checksum valid");
    Ip4.fixUp(b, 0, 60, 0x9999);
    assertEquals(0x1234, Ip4.id(b, 0), "a non-zero ID is kept");
  }

  @Test
  void fragmentsLikeTheKernel() {
    int total = 4028; // ping -s 4000
    ByteBuffer src = datagram(total, 77, 0);
    ByteBuffer out = Native.allocate(65536);
    int chunk = Ip4.fragmentPayload(20, 1500);
    assertEquals(1480, chunk);
    int[] offsets = {0, 1480, 2960};
    int[] lengths = {1500, 1500, 1068};
    int at = 0;
    for (int k = 0; k < 3; k++) {
      out.clear();
      int len = Ip4.writeFragment(src, 0, total, at, chunk, out);
      assertEquals(lengths[k], len);
      int f = Ip4.fragmentField(out, 0);
      assertEquals(offsets[k] / 8, f & Ip4.OFFSET_MASK);
      assertEquals(k < 2, (f & Ip4.FLAG_MF) != 0);
      assertEquals(77, Ip4.id(out, 0));
      assertEquals(0, Ip4.checksum(out, 0, 20));
      for (int i = 20; i < len; i++) {
        assertEquals(src.get(20 + at + i - 20), out.get(i));
      }
      at += chunk;
    }
  }

  @Test
  void hashSeesChanges() {
    ByteBuffer a = datagram(92, 5, 0);
    long h = Ip4.hash(a, 0, 92);
    assertEquals(h, Ip4.hash(a, 0, 92));
    a.put(91, (byte) 0);
    long h2 = Ip4.hash(a, 0, 92);
    assertEquals(false, h == h2);
    assertEquals(false, Ip4.hash(a, 0, 91) == h2);
  }
}
