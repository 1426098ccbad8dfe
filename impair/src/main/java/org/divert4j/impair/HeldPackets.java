package org.divert4j.impair;

import java.nio.ByteBuffer;
import org.divert4j.DivertAddress;

/**
 * The packets an impairer holds until they are due: a fixed number of fixed-size slots in one
 * direct buffer, and a binary min-heap of slot indices ordered by due time, then by arrival (so
 * packets due at the same time leave in the order they came). Everything is allocated up front;
 * adding and taking allocate nothing. One thread only.
 */
final class HeldPackets {
  private final int slotSize;
  private final ByteBuffer[] slots;
  private final int[] length;
  private final long[] due;
  private final long[] order;
  private final DivertAddress[] address;
  private final int[] heap;
  private final int[] free;
  private int size;
  private int freeTop;
  private long arrivals;

  /**
   * @param capacity how many packets at most
   * @param slotSize bytes per packet at most
   */
  HeldPackets(int capacity, int slotSize) {
    this.slotSize = slotSize;
    this.slots = new ByteBuffer[capacity];
    ByteBuffer block = ByteBuffer.allocateDirect(Math.multiplyExact(capacity, slotSize));
    for (int i = 0; i < capacity; i++) {
      slots[i] = block.slice(i * slotSize, slotSize);
    }
    this.length = new int[capacity];
    this.due = new long[capacity];
    this.order = new long[capacity];
    this.address = new DivertAddress[capacity];
    this.heap = new int[capacity];
    this.free = new int[capacity];
    for (int i = 0; i < capacity; i++) {
      free[i] = capacity - 1 - i;
    }
    this.freeTop = capacity;
  }

  int size() {
    return size;
  }

  int capacity() {
    return slots.length;
  }

  int slotSize() {
    return slotSize;
  }

  boolean isFull() {
    return freeTop == 0;
  }

  /**
   * Copies a packet in.
   *
   * @param packet from position to limit; not modified
   * @param a the address to send it with
   * @param dueAt when it is due
   * @return false if the store is full or the packet too large (nothing is stored)
   */
  boolean add(ByteBuffer packet, DivertAddress a, long dueAt) {
    int len = packet.remaining();
    if (freeTop == 0 || len > slotSize) {
      return false;
    }
    int s = free[--freeTop];
    ByteBuffer slot = slots[s];
    slot.clear();
    slot.put(0, packet, packet.position(), len);
    length[s] = len;
    due[s] = dueAt;
    order[s] = arrivals++;
    address[s] = a;
    heap[size] = s;
    up(size++);
    return true;
  }

  /**
   * @return the earliest due time; only when {@link #size()} is above 0
   */
  long nextDue() {
    return due[heap[0]];
  }

  /**
   * Takes the earliest packet out of the order; its slot stays readable until {@link #release}.
   *
   * @return its slot index
   */
  int take() {
    int s = heap[0];
    heap[0] = heap[--size];
    if (size > 0) {
      down(0);
    }
    return s;
  }

  /**
   * @return the slot's packet, position 0, limit its length
   */
  ByteBuffer packet(int s) {
    ByteBuffer b = slots[s];
    b.limit(length[s]).position(0);
    return b;
  }

  DivertAddress address(int s) {
    return address[s];
  }

  /** Frees a slot taken with {@link #take()}. */
  void release(int s) {
    address[s] = null;
    free[freeTop++] = s;
  }

  private boolean before(int a, int b) {
    long da = due[a];
    long db = due[b];
    // Compared as a difference: System.nanoTime() values may be negative or wrap.
    long d = da - db;
    return d < 0 || (d == 0 && order[a] < order[b]);
  }

  private void up(int i) {
    int s = heap[i];
    while (i > 0) {
      int parent = (i - 1) >>> 1;
      if (!before(s, heap[parent])) {
        break;
      }
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = s;
  }

  private void down(int i) {
    int s = heap[i];
    while (true) {
      int c = 2 * i + 1;
      if (c >= size) {
        break;
      }
      if (c + 1 < size && before(heap[c + 1], heap[c])) {
        c++;
      }
      if (!before(heap[c], s)) {
        break;
      }
      heap[i] = heap[c];
      i = c;
    }
    heap[i] = s;
  }
}
