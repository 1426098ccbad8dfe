package org.divert4j.pcap.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;

/**
 * Padding: 128 bytes (two cache lines, against adjacent-line prefetch) before the producer's
 * fields, as JCTools' {@code SpscArrayQueue} pads its indices. HotSpot lays out a superclass's
 * fields before a subclass's, so each group of padding stays where the hierarchy puts it.
 */
abstract class HandoffRingPad0 {
  long p00, p01, p02, p03, p04, p05, p06, p07, p10, p11, p12, p13, p14, p15, p16, p17;
}

/** Written by the producer thread only; the consumer reads {@link #head}. */
abstract class HandoffRingProducerFields extends HandoffRingPad0 {
  /** Bytes published (the producer index): producer writes, consumer reads. */
  volatile long head;

  /** Where the reserved record starts. Producer only. */
  long reserveAt;

  /** The reserved frame's length. Producer only. */
  int reservedLength;

  /** The consumer's {@link HandoffRingConsumerFields#tail} last seen. Producer only. */
  long cachedTail;
}

/** Padding between the producer's fields and the consumer's. */
abstract class HandoffRingPad1 extends HandoffRingProducerFields {
  long p00, p01, p02, p03, p04, p05, p06, p07, p10, p11, p12, p13, p14, p15, p16, p17;
}

/** Written by the consumer thread only; the producer reads {@link #tail}. */
abstract class HandoffRingConsumerFields extends HandoffRingPad1 {
  /** Bytes released (the consumer index): consumer writes, producer reads. */
  volatile long tail;

  /** Where the polled record starts, or where the next poll looks. Consumer only. */
  long readAt;

  /** The polled frame's offset in the array. Consumer only. */
  int readOffset;

  /** The polled frame's length. Consumer only. */
  int readLength;

  /** The polled frame's timestamp. Consumer only. */
  long readTimestamp;

  /** Where the record after the polled one starts. Consumer only. */
  long readNext;
}

/** Padding between the consumer's fields and the read-only ones of {@link HandoffRing}. */
abstract class HandoffRingPad2 extends HandoffRingConsumerFields {
  long p00, p01, p02, p03, p04, p05, p06, p07, p10, p11, p12, p13, p14, p15, p16, p17;
}

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
 * <p>Threads: one producer thread and one consumer thread, each stated per method. As in JCTools'
 * {@code SpscArrayQueue}, the producer's fields (the published index {@code head}, its reservation,
 * its cached copy of the consumer's index) and the consumer's (the released index {@code tail}, the
 * polled record) sit in separate superclasses with 128 bytes of padding around each group (the
 * read-only fields come last), so the two threads do not write to one cache line; the producer
 * reads {@code tail} only when its cached copy says the ring is full. A published record
 * happens-before its poll (volatile store of {@code head}, volatile load in {@link #poll()}); a
 * released record's room happens-before its reuse (release store of {@code tail}, volatile load in
 * {@link #reserve(int)}).
 */
final class HandoffRing extends HandoffRingPad2 {
  private static final int HEADER = 16;
  private static final int WRAP = -1;
  private static final VarHandle TAIL;

  static {
    try {
      TAIL =
          MethodHandles.lookup().findVarHandle(HandoffRingConsumerFields.class, "tail", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  // Read-only after construction: any thread.
  private final byte[] data;
  private final ByteBuffer buffer;
  private final int capacity;

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
   * @param length a frame length
   * @return the bytes its record takes, header included, 8-byte aligned
   */
  private static int recordBytes(int length) {
    return HEADER + ((length + 7) & ~7);
  }

  /**
   * Any thread.
   *
   * @return the ring's bytes; frames are read and written in place
   */
  byte[] array() {
    return data;
  }

  /**
   * Any thread (the view is fixed; which bytes a thread may touch follows the records it owns).
   *
   * @return a big-endian view of {@link #array()}, for reading packets in place
   */
  ByteBuffer buffer() {
    return buffer;
  }

  // ------------------------------------------------------------------ producer

  /**
   * Reserves room for a frame. Producer thread only.
   *
   * @param length the frame length
   * @return true if there is room: write the frame at {@link #dataOffset()}, then {@link
   *     #publish(long)}; false if the ring is full
   */
  boolean reserve(int length) {
    long h = head;
    int pos = (int) (h % capacity);
    int need = recordBytes(length);
    long skip = pos + need > capacity ? capacity - pos : 0;
    long end = h + skip + need;
    if (end - cachedTail > capacity) {
      cachedTail = tail;
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
   * Producer thread only, after a successful {@link #reserve(int)}.
   *
   * @return where the reserved frame goes in {@link #array()}
   */
  int dataOffset() {
    return (int) (reserveAt % capacity) + HEADER;
  }

  /**
   * Makes the reserved frame visible to the consumer. Producer thread only.
   *
   * @param timestamp the frame's timestamp
   */
  void publish(long timestamp) {
    int pos = (int) (reserveAt % capacity);
    buffer.putInt(pos, reservedLength);
    buffer.putLong(pos + 8, timestamp);
    head = reserveAt + recordBytes(reservedLength); // volatile: see idle wake-ups
  }

  // ------------------------------------------------------------------ consumer

  /**
   * Looks at the next published frame without releasing it. Consumer thread only.
   *
   * @return true if there is one: read it with {@link #offset()}, {@link #length()}, {@link
   *     #timestamp()}, then {@link #release()}
   */
  boolean poll() {
    long h = head;
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
      readNext = t + recordBytes(len);
      return true;
    }
    readAt = t;
    return false;
  }

  /**
   * Any thread (reads the two volatile indices).
   *
   * @return true if every published frame has been released by the consumer
   */
  boolean isDrained() {
    return tail == head;
  }

  /**
   * Consumer thread only (reads its own read position).
   *
   * @return true if no frame is waiting (may race with the producer; a hint for idling)
   */
  boolean isEmpty() {
    return head == readAt;
  }

  /**
   * Consumer thread only, after a successful {@link #poll()}.
   *
   * @return the polled frame's offset in {@link #array()}
   */
  int offset() {
    return readOffset;
  }

  /**
   * Consumer thread only, after a successful {@link #poll()}.
   *
   * @return the polled frame's length
   */
  int length() {
    return readLength;
  }

  /**
   * Consumer thread only, after a successful {@link #poll()}.
   *
   * @return the polled frame's timestamp
   */
  long timestamp() {
    return readTimestamp;
  }

  /** Gives the polled frame's room back to the producer. Consumer thread only. */
  void release() {
    readAt = readNext;
    TAIL.setRelease(this, readNext); // as AtomicLong.lazySet: ordered, no full fence
  }
}
