package org.divert4j.stack;

import java.nio.ByteBuffer;

/**
 * Reusable packet buffers in two size classes (small packets, and anything up to 65575 bytes, the
 * largest IPv6 packet), so that queueing a packet does not allocate in steady state. Not
 * thread-safe: the engine uses it inside its exclusive section, sockets under their own lock, each
 * with its own pool.
 */
final class PacketPool {
  static final int SMALL = 2048;
  static final int LARGE = 65575; // an IPv6 packet: 40 + 65535 (an IPv4 one is at most 65535)

  private final ByteBuffer[] small;
  private final ByteBuffer[] large;
  private int smallCount;
  private int largeCount;

  PacketPool(int smallCapacity, int largeCapacity) {
    this.small = new ByteBuffer[smallCapacity];
    this.large = new ByteBuffer[largeCapacity];
  }

  /**
   * @param packet bytes from position to limit; position unchanged
   * @return a pooled buffer holding a copy, position 0, limit the length
   */
  ByteBuffer copyOf(ByteBuffer packet) {
    int len = packet.remaining();
    ByteBuffer b = take(len);
    b.put(0, packet, packet.position(), len);
    b.limit(len);
    return b;
  }

  ByteBuffer take(int length) {
    ByteBuffer b;
    if (length <= SMALL) {
      b = smallCount > 0 ? small[--smallCount] : ByteBuffer.allocate(SMALL);
    } else {
      b = largeCount > 0 ? large[--largeCount] : ByteBuffer.allocate(LARGE);
    }
    b.clear();
    return b;
  }

  void give(ByteBuffer b) {
    if (b.capacity() == SMALL) {
      if (smallCount < small.length) {
        small[smallCount++] = b;
      }
    } else if (b.capacity() == LARGE && largeCount < large.length) {
      large[largeCount++] = b;
    }
  }
}
