package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;
import org.divert4j.BufferTooSmallException;
import org.divert4j.Chain;
import org.divert4j.ConnectionState;
import org.divert4j.Direction;
import org.divert4j.DivertAddress;
import org.divert4j.DivertException;
import org.divert4j.DropReason;
import org.divert4j.PacketBatch;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Errors;
import org.divert4j.linux.Native;
import org.divert4j.linux.PollFds;
import org.divert4j.packet.Fragmenter;
import org.divert4j.packet.Ipv4View;
import org.divert4j.packet.Ipv6Fragmenter;
import org.divert4j.spi.BatchAccess;

/**
 * The receive half of a kernel socket: takes packet messages from the lanes' NFQUEUE sockets,
 * decides what is for the program (the S8 tail of jumbo packets, the S19 cut of outbound
 * datagrams), records each delivered packet's ticket and copies it into the caller's buffer or
 * batch. Nothing is allocated per packet on the batch path.
 *
 * <p>Several threads may receive: each starts at its own lane (round robin over threads), takes any
 * lane with packets waiting, and otherwise waits in {@code poll} on all of them. A batch holds
 * packets of one lane, in order.
 */
final class Receiver {
  private static final AtomicInteger THREADS = new AtomicInteger();
  private static final ThreadLocal<int[]> HOME = ThreadLocal.withInitial(() -> new int[] {-1});
  private static final long NOW = 0;
  private static final long FOREVER = -1;
  private static final BatchAccess BA = BatchAccess.get();

  private final Lane[] lanes;
  private final SocketState state;
  private final Tickets tickets;
  private final Verdicts verdicts;
  private final SocketLedger ledger;
  private final Interfaces ifaces;
  private final JumboTap jumboTap;
  private final IntSupplier ids;
  private final boolean perFragment;
  private final Marks marks;
  private final long holdNanos;
  private final ThreadLocal<PollFds> polls;

  /** What one receive call fills: a caller's buffer or a batch. */
  private interface Filler<T> {
    /**
     * @param l the lane, its receive lock held
     * @return packets delivered (0 if none was ready)
     */
    int fill(Lane l, long deadline, T target) throws DivertException;
  }

  /** The single-packet receive's buffer and result. */
  private static final class One {
    final ByteBuffer dst;
    DivertAddress address;

    One(ByteBuffer dst) {
      this.dst = dst;
    }
  }

  private final Filler<PacketBatch> batchFiller = this::fillBatch;
  private final Filler<One> bufferFiller = this::fillBuffer;

  Receiver(
      Lane[] lanes,
      SocketState state,
      Tickets tickets,
      Verdicts verdicts,
      SocketLedger ledger,
      Interfaces ifaces,
      JumboTap jumboTap,
      IntSupplier ids,
      Marks marks,
      boolean perFragment,
      Duration holdTimeout) {
    this.marks = marks;
    this.lanes = lanes;
    this.state = state;
    this.tickets = tickets;
    this.verdicts = verdicts;
    this.ledger = ledger;
    this.ifaces = ifaces;
    this.jumboTap = jumboTap;
    this.ids = ids;
    this.perFragment = perFragment;
    this.holdNanos = holdTimeout.isZero() ? 0 : holdTimeout.toNanos();
    this.polls =
        ThreadLocal.withInitial(
            () -> {
              PollFds p = new PollFds(lanes.length + 1);
              for (int i = 0; i < lanes.length; i++) {
                p.set(i, lanes[i].ch.fd(), Native.POLLIN);
              }
              p.set(lanes.length, lanes[0].ch.wakeFd(), Native.POLLIN);
              return p;
            });
  }

  /** See {@link org.divert4j.DivertSocket#receive(ByteBuffer, Duration)}. */
  DivertAddress receive(ByteBuffer dst, Duration timeout) throws DivertException {
    One one = new One(dst);
    receiveOver(deadlineOf(timeout), bufferFiller, one);
    return one.address;
  }

  /** See {@link org.divert4j.DivertSocket#receive(PacketBatch, Duration)}. */
  int receive(PacketBatch batch, Duration timeout) throws DivertException {
    BA.clearForReceive(batch);
    return receiveOver(deadlineOf(timeout), batchFiller, batch);
  }

