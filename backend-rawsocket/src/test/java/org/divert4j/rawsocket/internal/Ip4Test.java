package org.divert4j.rawsocket.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import org.divert4j.linux.Native;
import org.divert4j.packet.Checksums;
import org.divert4j.packet.Ipv4View;
import org.junit.jupiter.api.Test;

class Ip4Test {
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
  void fixUpSetsLengthIdAndChecksum() {
    ByteBuffer b = datagram(60, 0, true);
    b.putShort(2, (short) 0);
    b.putShort(10, (short) 0xbeef);
    Ipv4View v = new Ipv4View().wrap(b, 0, 60);
    Ip4.fixUp(v, 0x1234);
    assertEquals(60, v.totalLength(), "S40");
    assertEquals(0x1234, v.identification(), "S39: ID 0 replaced also with DF");
    assertTrue(Checksums.isIpv4HeaderValid(b, 0), "S38");
    Ip4.fixUp(v, 0x9999);
    assertEquals(0x1234, v.identification(), "a non-zero ID is kept");
  }

  @Test
  void hashSeesChanges() {
    ByteBuffer a = datagram(92, 5, false);
    long h = Ip4.hash(a, 0, 92);
    assertEquals(h, Ip4.hash(a, 0, 92));
    a.put(91, (byte) 0);
    long h2 = Ip4.hash(a, 0, 92);
    assertNotEquals(h, h2);
    assertNotEquals(h2, Ip4.hash(a, 0, 91));
  }
}
