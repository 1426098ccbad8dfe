package org.divert4j.stack;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.divert4j.BufferTooSmallException;
import org.divert4j.Chain;
import org.divert4j.DivertAddress;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.HostOptions;
import org.divert4j.PacketBatch;
import org.divert4j.PacketMetadata;
import org.divert4j.SnifferWriteBackException;
import org.divert4j.SocketStats;
import org.divert4j.spi.BatchAccess;
import org.divert4j.spi.SendDirection;

/**
 * A divert socket on a {@link DivertEngine}. Packets wait in a bounded ring; once received they are
 * held in a slot until written back, dropped, expired or the socket closes; waiting plus held never
 * exceed the queue length (S15). Nothing is allocated per packet in steady state.
 *
 * <p>Locking: the engine's exclusive section is entered before this socket's lock, never the other
 * way round. A blocked receive holds only this socket's lock (and waits on its condition).
 */
final class EngineSocket implements DivertSocket {
  static final int QUEUED = 0;
  static final int FAIL_OPEN = 1;
  static final int DROPPED = 2;

  private static final BatchAccess BATCH = BatchAccess.get();
  private static final Chain[] CHAINS = Chain.values();

  final int port;

  /** A sniffer (S71): its rules copy packets here and let them go on; it holds nothing. */
  final boolean sniffer;

  private final DivertEngine engine;
  private final SendPath sendPath;
  private final EngineInterfaces interfaces;
  private final EngineHost owner;
  private final int serial;
  private final int capacity;
  private final boolean failOpen;
  private final long holdNanos;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition arrived = lock.newCondition();
  private final PacketPool pool;

  // Waiting ring.
  private final ByteBuffer[] wPacket;
  private final byte[] wChain;
  private final int[] wRuleIndex;
  private final int[] wRuleId;
  private final int[] wIn;
  private final int[] wOut;
  private final long[] wTime;
  private final int[] wOrigin;
  private final int[] wMark;
  private int wHead;
  private int wCount;

  // Held slots.
  private final Held[] held;
  private final int[] free;
  private int freeCount;
  private int heldCount;
  private long generation;
  private long nextScan;

  private volatile boolean open = true;

  // Counters, written under lock.
  private long received;
  private long receivedBytes;
  private long reinjected;
  private long injected;
  private long sentBytes;
  private long failOpenAccepted;
  private final long[] drops = new long[DropReason.values().length];

  // Capture drops below the engine while bound: the environment's total at bind and at close.
  private final long captureAtBind;
  private long captureAtClose = -1;

  /** A held packet's continuation: where it was diverted, so that writing it back resumes there. */
  static final class Held {
    final int slot;
    long ticket;
    long since;
    boolean busy;
    Chain chain;
    int ruleIndex;
    int ruleId;
    int inIf;
    int outIf;
    long arrived; // engine clock when the rule diverted it
    int origin;
    boolean ipv6;
    int mark;

    Held(int slot) {
      this.slot = slot;
    }
  }

  EngineSocket(
      DivertEngine engine,
      SendPath sendPath,
      EngineInterfaces interfaces,
      EngineHost owner,
      int port,
      int serial,
      HostOptions o,
      boolean sniffer) {
    this.engine = engine;
    this.sendPath = sendPath;
    this.interfaces = interfaces;
    this.sniffer = sniffer;
    this.owner = owner;
    this.port = port;
    this.serial = serial;
    this.capacity = o.queueLength();
    this.failOpen = o.failOpen();
    this.holdNanos = o.holdTimeout().toNanos();
    this.pool = new PacketPool(Math.min(capacity, 4096), 8);
    this.wPacket = new ByteBuffer[capacity];
    this.wChain = new byte[capacity];
    this.wRuleIndex = new int[capacity];
    this.wRuleId = new int[capacity];
    this.wIn = new int[capacity];
    this.wOut = new int[capacity];
    this.wTime = new long[capacity];
    this.wOrigin = new int[capacity];
    this.wMark = new int[capacity];
    this.held = new Held[capacity];
    this.free = new int[capacity];
    for (int i = 0; i < capacity; i++) {
      held[i] = new Held(i);
      free[i] = capacity - 1 - i;
    }
    this.freeCount = capacity;
    this.nextScan = Long.MAX_VALUE;
    this.captureAtBind = engine.captureDrops();
  }

