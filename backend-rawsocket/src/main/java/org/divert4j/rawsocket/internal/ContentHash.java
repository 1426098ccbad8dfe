package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;

/**
 * A content hash that tells whether a held packet was changed before it is written back: unchanged
 * packets need no payload in their verdict. Stateless; no allocation.
 */
public final class ContentHash {
  private ContentHash() {}

  /**
   * A 64-bit hash of a byte range. Not cryptographic: a program that wants to change a packet
   * changes it, it does not search for collisions. Reads 8 bytes at a time in the buffer's own byte
   * order, so compare hashes of buffers with the same order only.
   *
   * @param b the buffer
   * @param off start
   * @param len length
   * @return the hash
   */
  public static long hash(ByteBuffer b, int off, int len) {
    long h = 0x9E3779B97F4A7C15L ^ len;
    int i = off;
    int end = off + len;
    if (len >= 256) {
      // Four independent lanes: one lane is a chain of multiplies (about 5 cycles per 8 bytes),
      // which made hashing a 64 KiB super-packet (S69) twice per packet cost more than copying it.
      long h1 = h;
      long h2 = h ^ 0x632BE59BD9B4E019L;
      long h3 = h ^ 0x85EBCA77C2B2AE63L;
      long h4 = h ^ 0x27D4EB2F165667C5L;
      while (i + 32 <= end) {
        h1 = Long.rotateLeft(h1 ^ b.getLong(i) * 0xC2B2AE3D27D4EB4FL, 31) * 0x9E3779B97F4A7C15L;
        h2 = Long.rotateLeft(h2 ^ b.getLong(i + 8) * 0xC2B2AE3D27D4EB4FL, 31) * 0x9E3779B97F4A7C15L;
        h3 =
            Long.rotateLeft(h3 ^ b.getLong(i + 16) * 0xC2B2AE3D27D4EB4FL, 31) * 0x9E3779B97F4A7C15L;
        h4 =
            Long.rotateLeft(h4 ^ b.getLong(i + 24) * 0xC2B2AE3D27D4EB4FL, 31) * 0x9E3779B97F4A7C15L;
        i += 32;
      }
      h =
          Long.rotateLeft(h1, 1)
              + Long.rotateLeft(h2, 7)
              + Long.rotateLeft(h3, 12)
              + Long.rotateLeft(h4, 18);
    }
    while (i + 8 <= end) {
      h = Long.rotateLeft(h ^ b.getLong(i) * 0xC2B2AE3D27D4EB4FL, 31) * 0x9E3779B97F4A7C15L;
      i += 8;
    }
    long tail = 0;
    int shift = 0;
    while (i < end) {
      tail |= (b.get(i) & 0xffL) << shift;
      shift += 8;
      i++;
    }
    h = Long.rotateLeft(h ^ tail * 0xC2B2AE3D27D4EB4FL, 31) * 0x9E3779B97F4A7C15L;
    h ^= h >>> 29;
    h *= 0xBF58476D1CE4E5B9L;
    return h ^ (h >>> 32);
  }
}
