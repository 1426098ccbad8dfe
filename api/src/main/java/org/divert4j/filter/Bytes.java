package org.divert4j.filter;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Network-order reads by absolute index, whatever the buffer's own order. Through byte-buffer view
 * VarHandles, which the JIT always inlines for heap and direct buffers alike, where a call of the
 * abstract {@code ByteBuffer.getShort} and kin stays a virtual call in a method too big to get a
 * type profile (seen with {@code -XX:+PrintInlining}); bounds are checked as by those methods.
 */
final class Bytes {
  private static final VarHandle U16 =
      MethodHandles.byteBufferViewVarHandle(short[].class, ByteOrder.BIG_ENDIAN);
  private static final VarHandle U32 =
      MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);
  private static final VarHandle U64 =
      MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

  private Bytes() {}

  static int u8(ByteBuffer b, int i) {
    return b.get(i) & 0xff;
  }

  static int u16(ByteBuffer b, int i) {
    return (short) U16.get(b, i) & 0xffff;
  }

  static long u32(ByteBuffer b, int i) {
    return (int) U32.get(b, i) & 0xffff_ffffL;
  }

  static long u64(ByteBuffer b, int i) {
    return (long) U64.get(b, i);
  }
}