  // ---------------------------------------------------------------- engine side

  /**
   * Called by the engine (inside its section) when a rule diverts a packet here, or copies it here
   * for a sniffer (whose full queue drops the copy, never fails open: the packet goes on anyway).
   */
  int enqueue(
      ByteBuffer p, Chain chain, int ruleIndex, int ruleId, int in, int out, int origin, int mark) {
    lock.lock();
    try {
      if (wCount + heldCount >= capacity) {
        if (failOpen && !sniffer) {
          failOpenAccepted++;
          return FAIL_OPEN;
        }
        drops[DropReason.QUEUE_FULL.ordinal()]++;
        return DROPPED;
      }
      int i = (wHead + wCount) % capacity;
      wPacket[i] = pool.copyOf(p);
      wChain[i] = (byte) chain.ordinal();
      wRuleIndex[i] = ruleIndex;
      wRuleId[i] = ruleId;
      wIn[i] = in;
      wOut[i] = out;
      wTime[i] = engine.now();
      wOrigin[i] = origin;
      wMark[i] = mark;
      wCount++;
      arrived.signal();
      return QUEUED;
    } finally {
      lock.unlock();
    }
  }

  /** How many more packets fit: the queue length minus those waiting and held. */
  int room() {
    lock.lock();
    try {
      return open ? capacity - wCount - heldCount : capacity;
    } finally {
      lock.unlock();
    }
  }

  /** How many packets wait to be received or are held now. */
  int pending() {
    lock.lock();
    try {
      return open ? wCount + heldCount : 0;
    } finally {
      lock.unlock();
    }
  }

  /** The held slot a ticket names, if it is this socket's and still held; inside the section. */
  Held held(long ticket) {
    if ((int) (ticket >>> 48) != serial) {
      return null;
    }
    int slot = (int) (ticket & 0xffff);
    lock.lock();
    try {
      if (slot >= capacity) {
        return null;
      }
      Held h = held[slot];
      return h.busy && h.ticket == ticket ? h : null;
    } finally {
      lock.unlock();
    }
  }

  /** A held packet was written back. */
  void resolve(Held h, int length) {
    lock.lock();
    try {
      release(h);
      reinjected++;
      sentBytes += length;
    } finally {
      lock.unlock();
    }
  }

  void dropHeld(Held h) {
    lock.lock();
    try {
      release(h);
      drops[DropReason.PROGRAM.ordinal()]++;
    } finally {
      lock.unlock();
    }
  }

  void countInjected(int length) {
    lock.lock();
    try {
      injected++;
      sentBytes += length;
    } finally {
      lock.unlock();
    }
  }

  private void release(Held h) {
    h.busy = false;
    h.ticket = 0;
    free[freeCount++] = h.slot;
    heldCount--;
  }

  /**
   * Drops held packets older than the hold time. Cheap when nothing is due: a full scan runs at
   * most every quarter of the hold time, unless forced.
   */
  void expireHeld(long now, boolean force) {
    if (holdNanos <= 0) {
      return;
    }
    lock.lock();
    try {
      if (heldCount == 0 || (!force && now < nextScan)) {
        return;
      }
      for (Held h : held) {
        if (h.busy && now - h.since >= holdNanos) {
          release(h);
          drops[DropReason.HOLD_EXPIRED.ordinal()]++;
        }
      }
      nextScan = now + Math.max(1, holdNanos / 4);
    } finally {
      lock.unlock();
    }
  }

  /** Closes inside the engine's section: drops queued and held packets (S14), wakes receivers. */
  void closeInternal() {
    lock.lock();
    try {
      if (!open) {
        return;
      }
      open = false;
      captureAtClose = engine.captureDrops();
      drops[DropReason.CLOSED.ordinal()] += wCount + heldCount;
      while (wCount > 0) {
        pool.give(wPacket[wHead]);
        wPacket[wHead] = null;
        wHead = (wHead + 1) % capacity;
        wCount--;
      }
      for (Held h : held) {
        if (h.busy) {
          h.busy = false;
          h.ticket = 0;
        }
      }
      heldCount = 0;
      arrived.signalAll();
    } finally {
      lock.unlock();
    }
  }

