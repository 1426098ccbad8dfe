package org.divert4j.packet;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The one's-complement arithmetic under every checksum in {@link Checksums} (RFC 1071): the wide
 * unfolded {@link #add}, {@link #fold} to 16 bits, and the sum of a range whose own checksum field
 * counts as zero. Static, allocation-free; callers check the bounds.
 */
final class OnesComplement {
  private OnesComplement() {}

  /**
   * The unfolded sum of {@code length} bytes from {@code offset} as big-endian 16-bit words, an odd
   * last byte padded with zero. See {@link Checksums#sum} for why it reads longs.
   */
  static long add(ByteBuffer buf, int offset, int length) {
    long acc = 0;
    int i = offset;
    int end = offset + length;
    boolean swap = buf.order() != ByteOrder.BIG_ENDIAN;
    // Four longs per round: fewer loop-carried branches; each long adds at most 2^33.
    for (int stop = end - 32; i <= stop; i += 32) {
      long a = buf.getLong(i);
      long b = buf.getLong(i + 8);
      long c = buf.getLong(i + 16);
      long d = buf.getLong(i + 24);
      if (swap) {
        a = Long.reverseBytes(a);
        b = Long.reverseBytes(b);
        c = Long.reverseBytes(c);
        d = Long.reverseBytes(d);
      }
      acc +=
          (a >>> 32)
              + (a & 0xffffffffL)
              + (b >>> 32)
              + (b & 0xffffffffL)
              + (c >>> 32)
              + (c & 0xffffffffL)
              + (d >>> 32)
              + (d & 0xffffffffL);
    }
    for (int stop = end - 8; i <= stop; i += 8) {
      long a = buf.getLong(i);
      if (swap) {
        a = Long.reverseBytes(a);
      }
      acc += (a >>> 32) + (a & 0xffffffffL);
    }
    for (; i + 1 < end; i += 2) {
      acc += Bytes.u16(buf, i);
    }
    if (i < end) {
      acc += (buf.get(i) & 0xff) << 8;
    }
    return acc;
  }

  /** Folds an unfolded sum to 16 bits, 0..0xFFFF. */
  static int fold(long acc) {
    acc = (acc >>> 32) + (acc & 0xffffffffL);
    acc = (acc >>> 32) + (acc & 0xffffffffL);
    acc = (acc >>> 16) + (acc & 0xffff);
    acc = (acc >>> 16) + (acc & 0xffff);
    acc = (acc >>> 16) + (acc & 0xffff);
    return (int) acc;
  }

  /**
   * The checksum of a range whose own checksum field (at {@code field}, an even distance from
   * {@code offset}) counts as zero: the bytes before and after the field are summed separately, so
   * the result is exactly that of a zeroed field, including for all-zero data (where subtracting
   * the stored value would give 0x0000 instead of 0xFFFF).
   */
  static int checksumWithoutField(ByteBuffer buf, int offset, int length, int field, int s) {
    int end = offset + length;
    long acc = add(buf, offset, field - offset) + add(buf, field + 2, end - field - 2) + s;
    return ~fold(acc) & 0xffff;
  }
}
