package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;
import org.divert4j.BufferTooSmallException;
import org.divert4j.Chain;
import org.divert4j.DivertAddress;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.PacketBatch;
import org.divert4j.SnifferWriteBackException;
import org.divert4j.SocketStats;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Errors;
import org.divert4j.spi.BatchAccess;
import org.divert4j.spi.SendDirection;

/**
 * A sniffer socket on the kernel backend (S71, S72): the port's rule lines copy each matching
 * packet to the nfnetlink_log group numbered as the port and let it go on ({@link
 * RuleText#portChainLines(String, boolean, boolean)}); this socket reads the copies from an {@link
 * NfqChannel} bound to that group ({@link NflogCodec}). Nothing is held, so there is no verdict and
 * no ticket: a received address carries a marker ticket only so that a write-back of it is refused.
 * Copies the socket buffer could not take are counted from the gaps in their sequence numbers
 * (NFULA_SEQ) as {@link DropReason#QUEUE_FULL}. New packets go out through an {@link Injector} as
 * any socket's (S42).
 *
 * <p>Locks: the receive lock, then the send lock (only {@link #close()} takes both).
 */
final class SnifferSocket implements DivertSocket {
  private static final BatchAccess BA = BatchAccess.get();

  /** Marks a sniffer's received address: never a held packet's ticket (those have bit 62 clear). */
  private static final long COPY_TICKET = 1L << 62;

  private final DivertHost host;
  private final int port;
  private final NfqChannel ch;
  private final Interfaces ifaces;
  private final SocketState state;
  private final SocketLedger ledger = new SocketLedger();
  private final Verdicts sendLock;
  private final SendBuffer out = new SendBuffer();
  private final Injector injector;
  private final Marks marks;
  private final ReentrantLock rxLock = new ReentrantLock();
  private final NfqPacket pkt = new NfqPacket();
  private final Runnable onClose;
  private final java.util.concurrent.atomic.AtomicBoolean closing =
      new java.util.concurrent.atomic.AtomicBoolean();
  private boolean have; // pkt holds a decoded copy not yet delivered (rx lock)
  private long nextSeq; // the sequence number the next copy should carry (rx lock)
  private volatile SocketStats finalStats;

  SnifferSocket(
      DivertHost host,
      int port,
      NfqChannel ch,
      HostOptions options,
      SocketServices services,
      Runnable onClose) {
    this.host = host;
    this.port = port;
    this.ch = ch;
    this.ifaces = services.ifaces();
    this.state = new SocketState(port);
    this.onClose = onClose;
    this.sendLock = new Verdicts(new Lane[0], state); // no queues: only the send lock
    this.injector =
        new Injector(
            port,
            out,
            services.raw(),
            services.ifaces(),
            ledger,
            sendLock,
            services.ids(),
            services.marks(),
            options.fragments() == FragmentMode.PER_FRAGMENT,
            services.ingress());
    this.marks = services.marks();
  }

  @Override
  public int port() {
    return port;
  }

  @Override
  public DivertHost host() {
    return host;
  }

  @Override
  public boolean isSniffer() {
    return true;
  }

  // ---------------------------------------------------------------- receive

  @Override
  public DivertAddress receive(ByteBuffer dst) throws DivertException {
    return receive(dst, null);
  }

  @Override
  public DivertAddress receive(ByteBuffer dst, Duration timeout) throws DivertException {
    Objects.requireNonNull(dst, "dst");
    rxLock.lock();
    try {
      if (!await(deadline(timeout))) {
        return null;
      }
      int len = pkt.payloadLength;
      if (dst.remaining() < len) {
        throw new BufferTooSmallException(len, dst.remaining());
      }
      int pos = dst.position();
      dst.put(pos, ch.rxBuffer(), pkt.payloadOffset, len);
      dst.position(pos + len);
      return deliver(len);
    } finally {
      rxLock.unlock();
    }
  }

  @Override
  public int receive(PacketBatch batch, Duration timeout) throws DivertException {
    Objects.requireNonNull(batch, "batch");
    BA.clearForReceive(batch);
    rxLock.lock();
    try {
      int n = 0;
      long deadline = deadline(timeout);
      while (n < batch.capacity() && await(n == 0 ? deadline : 0)) {
        int len = pkt.payloadLength;
        ByteBuffer slot = BA.slot(batch, n);
        if (slot.capacity() < len) {
          if (n == 0) {
            throw new BufferTooSmallException(len, slot.capacity());
          }
          break;
        }
        slot.clear();
        slot.put(0, ch.rxBuffer(), pkt.payloadOffset, len);
        Chain c = Receiver.chainOf(pkt.hook);
        int in = c == Chain.INPUT || c == Chain.FORWARD ? pkt.inIndex : 0;
        InterfaceSnapshot snap = ifaces.knowing(in);
        BA.setReceived(
            batch,
            n,
            len,
            port,
            c,
            in == 0 ? "" : snap.name(in),
            in,
            in == 0 ? 0 : snap.firstAddress(in),
            marks.tagOf(pkt.mark, c),
            COPY_TICKET | pkt.seq & 0xffffffffL);
        if (in != 0 && (BA.slot(batch, n).get(0) & 0xf0) == 0x60) {
          BA.setInterfaceAddress6(batch, n, snap.firstAddress6(in)); // S55
        }
        have = false;
        ledger.received(len);
        n++;
      }
      BA.setSize(batch, n);
      return n;
    } finally {
      rxLock.unlock();
    }
  }

