package org.divert4j.rawsocket.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.ByteBuffer;
import org.divert4j.linux.Native;
import org.junit.jupiter.api.Test;

class ContentHashTest {
  static ByteBuffer datagram(int total, int id, boolean df) {
    ByteBuffer b = Native.allocate(65536);
    b.put(0, (byte) 0x45);
    b.putShort(2, Short.reverseBytes((short) total));
    b.putShort(4, Short.reverseBytes((short) id));
    b.putShort(6, Short.reverseBytes((short) (df ? 0x4000 : 0)));
    b.put(8, (byte) 64);
    b.put(9, (byte) 17);
    for (int i = 12; i < total; i++) {
      b.put(i, (byte) i);
    }
    return b;
  }

  @Test
  void hashSeesChanges() {
    ByteBuffer a = datagram(92, 5, false);
    long h = ContentHash.hash(a, 0, 92);
    assertEquals(h, ContentHash.hash(a, 0, 92));
    a.put(91, (byte) 0);
    long h2 = ContentHash.hash(a, 0, 92);
    assertNotEquals(h, h2);
    assertNotEquals(h2, ContentHash.hash(a, 0, 91));
  }

  /** Super-packets (S69) take the four-lane path: a change in any lane or in the tail shows. */
  @Test
  void hashOfASuperPacketSeesAChangeAtEveryPosition() {
    int len = 64_831;
    ByteBuffer a = datagram(len, 7, true);
    long h = ContentHash.hash(a, 0, len);
    assertEquals(h, ContentHash.hash(a, 0, len));
    for (int i = 0; i < len; i += 97) {
      byte old = a.get(i);
      a.put(i, (byte) (old ^ 0x5A));
      assertNotEquals(h, ContentHash.hash(a, 0, len), "a change at " + i);
      a.put(i, old);
    }
    a.put(len - 1, (byte) (a.get(len - 1) ^ 1));
    assertNotEquals(h, ContentHash.hash(a, 0, len), "a change in the last byte");
  }
}