  static Chain chainOf(int hook) {
    return switch (hook) {
      case NfqCodec.HOOK_PRE_ROUTING, NfqCodec.HOOK_LOCAL_IN -> Chain.INPUT;
      case NfqCodec.HOOK_FORWARD -> Chain.FORWARD;
      case NfqCodec.HOOK_LOCAL_OUT, NfqCodec.HOOK_POST_ROUTING -> Chain.OUTPUT;
      default -> null;
    };
  }

  /**
   * Waits until a packet of the lane is decoded and ready to deliver ({@code have}), its receive
   * lock held.
   *
   * @param deadline NOW (only what is immediately available), FOREVER, or a System.nanoTime
   * @param mayFetch whether to receive from the kernel when nothing is buffered
   */
  private boolean await(Lane l, long deadline, boolean mayFetch) throws DivertException {
    while (true) {
      state.checkOpen();
      if (l.have) {
        return true;
      }
      if (l.ch.next(l.pkt)) {
        l.kernelMessages++;
        l.ids.seen(l.pkt.id);
        if (accept(l)) {
          l.have = true;
          return true;
        }
        continue;
      }
      if (!mayFetch) {
        return false;
      }
      int ms;
      if (deadline == FOREVER) {
        ms = -1;
      } else if (deadline == NOW) {
        ms = 0;
      } else {
        long left = deadline - System.nanoTime();
        ms = left <= 0 ? 0 : (int) Math.min(Integer.MAX_VALUE, (left + 999_999) / 1_000_000);
      }
      boolean got;
      try {
        got = l.ch.fetch(ms);
      } catch (ErrnoException e) {
        state.checkOpen();
        throw Errors.generic("receive on divert port " + state.port(), e);
      }
      state.checkOpen();
      if (!got && ms == 0) {
        return false;
      }
    }
  }

  /** Decides what to do with a freshly decoded packet; false if it is not for the program. */
  private boolean accept(Lane l) throws DivertException {
    NfqPacket pkt = l.pkt;
    ByteBuffer rx = l.ch.rxBuffer();
    Chain c = chainOf(pkt.hook);
    if (c == null || pkt.payloadLength < 20) {
      verdicts.now(l, pkt.id, NfqCodec.NF_ACCEPT);
      return false;
    }
    l.srcBuf = rx;
    l.srcOff = pkt.payloadOffset;
    l.srcLen = pkt.payloadLength;
    if (pkt.truncated()) {
      // nla_len is 16 bits: NFQUEUE hands over at most 65531 bytes (NFQNL_MAX_COPY_RANGE); the
      // tap has the tail of packets that came in through an interface (S8)
      if (c == Chain.OUTPUT
          || jumboTap == null
          || !jumboTap.complete(
              rx, pkt.payloadOffset, pkt.payloadLength, pkt.capturedLength, l.jumbo())) {
        verdicts.now(l, pkt.id, NfqCodec.NF_DROP);
        ledger.drop(DropReason.NO_BUFFER);
        return false;
      }
      l.srcBuf = l.jumbo;
      l.srcOff = 0;
      l.srcLen = pkt.capturedLength;
    }
    l.curChain = c;
    l.curTag = marks.tagOf(pkt.mark, c);
    l.splitter.reset();
    if (perFragment
        && c == Chain.OUTPUT
        && pkt.outIndex > 0
        && !pkt.gso()
        && (l.srcBuf.get(l.srcOff) & 0xf0) == 0x60) {
      // S57: IPv6 has no DF bit; a local datagram above the MTU is one the host fragments
      int mtu = ifaces.knowing(pkt.outIndex).mtu(pkt.outIndex);
      if (mtu >= Ipv6Fragmenter.MIN_MTU
          && l.srcLen > mtu
          && l.splitter.cut6(l.srcBuf, l.srcOff, l.srcLen, mtu)) {
        verdicts.now(l, pkt.id, NfqCodec.NF_DROP);
      }
    } else if (perFragment
        && c == Chain.OUTPUT
        && pkt.outIndex > 0
        && !pkt.gso()
        && (l.srcBuf.get(l.srcOff) & 0xf0) == 0x40) {
      int mtu = ifaces.knowing(pkt.outIndex).mtu(pkt.outIndex);
      Ipv4View v = l.view.wrap(l.srcBuf, l.srcOff, l.srcLen);
      if (mtu >= Fragmenter.MIN_MTU && l.srcLen > mtu && !v.dontFragment()) {
        // S19: deliver the fragments ip_fragment would make; the kernel's copy goes
        if (v.identification() == 0) {
          v.setIdentification(ids.getAsInt()); // one ID for all fragments
        }
        if (l.splitter.cut(l.srcBuf, l.srcOff, l.srcLen, mtu)) {
          verdicts.now(l, pkt.id, NfqCodec.NF_DROP);
        }
      }
    }
    return true;
  }