  void checkOpen() throws DivertClosedException {
    if (!open) {
      throw new DivertClosedException("divert socket on port " + port);
    }
  }

  // ---------------------------------------------------------------- program side

  @Override
  public int port() {
    return port;
  }

  @Override
  public DivertHost host() {
    return owner;
  }

  @Override
  public DivertAddress receive(ByteBuffer dst) throws DivertException {
    return receiveOne(dst, -1);
  }

  @Override
  public DivertAddress receive(ByteBuffer dst, Duration timeout) throws DivertException {
    return receiveOne(dst, Math.max(0, timeout.toNanos()));
  }

  private DivertAddress receiveOne(ByteBuffer dst, long timeoutNanos) throws DivertException {
    expireDue();
    lock.lock();
    try {
      if (!awaitPacket(timeoutNanos)) {
        return null;
      }
      int i = wHead;
      ByteBuffer p = wPacket[i];
      int len = p.remaining();
      if (dst.remaining() < len) {
        throw new BufferTooSmallException(len, dst.remaining());
      }
      dst.put(dst.position(), p, 0, len);
      dst.position(dst.position() + len);
      Held h = take(i);
      DivertAddress a;
      if (h.ipv6) { // S55: the interface's first address of the packet's family
        a =
            DivertAddress.received(
                port,
                h.chain,
                interfaces.name(h.inIf),
                h.inIf,
                interfaces.address6(h.inIf),
                h.ruleId,
                h.ticket);
      } else {
        a =
            DivertAddress.received(
                port,
                h.chain,
                interfaces.name(h.inIf),
                h.inIf,
                interfaces.address(h.inIf),
                h.ruleId,
                h.ticket);
      }
      unholdIfSniffer(h);
      return a;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public int receive(PacketBatch batch, Duration timeout) throws DivertException {
    expireDue();
    BATCH.clearForReceive(batch);
    lock.lock();
    try {
      if (!awaitPacket(Math.max(0, timeout.toNanos()))) {
        return 0;
      }
      int n = 0;
      int max = batch.capacity();
      while (wCount > 0 && n < max) {
        int i = wHead;
        ByteBuffer p = wPacket[i];
        int len = p.remaining();
        ByteBuffer slot = BATCH.slot(batch, n);
        if (slot.capacity() < len) {
          if (n == 0) {
            throw new BufferTooSmallException(len, slot.capacity());
          }
          break;
        }
        slot.clear();
        slot.put(0, p, 0, len);
        Held h = take(i);
        BATCH.setReceived(
            batch,
            n,
            len,
            port,
            h.chain,
            interfaces.name(h.inIf),
            h.inIf,
            h.ipv6 ? 0 : interfaces.address(h.inIf),
            h.ruleId,
            h.ticket);
        if (h.ipv6) {
          BATCH.setInterfaceAddress6(batch, n, interfaces.address6(h.inIf)); // S55
        }
        BATCH.setMark(batch, n, h.mark);
        // S75: what the engine knows; no socket owners and no connection tracking here
        BATCH.setMetadata(
            batch, n, h.arrived, h.outIf > 0 ? h.outIf : (int) PacketMetadata.ABSENT, -1, -1, null);
        unholdIfSniffer(h);
        n++;
      }
      BATCH.setSize(batch, n);
      return n;
    } finally {
      lock.unlock();
    }
  }

  /** Waits under the lock until a packet waits; false on timeout (negative: forever). */
  private boolean awaitPacket(long timeoutNanos) throws DivertException {
    long left = timeoutNanos;
    while (wCount == 0) {
      checkOpen();
      if (timeoutNanos >= 0 && left <= 0) {
        return false;
      }
      try {
        if (timeoutNanos < 0) {
          arrived.await();
        } else {
          left = arrived.awaitNanos(left);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new DivertException("interrupted while receiving on divert port " + port, 0, e);
      }
    }
    checkOpen();
    return true;
  }

  /** Moves the waiting packet at the ring head into a held slot; under the lock. */
  private Held take(int i) {
    ByteBuffer p = wPacket[i];
    int len = p.remaining();
    Held h = held[free[--freeCount]];
    h.busy = true;
    h.ticket = ((long) serial << 48) | ((++generation & 0xffffffffL) << 16) | h.slot;
    h.since = engine.now();
    h.chain = CHAINS[wChain[i]];
    h.ruleIndex = wRuleIndex[i];
    h.ruleId = wRuleId[i];
    h.inIf = wIn[i];
    h.outIf = wOut[i];
    h.arrived = wTime[i];
    h.origin = wOrigin[i];
    h.ipv6 = len > 0 && (p.get(0) & 0xf0) == 0x60;
    h.mark = wMark[i];
    heldCount++;
    if (nextScan == Long.MAX_VALUE && holdNanos > 0) {
      nextScan = h.since + holdNanos;
    }
    pool.give(p);
    wPacket[i] = null;
    wHead = (wHead + 1) % capacity;
    wCount--;
    received++;
    receivedBytes += len;
    return h;
  }

  /**
   * A sniffer's copy is not held (S71): its slot is freed as soon as the address is made, under the
   * lock. The ticket it carried stays non-zero, so that a write-back of it is recognised and
   * refused.
   */
  private void unholdIfSniffer(Held h) {
    if (sniffer && h.busy) {
      release(h);
    }
  }

  private void refuseWriteBack(long ticket) throws SnifferWriteBackException {
    if (sniffer && ticket != 0) {
      throw new SnifferWriteBackException(port); // S71
    }
  }

  private void expireDue() {
    if (holdNanos > 0 && heldCount > 0) {
      engine.enter();
      try {
        expireHeld(engine.now(), false);
      } finally {
        engine.exit();
      }
    }
  }

  @Override
  public void send(ByteBuffer packet, DivertAddress address) throws DivertException {
    checkOpen();
    refuseWriteBack(address.ticket());
    expireDue();
    sendPath.send(
        this,
        packet,
        address.ticket(),
        SendDirection.inboundAddress(address),
        SendDirection.inboundAddress6(address),
        false,
        0);
  }

  @Override
  public int send(PacketBatch batch) throws DivertException {
    checkOpen();
    expireDue();
    int sent = 0;
    for (int i = 0; i < batch.size(); i++) {
      BATCH.setError(batch, i, null);
      long ticket = batch.ticket(i);
      try {
        if (batch.isDropped(i)) {
          sendPath.drop(this, ticket);
          continue;
        }
        refuseWriteBack(ticket);
        ByteBuffer p = batch.packet(i);
        int pos = p.position();
        sendPath.send(
            this,
            p,
            ticket,
            SendDirection.inboundAddress(batch, i),
            SendDirection.inboundAddress6(batch, i),
            true,
            batch.mark(i));
        p.position(pos);
        sent++;
      } catch (DivertClosedException e) {
        throw e;
      } catch (DivertException e) {
        BATCH.setError(batch, i, e);
      }
    }
    return sent;
  }

  @Override
  public void drop(DivertAddress address) throws DivertException {
    sendPath.drop(this, address.ticket());
  }

  @Override
  public SocketStats stats() {
    lock.lock();
    try {
      long[] d = drops.clone();
      d[DropReason.CAPTURE.ordinal()] +=
          (open ? engine.captureDrops() : captureAtClose) - captureAtBind;
      return new SocketStats(
          received, receivedBytes, reinjected, injected, sentBytes, failOpenAccepted, heldCount, d);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public boolean isSniffer() {
    return sniffer;
  }

  @Override
  public boolean isOpen() {
    return open;
  }

  @Override
  public void close() {
    if (open) {
      engine.unbind(this);
      owner.forget(this);
    }
  }

  @Override
  public String toString() {
    return (sniffer ? "sniffer socket " : "divert socket ")
        + owner.name()
        + " port "
        + port
        + (open ? "" : " (closed)");
  }
}
