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

  final int port;

  /** A sniffer (S71): its rules copy packets here and let them go on; it holds nothing. */
  final boolean sniffer;

  private final EngineHandles engine;
  private final SendPath sendPath;
  private final EngineInterfaces interfaces;
  private final EngineHost owner;
  private final int serial;
  private final int capacity;
  private final boolean failOpen;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition arrived = lock.newCondition();

  private final WaitingRing waiting;
  private final HeldSlots held;

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

  EngineSocket(
      EngineHandles engine,
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
    this.waiting = new WaitingRing(capacity, new PacketPool(Math.min(capacity, 4096), 8));
    this.held = new HeldSlots(capacity, serial, o.holdTimeout().toNanos());
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
      if (waiting.count() + held.count() >= capacity) {
        if (failOpen && !sniffer) {
          failOpenAccepted++;
          return FAIL_OPEN;
        }
        drops[DropReason.QUEUE_FULL.ordinal()]++;
        return DROPPED;
      }
      waiting.add(p, chain, ruleIndex, ruleId, in, out, engine.now(), origin, mark);
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
      return open ? capacity - waiting.count() - held.count() : capacity;
    } finally {
      lock.unlock();
    }
  }

  /** How many packets wait to be received or are held now. */
  int pending() {
    lock.lock();
    try {
      return open ? waiting.count() + held.count() : 0;
    } finally {
      lock.unlock();
    }
  }

  /** The held slot a ticket names, if it is this socket's and still held; inside the section. */
  HeldPacket held(long ticket) {
    lock.lock();
    try {
      return held.find(ticket);
    } finally {
      lock.unlock();
    }
  }

  /** A held packet was written back. */
  void resolve(HeldPacket h, int length) {
    lock.lock();
    try {
      held.release(h);
      reinjected++;
      sentBytes += length;
    } finally {
      lock.unlock();
    }
  }

  void dropHeld(HeldPacket h) {
    lock.lock();
    try {
      held.release(h);
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

  /**
   * Drops held packets older than the hold time. Cheap when nothing is due: a full scan runs at
   * most every quarter of the hold time, unless forced.
   */
  void expireHeld(long now, boolean force) {
    lock.lock();
    try {
      drops[DropReason.HOLD_EXPIRED.ordinal()] += held.expire(now, force);
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
      drops[DropReason.CLOSED.ordinal()] += waiting.count() + held.count();
      waiting.clear();
      held.clear();
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
      ByteBuffer p = waiting.head();
      int len = p.remaining();
      if (dst.remaining() < len) {
        throw new BufferTooSmallException(len, dst.remaining());
      }
      dst.put(dst.position(), p, 0, len);
      dst.position(dst.position() + len);
      HeldPacket h = take();
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
      while (waiting.count() > 0 && n < max) {
        ByteBuffer p = waiting.head();
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
        HeldPacket h = take();
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
    while (waiting.count() == 0) {
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
  private HeldPacket take() {
    int len = waiting.head().remaining();
    HeldPacket h = held.take(engine.now());
    waiting.moveHeadTo(h);
    received++;
    receivedBytes += len;
    return h;
  }

  /**
   * A sniffer's copy is not held (S71): its slot is freed as soon as the address is made, under the
   * lock. The ticket it carried stays non-zero, so that a write-back of it is recognised and
   * refused.
   */
  private void unholdIfSniffer(HeldPacket h) {
    if (sniffer && h.busy) {
      held.release(h);
    }
  }

  private void refuseWriteBack(long ticket) throws SnifferWriteBackException {
    if (sniffer && ticket != 0) {
      throw new SnifferWriteBackException(port); // S71
    }
  }

  private void expireDue() {
    if (held.mayExpire()) {
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
          received,
          receivedBytes,
          reinjected,
          injected,
          sentBytes,
          failOpenAccepted,
          held.count(),
          d);
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