  /**
   * Copies the lane's current packet to {@code dst} at {@code at}, records its ticket and moves on.
   *
   * @return the ticket, or 0 if the packet could not be held (counted, skipped)
   */
  private long deliver(Lane l, ByteBuffer dst, int at) throws DivertException {
    NfqPacket pkt = l.pkt;
    long deadline = holdNanos == 0 ? Long.MAX_VALUE : System.nanoTime() + holdNanos;
    long ticket;
    int len = l.currentLength();
    if (!l.splitter.active()) {
      ByteBuffer src = l.srcBuf;
      int off = l.srcOff;
      int flags = src.getShort(off + 4) == 0 ? TicketRing.F_ID_ZERO : 0;
      if (pkt.gso()) {
        flags |= TicketRing.F_GSO;
      }
      if (pkt.checksumPartial()) {
        flags |= TicketRing.F_CSUM_PARTIAL;
      }
      long h = ContentHash.hash(src, off, len);
      ticket =
          tickets.add(
              TicketRing.KERNEL,
              l.index,
              pkt.id,
              l.curChain.ordinal(),
              flags,
              pkt.mark,
              len,
              pkt.outIndex,
              l.curTag,
              h,
              deadline);
      l.have = false;
      if (ticket == 0) {
        verdicts.now(l, pkt.id, NfqCodec.NF_DROP);
        ledger.drop(DropReason.QUEUE_FULL);
        return 0;
      }
      dst.put(at, src, off, len);
    } else {
      ticket =
          tickets.add(
              TicketRing.SYNTHETIC,
              l.index,
              0,
              l.curChain.ordinal(),
              0,
              pkt.mark,
              len,
              pkt.outIndex,
              l.curTag,
              0,
              deadline);
      if (l.splitter.copyNext(dst, at)) {
        l.have = false;
      }
      if (ticket == 0) {
        ledger.drop(DropReason.QUEUE_FULL);
        return 0;
      }
    }
    ledger.received(len);
    return ticket;
  }

  private static long deadlineOf(Duration timeout) {
    if (timeout == null) {
      return FOREVER;
    }
    if (timeout.isZero() || timeout.isNegative()) {
      return NOW;
    }
    long d = System.nanoTime() + timeout.toNanos();
    return d == NOW || d == FOREVER ? d + 1 : d;
  }

