package org.divert4j.filter;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Network-order reads by absolute index, whatever the buffer's own order. */
final class Bytes {
  private Bytes() {}

  static int u8(ByteBuffer b, int i) {
    return b.get(i) & 0xff;
  }

  static int u16(ByteBuffer b, int i) {
    short v = b.getShort(i);
    return (b.order() == ByteOrder.BIG_ENDIAN ? v : Short.reverseBytes(v)) & 0xffff;
  }

  static long u32(ByteBuffer b, int i) {
    int v = b.getInt(i);
    return (b.order() == ByteOrder.BIG_ENDIAN ? v : Integer.reverseBytes(v)) & 0xffff_ffffL;
  }

  static long u64(ByteBuffer b, int i) {
    long v = b.getLong(i);
    return b.order() == ByteOrder.BIG_ENDIAN ? v : Long.reverseBytes(v);
  }
}
