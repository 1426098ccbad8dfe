package org.divert4j.pcap.internal;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A bounded single-producer single-consumer ring of variable-length frames in one byte array: the
 * handoff from a capture thread to the processing thread. The producer copies a frame straight from
 * libpcap's buffer into the ring ({@link #reserve(int)}, write, {@link #publish(long)}); the
 * consumer reads frames in place ({@link #poll()}, {@link #buffer()}, {@link #release()}). When the
 * ring is full, {@link #reserve(int)} fails and the producer counts a drop: a slow consumer never
 * blocks capture, and memory stays bounded. Nothing is allocated per frame.
 *
 * <p>Record layout, 8-byte aligned: {@code int length} ({@code -1} marks "wrap to the start"),
 * {@code int unused}, {@code long timestamp}, then the frame.
 *
 * <p>Threads: {@link #reserve}, {@link #publish} and {@link #dataOffset()} by one producer thread;
 * {@link #poll}, the accessors of the polled record and {@link #release} by one consumer thread. A
 * published record happens-before its poll.
 */
final class HandoffRing {
  private static final int HEADER = 16;
  private static final int WRAP = -1;

  private final byte[] data;
  private final ByteBuffer buffer;
  private final int capacity;
  private final AtomicLong head = new AtomicLong(); // bytes published, producer-owned
  private final AtomicLong tail = new AtomicLong(); // bytes released, consumer-owned

  // Producer state.
  private long reserveAt;
  private int reservedLength;
  private long cachedTail;

  // Consumer state.
  private long readAt;
  private int readOffset;
  private int readLength;
  private long readTimestamp;
  private long readNext;

  /**
   * @param capacity ring size in bytes; rounded down to a multiple of 8, at least 2 maximal frames
   */
  HandoffRing(int capacity) {
    int c = Math.max(capacity, 2 * (CaptureHandle.MAX_FRAME + HEADER + 8)) & ~7;
    this.capacity = c;
    this.data = new byte[c];
    this.buffer = ByteBuffer.wrap(data);
  }

  /**
   * @return the ring's bytes; frames are read and written in place
   */
  byte[] array() {
    return data;
  }

  /**
   * @return a big-endian view of {@link #array()}, for reading packets in place
   */
  ByteBuffer buffer() {
    return buffer;
  }

  // ------------------------------------------------------------------ producer

  /**
   * Reserves room for a frame.
   *
   * @param length the frame length
   * @return true if there is room: write the frame at {@link #dataOffset()}, then {@link
   *     #publish(long)}; false if the ring is full
   */
  boolean reserve(int length) {
    long h = head.get();
    int pos = (int) (h % capacity);
    int need = HEADER + ((length + 7) & ~7);
    long skip = pos + need > capacity ? capacity - pos : 0;
    long end = h + skip + need;
    if (end - cachedTail > capacity) {
      cachedTail = tail.get();
      if (end - cachedTail > capacity) {
        return false;
      }
    }
    if (skip > 0) {
      buffer.putInt(pos, WRAP);
      pos = 0;
    }
    reserveAt = h + skip;
    reservedLength = length;
    return true;
  }

  /**
   * @return where the reserved frame goes in {@link #array()}
   */
  int dataOffset() {
    return (int) (reserveAt % capacity) + HEADER;
  }

  /**
   * Makes the reserved frame visible to the consumer.
   *
   * @param timestamp the frame's timestamp
   */
  void publish(long timestamp) {
    int pos = (int) (reserveAt % capacity);
    buffer.putInt(pos, reservedLength);
    buffer.putLong(pos + 8, timestamp);
    head.set(reserveAt + HEADER + ((reservedLength + 7) & ~7)); // volatile: see idle wake-ups
  }

  // ------------------------------------------------------------------ consumer

  /**
   * Looks at the next published frame without releasing it.
   *
   * @return true if there is one: read it with {@link #offset()}, {@link #length()}, {@link
   *     #timestamp()}, then {@link #release()}
   */
  boolean poll() {
    long h = head.get();
    long t = readAt;
    while (t < h) {
      int pos = (int) (t % capacity);
      int len = buffer.getInt(pos);
      if (len == WRAP) {
        t += capacity - pos;
        continue;
      }
      readAt = t;
      readOffset = pos + HEADER;
      readLength = len;
      readTimestamp = buffer.getLong(pos + 8);
      readNext = t + HEADER + ((len + 7) & ~7);
      return true;
    }
    readAt = t;
    return false;
  }

  /**
   * @return true if every published frame has been released by the consumer; any thread
   */
  boolean isDrained() {
    return tail.get() == head.get();
  }

  /**
   * @return true if no frame is waiting (may race with the producer; a hint for idling)
   */
  boolean isEmpty() {
    return head.get() == readAt;
  }

  /**
   * @return the polled frame's offset in {@link #array()}
   */
  int offset() {
    return readOffset;
  }

  /**
   * @return the polled frame's length
   */
  int length() {
    return readLength;
  }

  /**
   * @return the polled frame's timestamp
   */
  long timestamp() {
    return readTimestamp;
  }

  /** Gives the polled frame's room back to the producer. */
  void release() {
    readAt = readNext;
    tail.lazySet(readNext);
  }
}