  private boolean lock(Lane l, long deadline) throws DivertException {
    state.checkOpen();
    try {
      if (deadline == FOREVER) {
        l.rxLock.lock();
        return true;
      }
      long wait = deadline == NOW ? 0 : deadline - System.nanoTime();
      return l.rxLock.tryLock(Math.max(0, wait), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DivertException("interrupted while waiting to receive on port " + state.port());
    }
  }

  /** The lane a thread starts from: threads are spread over the lanes round robin. */
  private int home() {
    int[] h = HOME.get();
    if (h[0] < 0) {
      h[0] = THREADS.getAndIncrement() & 0x7fffffff;
    }
    return h[0] % lanes.length;
  }

  /**
   * Runs a receive over the lanes. One lane: wait on it. Several: try each lane (from this thread's
   * own), then wait in poll on all of them and take the first that has packets.
   */
  private <T> int receiveOver(long deadline, Filler<T> f, T target) throws DivertException {
    if (lanes.length == 1) {
      Lane l = lanes[0];
      if (!lock(l, deadline)) {
        return 0;
      }
      try {
        return f.fill(l, deadline, target);
      } finally {
        l.rxLock.unlock();
      }
    }
    int h = home();
    while (true) {
      state.checkOpen();
      for (int k = 0; k < lanes.length; k++) {
        Lane l = lanes[(h + k) % lanes.length];
        if (l.rxLock.tryLock()) {
          int n = fillLocked(l, f, target);
          if (n > 0) {
            return n;
          }
        }
      }
      long left = deadline == FOREVER ? Long.MAX_VALUE : deadline - System.nanoTime();
      if (deadline == NOW || left <= 0) {
        return 0;
      }
      // wait until a queue has something; a short cap covers packets another thread left decoded
      // in a lane's buffer (they do not make the descriptor readable)
      PollFds pf = polls.get();
      pf.poll((int) Math.min(50, Math.max(1, left / 1_000_000)));
      for (int i = 0; i < lanes.length; i++) {
        if (pf.readable(i)) {
          Lane l = lanes[i];
          if (lock(l, deadline)) {
            int n = fillLocked(l, f, target);
            if (n > 0) {
              return n;
            }
          }
          break;
        }
      }
    }
  }

  /** Fills from a lane whose receive lock the caller took, taking only what is there; unlocks. */
  private static <T> int fillLocked(Lane l, Filler<T> f, T target) throws DivertException {
    try {
      return f.fill(l, NOW, target);
    } finally {
      l.rxLock.unlock();
    }
  }

  private int fillBuffer(Lane l, long deadline, One one) throws DivertException {
    ByteBuffer dst = one.dst;
    while (true) {
      if (!await(l, deadline, true)) {
        return 0;
      }
      int len = l.currentLength();
      if (dst.remaining() < len) {
        throw new BufferTooSmallException(len, dst.remaining());
      }
      Chain c = l.curChain;
      int tag = l.curTag;
      int in = l.pkt.inIndex;
      int pos = dst.position();
      long ticket = deliver(l, dst, pos);
      if (ticket == 0) {
        continue;
      }
      dst.position(pos + len);
      if (c.direction() == Direction.INBOUND) {
        InterfaceSnapshot snap = ifaces.knowing(in);
        one.address =
            (dst.get(pos) & 0xf0) == 0x60
                ? DivertAddress.received(
                    state.port(), c, snap.name(in), in, snap.firstAddress6(in), tag, ticket)
                : DivertAddress.received(
                    state.port(), c, snap.name(in), in, snap.firstAddress(in), tag, ticket);
      } else {
        one.address = DivertAddress.received(state.port(), c, "", 0, 0, tag, ticket);
      }
      return 1;
    }
  }

  private int fillBatch(Lane l, long deadline, PacketBatch batch) throws DivertException {
    int n = 0;
    try {
      int cap = batch.capacity();
      while (n < cap) {
        boolean ok =
            n == 0
                ? await(l, deadline, true)
                : await(l, NOW, !l.ch.hasPending() && l.ch.lastFull());
        if (!ok) {
          if (n == 0
              && deadline != NOW
              && (deadline == FOREVER || deadline - System.nanoTime() > 0)) {
            continue;
          }
          break;
        }
        int len = l.currentLength();
        ByteBuffer slot = BA.slot(batch, n);
        if (slot.capacity() < len) {
          if (n == 0) {
            throw new BufferTooSmallException(len, slot.capacity());
          }
          break;
        }
        Chain c = l.curChain;
        int tag = l.curTag;
        int in = l.pkt.inIndex;
        boolean gso = l.pkt.gso() && !l.splitter.active();
        int mark = marks.foreign(l.pkt.mark);
        long stamp = l.pkt.timestamp;
        int out = l.pkt.outIndex;
        long uid = l.pkt.uid;
        long gid = l.pkt.gid;
        ConnectionState ct = CtInfo.state(l.pkt.ctInfo);
        slot.clear(); // the slot's limit is still the previous packet's length
        long ticket = deliver(l, slot, 0);
        if (ticket == 0) {
          continue;
        }
        int port = state.port();
        if (c.direction() == Direction.INBOUND) {
          InterfaceSnapshot snap = ifaces.knowing(in);
          BA.setReceived(
              batch, n, len, port, c, snap.name(in), in, snap.firstAddress(in), tag, ticket);
          if ((slot.get(0) & 0xf0) == 0x60) {
            // S55: the receiving interface's first IPv6 address, shared by the snapshot
            BA.setInterfaceAddress6(batch, n, snap.firstAddress6(in));
          }
        } else {
          BA.setReceived(batch, n, len, port, c, "", 0, 0, tag, ticket);
        }
        BA.setMark(batch, n, mark);
        BA.setMetadata(batch, n, stamp, out > 0 ? out : -1, uid, gid, ct);
        if (gso) {
          int ifIndex = c.direction() == Direction.INBOUND ? in : l.pkt.outIndex;
          BA.setSegmentSize(
              batch, n, SegmentSize.of(slot, 0, len, ifaces.knowing(ifIndex).mtu(ifIndex)));
        }
        n++;
      }
    } finally {
      BA.setSize(batch, n);
    }
    return n;
  }
}
