package org.divert4j.packet;

import java.nio.ByteBuffer;

/**
 * Absolute big-endian (network order) reads and writes that ignore the buffer's own {@link
 * ByteBuffer#order()}: callers may hand us little-endian buffers, and we must neither misread them
 * nor change their order. Byte-wise access keeps that simple; the JIT merges it well enough for
 * header fields. Bulk checksum loops use {@code getLong} instead (see {@link Checksums}).
 */
final class Bytes {
  private Bytes() {}

  static int u8(ByteBuffer b, int i) {
    return b.get(i) & 0xff;
  }

  static int u16(ByteBuffer b, int i) {
    return (b.get(i) & 0xff) << 8 | (b.get(i + 1) & 0xff);
  }

  static int i32(ByteBuffer b, int i) {
    return (b.get(i) & 0xff) << 24
        | (b.get(i + 1) & 0xff) << 16
        | (b.get(i + 2) & 0xff) << 8
        | (b.get(i + 3) & 0xff);
  }

  static void put8(ByteBuffer b, int i, int v) {
    b.put(i, (byte) v);
  }

  static void put16(ByteBuffer b, int i, int v) {
    b.put(i, (byte) (v >>> 8));
    b.put(i + 1, (byte) v);
  }

  static void put32(ByteBuffer b, int i, int v) {
    b.put(i, (byte) (v >>> 24));
    b.put(i + 1, (byte) (v >>> 16));
    b.put(i + 2, (byte) (v >>> 8));
    b.put(i + 3, (byte) v);
  }
}