  /** Builds the address of the decoded copy and consumes it (rx lock held). */
  private DivertAddress deliver(int len) {
    Chain c = Receiver.chainOf(pkt.hook);
    int in = c == Chain.INPUT || c == Chain.FORWARD ? pkt.inIndex : 0;
    have = false;
    ledger.received(len);
    long ticket = COPY_TICKET | pkt.seq & 0xffffffffL;
    int tag = marks.tagOf(pkt.mark, c);
    if (in == 0) {
      return DivertAddress.received(port, c, "", 0, 0, tag, ticket);
    }
    InterfaceSnapshot snap = ifaces.knowing(in);
    boolean six = len > 0 && (ch.rxBuffer().get(pkt.payloadOffset) & 0xf0) == 0x60;
    return six
        ? DivertAddress.received(port, c, snap.name(in), in, snap.firstAddress6(in), tag, ticket)
        : DivertAddress.received(port, c, snap.name(in), in, snap.firstAddress(in), tag, ticket);
  }

  /** -1 waits for ever, 0 polls, else System.nanoTime() to give up at. */
  private static long deadline(Duration timeout) {
    if (timeout == null) {
      return -1;
    }
    return timeout.isZero() || timeout.isNegative() ? 0 : System.nanoTime() + timeout.toNanos();
  }

  /**
   * Waits until a copy is decoded into {@link #pkt}, counting the copies lost before it (rx lock
   * held).
   *
   * @return false on timeout
   */
  private boolean await(long deadline) throws DivertException {
    while (!have) {
      state.checkOpen();
      if (ch.next(pkt)) {
        if (Receiver.chainOf(pkt.hook) == null || pkt.payloadLength < 20) {
          continue; // not a hook divert rules use, or not a whole header
        }
        if (pkt.seq >= 0) {
          long lost = (pkt.seq - nextSeq) & 0xffffffffL; // u32 sequence (NFULA_SEQ)
          if (lost != 0 && lost < 0x80000000L) {
            ledger.drop(DropReason.QUEUE_FULL, lost);
          }
          nextSeq = (pkt.seq + 1) & 0xffffffffL;
        }
        have = true;
        return true;
      }
      int ms;
      if (deadline < 0) {
        ms = -1;
      } else if (deadline == 0) {
        ms = 0;
      } else {
        long left = deadline - System.nanoTime();
        ms = left <= 0 ? 0 : (int) Math.min(Integer.MAX_VALUE, (left + 999_999) / 1_000_000);
      }
      boolean got;
      try {
        got = ch.fetch(ms);
      } catch (ErrnoException e) {
        state.checkOpen();
        throw Errors.generic("receive on sniffer port " + port, e);
      }
      state.checkOpen();
      if (!got && ms == 0) {
        return false;
      }
    }
    return true;
  }

  // ---------------------------------------------------------------- send

  @Override
  public void send(ByteBuffer packet, DivertAddress address) throws DivertException {
    Objects.requireNonNull(packet, "packet");
    Objects.requireNonNull(address, "address");
    sendLock.lock().lock();
    try {
      state.checkOpen();
      if (address.ticket() != 0) {
        throw new SnifferWriteBackException(port); // S71
      }
      int len = out.load(packet, packet.position(), packet.remaining());
      injector.inject(
          len, SendDirection.inboundAddress(address), SendDirection.inboundAddress6(address), 0);
      packet.position(packet.limit());
    } finally {
      sendLock.lock().unlock();
    }
  }

  @Override
  public int send(PacketBatch batch) throws DivertException {
    Objects.requireNonNull(batch, "batch");
    sendLock.lock().lock();
    int sent = 0;
    try {
      state.checkOpen();
      for (int i = 0; i < batch.size(); i++) {
        BA.setError(batch, i, null);
        if (batch.isDropped(i)) {
          continue; // nothing is held
        }
        try {
          if (batch.ticket(i) != 0) {
            throw new SnifferWriteBackException(port); // S71
          }
          ByteBuffer slot = BA.slot(batch, i);
          injector.inject(
              out.load(slot, 0, slot.limit()),
              SendDirection.inboundAddress(batch, i),
              SendDirection.inboundAddress6(batch, i),
              batch.mark(i));
          sent++;
        } catch (DivertClosedException e) {
          throw e;
        } catch (DivertException e) {
          BA.setError(batch, i, e);
        }
      }
    } finally {
      sendLock.lock().unlock();
    }
    return sent;
  }

  @Override
  public void drop(DivertAddress address) throws DivertException {
    Objects.requireNonNull(address, "address");
    state.checkOpen(); // a copy is not held: nothing to drop
  }

  // ---------------------------------------------------------------- state

  @Override
  public SocketStats stats() {
    SocketStats f = finalStats;
    return f != null ? f : ledger.stats(null, -1, new long[2], 0, 0);
  }

  @Override
  public boolean isOpen() {
    return !state.closed();
  }

  /**
   * Closes the channel, which destroys the log instance (NETLINK_URELEASE, {@code
   * nfulnl_rcv_nl_event}): from then on the NFLOG lines copy nothing and the packets go on; the
   * host then re-arms the port's chain as it stands. Idempotent.
   */
  @Override
  public void close() {
    if (!closing.compareAndSet(false, true)) {
      return;
    }
    state.markClosed();
    ch.shutdown();
    rxLock.lock();
    sendLock.lock().lock();
    try {
      finalStats = ledger.stats(null, -1, new long[2], 0, 0);
      ch.close();
    } finally {
      sendLock.lock().unlock();
      rxLock.unlock();
    }
    onClose.run();
  }

  @Override
  public String toString() {
    return "sniffer socket " + host.name() + " port " + port + (isOpen() ? "" : " (closed)");
  }
}
