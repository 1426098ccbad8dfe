package org.divert4j.stack;

import java.nio.ByteBuffer;
import org.divert4j.Chain;

/**
 * The packets waiting on an {@link EngineSocket} to be received: a bounded ring of pooled copies,
 * each with where a rule diverted it. Allocates nothing per packet once the pool is warm. Not
 * thread-safe: used under the socket's lock.
 */
final class WaitingRing {
  private static final Chain[] CHAINS = Chain.values();

  private final int capacity;
  private final PacketPool pool;
  private final ByteBuffer[] packet;
  private final byte[] chain;
  private final int[] ruleIndex;
  private final int[] ruleId;
  private final int[] in;
  private final int[] out;
  private final long[] time;
  private final int[] origin;
  private final int[] mark;
  private int head;
  private int count;

  /**
   * @param capacity how many packets may wait
   * @param pool where the copies come from and go back to
   */
  WaitingRing(int capacity, PacketPool pool) {
    this.capacity = capacity;
    this.pool = pool;
    this.packet = new ByteBuffer[capacity];
    this.chain = new byte[capacity];
    this.ruleIndex = new int[capacity];
    this.ruleId = new int[capacity];
    this.in = new int[capacity];
    this.out = new int[capacity];
    this.time = new long[capacity];
    this.origin = new int[capacity];
    this.mark = new int[capacity];
  }

  /**
   * @return how many packets wait
   */
  int count() {
    return count;
  }

  /**
   * Queues a copy of a packet at the tail; the caller has checked there is room.
   *
   * @param p the packet from position to limit; copied, not modified
   * @param now the engine's clock when the rule diverted it
   */
  void add(
      ByteBuffer p,
      Chain c,
      int ruleIndex,
      int ruleId,
      int in,
      int out,
      long now,
      int origin,
      int mark) {
    int i = (head + count) % capacity;
    packet[i] = pool.copyOf(p);
    chain[i] = (byte) c.ordinal();
    this.ruleIndex[i] = ruleIndex;
    this.ruleId[i] = ruleId;
    this.in[i] = in;
    this.out[i] = out;
    time[i] = now;
    this.origin[i] = origin;
    this.mark[i] = mark;
    count++;
  }

  /**
   * @return the packet at the head, from 0 to its limit; valid until {@link #moveHeadTo}
   */
  ByteBuffer head() {
    return packet[head];
  }

  /**
   * Removes the head, giving its copy back to the pool, and records in {@code h} where it was
   * diverted.
   */
  void moveHeadTo(HeldPacket h) {
    int i = head;
    ByteBuffer p = packet[i];
    h.chain = CHAINS[chain[i]];
    h.ruleIndex = ruleIndex[i];
    h.ruleId = ruleId[i];
    h.inIf = in[i];
    h.outIf = out[i];
    h.arrived = time[i];
    h.origin = origin[i];
    h.ipv6 = p.remaining() > 0 && (p.get(0) & 0xf0) == 0x60;
    h.mark = mark[i];
    pool.give(p);
    packet[i] = null;
    head = (head + 1) % capacity;
    count--;
  }

  /** Gives every waiting copy back to the pool, when the socket closes. */
  void clear() {
    while (count > 0) {
      pool.give(packet[head]);
      packet[head] = null;
      head = (head + 1) % capacity;
      count--;
    }
  }
}
