package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.ReentrantLock;
import org.divert4j.AddressNotAvailableException;
import org.divert4j.BufferTooSmallException;
import org.divert4j.Chain;
import org.divert4j.Direction;
import org.divert4j.DivertAddress;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.FragmentMode;
import org.divert4j.Ipv4;
import org.divert4j.NoRouteException;
import org.divert4j.PacketBatch;
import org.divert4j.PacketTooLargeException;
import org.divert4j.SocketStats;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Errors;
import org.divert4j.linux.Native;
import org.divert4j.packet.FragmentSink;
import org.divert4j.packet.Fragmenter;
import org.divert4j.packet.Ipv4View;
import org.divert4j.spi.BatchAccess;

/**
 * A divert socket on the kernel backend: NFQUEUE queues for receiving and verdicts (queue number =
 * divert port; with {@code parallelism(n)} the queues port..port+n-1, which the rules spread
 * packets over with {@code --queue-balance}, each a {@link Lane}), and the host's raw socket for
 * new packets.
 *
 * <p>Receiving decodes packet messages straight from a lane's receive buffers into the caller's
 * buffer or batch and records each packet in the {@link TicketRing}; nothing is allocated per
 * packet on the batch path. Writing a held packet back is a verdict on its lane: NF_REPEAT with the
 * "resume after this rule" mark ({@link Marks}), with the packet as payload only when it changed or
 * needs an IP ID (S39); unchanged packets with the same verdict become one NFQNL_MSG_VERDICT_BATCH
 * when no other packet of that queue is held before them, and all verdicts of a call go out in one
 * system call per lane.
 *
 * <p>Several threads may receive: each starts at its own lane (round robin over threads), takes any
 * lane with packets waiting, and otherwise waits in {@code poll} on all of them. A batch holds
 * packets of one lane, in order.
 *
 * <p>Locks, always in this order: a lane's {@code rxLock} (its receive state), {@code txLock}
 * (verdict buffers, scratch buffer), {@code ringLock} (the ticket ring).
 */
public final class KernelSocket implements DivertSocket {
  private static final AtomicLong SERIALS = new AtomicLong();
  private static final AtomicInteger THREADS = new AtomicInteger();
  private static final ThreadLocal<int[]> HOME = ThreadLocal.withInitial(() -> new int[] {-1});
  private static final long SEQ_MASK = (1L << 40) - 1;
  private static final long NOW = 0;
  private static final long FOREVER = -1;
  private static final BatchAccess BA = BatchAccess.get();
  private static final Chain[] CHAINS = Chain.values();

  /** One NFQUEUE queue of the socket with its receive state and its verdict buffer. */
  private final class Lane {
    final int index;
    final NfqChannel ch;
    final ReentrantLock rxLock = new ReentrantLock();
    final NfqCodec.Packet pkt = new NfqCodec.Packet();
    final Ipv4View view = new Ipv4View();
    final Fragmenter fragmenter = new Fragmenter(true);
    final FragmentSink splitSink = this::keepFragment;
    // receive state (rxLock)
    boolean have;
    ByteBuffer srcBuf;
    int srcOff;
    int srcLen;
    Chain curChain;
    int curTag;
    ByteBuffer dup;
    ByteBuffer dupOf;
    ByteBuffer jumbo;
    ByteBuffer splitBuf;
    int[] splitOff = new int[64];
    int[] splitLen = new int[64];
    int splitCount;
    int splitUsed;
    int splitIdx = -1;
    long kernelMessages;
    // transmit state (txLock)
    int txLen;
    final int[] runIds = new int[1024];
    int runCount;
    long runLastSeq;
    int runMaxId;
    int runVerdict;
    int runMark;
    boolean runSetMark;

    Lane(int index, NfqChannel ch) {
      this.index = index;
      this.ch = ch;
    }

    int currentLength() {
      return splitIdx < 0 ? srcLen : splitLen[splitIdx];
    }

    ByteBuffer jumbo() {
      if (jumbo == null) {
        jumbo = Native.allocate(65536);
      }
      return jumbo;
    }

    /** Keeps one fragment of a datagram cut for S19. */
    void keepFragment(ByteBuffer f) {
      int len = f.remaining();
      if (splitBuf == null || splitUsed + len > splitBuf.capacity()) {
        // grows once to the largest need seen (65535 bytes at MTU 68 make 8190 headers)
        ByteBuffer b = Native.allocate(Math.max(2 * 65536, splitUsed + len + 65536));
        if (splitBuf != null) {
          b.put(0, splitBuf, 0, splitUsed);
        }
        splitBuf = b;
      }
      if (splitCount == splitOff.length) {
        splitOff = java.util.Arrays.copyOf(splitOff, splitCount * 2);
        splitLen = java.util.Arrays.copyOf(splitLen, splitCount * 2);
      }
      splitBuf.put(splitUsed, f, f.position(), len);
      splitOff[splitCount] = splitUsed;
      splitLen[splitCount] = len;
      splitCount++;
      splitUsed += len;
    }
  }

  private final KernelHost host;
  private final int port;
  private final long serial;
  private final Lane[] lanes;
  private final TicketRing ring;
  private final boolean perFragment;
  private final long holdNanos;
  private final ReentrantLock txLock = new ReentrantLock();
  private final ReentrantLock ringLock = new ReentrantLock();
  private final ByteBuffer scratch = Native.allocate(65536 + 64);
  private final long scratchAddr = Native.address(scratch);
  private final Ipv4View txView = new Ipv4View();
  private final Fragmenter txFragmenter = new Fragmenter(true);
  private final FragmentSink sendSink = this::sendFragment;
  private final ThreadLocal<ByteBuffer> pollBuffers;
  private int sendDst;
  private int sendMark;

  // counters: rx ones under a lane lock, tx ones under txLock; read racily by stats()
  private final AtomicLong received = new AtomicLong();
  private final AtomicLong receivedBytes = new AtomicLong();
  private long reinjected;
  private long injected;
  private long sentBytes;
  private final AtomicLongArray drops = new AtomicLongArray(DropReason.values().length);
  private long bQueuedAtBind = -1;

  private volatile boolean closed;
  private final java.util.concurrent.atomic.AtomicBoolean closeStarted =
      new java.util.concurrent.atomic.AtomicBoolean();
  private volatile SocketStats finalStats;
  private final CountDownLatch closeDone = new CountDownLatch(1);

  KernelSocket(KernelHost host, int port, NfqChannel[] channels) {
    this.host = host;
    this.port = port;
    this.serial = SERIALS.incrementAndGet() & ((1L << 23) - 1);
    this.lanes = new Lane[channels.length];
    for (int i = 0; i < channels.length; i++) {
      lanes[i] = new Lane(i, channels[i]);
    }
    int qlen = host.options().queueLength();
    this.ring = new TicketRing(qlen * channels.length, Math.max(qlen, 128));
    this.perFragment = host.options().fragments() == FragmentMode.PER_FRAGMENT;
    Duration hold = host.options().holdTimeout();
    this.holdNanos = hold.isZero() ? 0 : hold.toNanos();
    int nfds = channels.length + 1;
    this.pollBuffers =
        ThreadLocal.withInitial(
            () -> {
              ByteBuffer b = Native.allocate(nfds * Native.SIZEOF_POLLFD);
              for (int i = 0; i < channels.length; i++) {
                b.putInt(i * 8, channels[i].fd());
                b.putShort(i * 8 + 4, Native.POLLIN);
              }
              b.putInt(channels.length * 8, channels[0].wakeFd());
              b.putShort(channels.length * 8 + 4, Native.POLLIN);
              return b;
            });
  }

  void setQueuedBaseline(long b) {
    bQueuedAtBind = b;
  }

  @Override
  public int port() {
    return port;
  }

  @Override
  public DivertHost host() {
    return host;
  }

  private DivertClosedException closedException() {
    return new DivertClosedException("divert socket on port " + port);
  }

  // ---------------------------------------------------------------- receive

  private static Chain chainOf(int hook) {
    return switch (hook) {
      case NfqCodec.HOOK_PRE_ROUTING, NfqCodec.HOOK_LOCAL_IN -> Chain.INPUT;
      case NfqCodec.HOOK_FORWARD -> Chain.FORWARD;
      case NfqCodec.HOOK_LOCAL_OUT, NfqCodec.HOOK_POST_ROUTING -> Chain.OUTPUT;
      default -> null;
    };
  }

  /**
   * Waits until a packet of the lane is decoded and ready to deliver ({@code have}), its rxLock
   * held.
   *
   * @param deadline NOW (only what is immediately available), FOREVER, or a System.nanoTime
   * @param mayFetch whether to receive from the kernel when nothing is buffered
   */
  private boolean await(Lane l, long deadline, boolean mayFetch) throws DivertException {
    while (true) {
      if (closed) {
        throw closedException();
      }
      if (l.have) {
        return true;
      }
      if (l.ch.next(l.pkt)) {
        l.kernelMessages++;
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
        if (closed) {
          throw closedException();
        }
        throw Errors.generic("receive on divert port " + port, e);
      }
      if (closed) {
        throw closedException();
      }
      if (!got && ms == 0) {
        return false;
      }
    }
  }

  /** Decides what to do with a freshly decoded packet; false if it is not for the program. */
  private boolean accept(Lane l) throws DivertException {
    NfqCodec.Packet pkt = l.pkt;
    ByteBuffer rx = l.ch.rxBuffer();
    Chain c = chainOf(pkt.hook);
    if (c == null || pkt.payloadLength < 20) {
      verdictNow(l, pkt.id, NfqCodec.NF_ACCEPT);
      return false;
    }
    l.srcBuf = rx;
    l.srcOff = pkt.payloadOffset;
    l.srcLen = pkt.payloadLength;
    if (pkt.truncated()) {
      // nla_len is 16 bits: NFQUEUE hands over at most 65531 bytes (NFQNL_MAX_COPY_RANGE); the
      // tap has the tail of packets that came in through an interface (S8)
      JumboTap tap = host.jumboTap();
      if (c == Chain.OUTPUT
          || tap == null
          || !tap.complete(
              rx, pkt.payloadOffset, pkt.payloadLength, pkt.capturedLength, l.jumbo())) {
        verdictNow(l, pkt.id, NfqCodec.NF_DROP);
        drops.incrementAndGet(DropReason.NO_BUFFER.ordinal());
        return false;
      }
      l.srcBuf = l.jumbo;
      l.srcOff = 0;
      l.srcLen = pkt.capturedLength;
    }
    l.curChain = c;
    l.curTag = Marks.tagOf(pkt.mark, c);
    l.splitIdx = -1;
    if (perFragment && c == Chain.OUTPUT && pkt.outIndex > 0) {
      int off = l.srcOff;
      int len = l.srcLen;
      int mtu = host.ifaces().knowing(pkt.outIndex).mtu(pkt.outIndex);
      Ipv4View v = l.view.wrap(l.srcBuf, off, len);
      if (mtu >= Fragmenter.MIN_MTU && len > mtu && !v.dontFragment()) {
        // S19: POSTROUTING runs before ip_fragment, so NFQUEUE sees the whole datagram; cut it
        // here as ip_fragment would and deliver the fragments. The kernel's copy goes.
        if (v.identification() == 0) {
          v.setIdentification(host.nextId()); // one ID for all fragments
        }
        if (l.dup == null || l.dupOf != l.srcBuf) {
          l.dup = l.srcBuf.duplicate();
          l.dupOf = l.srcBuf;
        }
        l.dup.limit(off + len).position(off);
        l.splitCount = 0;
        l.splitUsed = 0;
        try {
          l.fragmenter.fragment(l.dup, mtu, l.splitSink);
          l.splitIdx = 0;
        } catch (DivertException e) {
          l.splitIdx = -1; // not fragmentable after all: deliver it whole
        } finally {
          l.dup.clear();
        }
        if (l.splitIdx == 0) {
          verdictNow(l, pkt.id, NfqCodec.NF_DROP);
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
    NfqCodec.Packet pkt = l.pkt;
    ByteBuffer src = l.srcBuf;
    int off = l.srcOff;
    long deadline = holdNanos == 0 ? Long.MAX_VALUE : System.nanoTime() + holdNanos;
    long s;
    int len;
    if (l.splitIdx < 0) {
      len = l.srcLen;
      int flags = src.getShort(off + 4) == 0 ? TicketRing.F_ID_ZERO : 0;
      long h = Ip4.hash(src, off, len);
      ringLock.lock();
      try {
        s =
            ring.add(
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
      } finally {
        ringLock.unlock();
      }
      l.have = false;
      if (s == 0) {
        verdictNow(l, pkt.id, NfqCodec.NF_DROP);
        drops.incrementAndGet(DropReason.QUEUE_FULL.ordinal());
        return 0;
      }
      dst.put(at, src, off, len);
    } else {
      len = l.splitLen[l.splitIdx];
      ringLock.lock();
      try {
        s =
            ring.add(
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
      } finally {
        ringLock.unlock();
      }
      dst.put(at, l.splitBuf, l.splitOff[l.splitIdx], len);
      if (++l.splitIdx == l.splitCount) {
        l.have = false;
        l.splitIdx = -1;
      }
      if (s == 0) {
        drops.incrementAndGet(DropReason.QUEUE_FULL.ordinal());
        return 0;
      }
    }
    received.incrementAndGet();
    receivedBytes.addAndGet(len);
    return (serial << 40) | s;
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
    if (closed) {
      throw closedException();
    }
    try {
      if (deadline == FOREVER) {
        l.rxLock.lock();
        return true;
      }
      long wait = deadline == NOW ? 0 : deadline - System.nanoTime();
      return l.rxLock.tryLock(Math.max(0, wait), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DivertException("interrupted while waiting to receive on port " + port);
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

  /** What one receive call fills: a caller's buffer or a batch. */
  private interface Filler {
    /**
     * @param l the lane, its rxLock held
     * @param deadline how long to wait
     * @param target the caller's buffer, batch or result holder
     * @return packets delivered (0 if none was ready)
     */
    int fill(Lane l, long deadline, Object target) throws DivertException;
  }

  private final Filler batchFiller = (l, dl, t) -> fillBatch(l, (PacketBatch) t, dl);
  private final Filler bufferFiller = (l, dl, t) -> fillBuffer(l, (Object[]) t, dl);

  /**
   * Runs a receive over the lanes. One lane: wait on it. Several: try each lane (from this thread's
   * own), then wait in poll on all of them and take the first that has packets.
   */
  private int receiveOver(long deadline, Filler f, Object target) throws DivertException {
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
      if (closed) {
        throw closedException();
      }
      for (int k = 0; k < lanes.length; k++) {
        Lane l = lanes[(h + k) % lanes.length];
        if (l.rxLock.tryLock()) {
          try {
            int n = f.fill(l, NOW, target);
            if (n > 0) {
              return n;
            }
          } finally {
            l.rxLock.unlock();
          }
        }
      }
      long left = deadline == FOREVER ? Long.MAX_VALUE : deadline - System.nanoTime();
      if (deadline == NOW || left <= 0) {
        return 0;
      }
      // wait until a queue has something; a short cap covers packets another thread left decoded
      // in a lane's buffer (they do not make the descriptor readable)
      ByteBuffer pf = pollBuffers.get();
      for (int i = 0; i <= lanes.length; i++) {
        pf.putShort(i * 8 + 6, (short) 0);
      }
      int ms = (int) Math.min(50, Math.max(1, left / 1_000_000));
      Native.poll(Native.address(pf), lanes.length + 1, ms);
      for (int i = 0; i < lanes.length; i++) {
        if ((pf.getShort(i * 8 + 6) & Native.POLLIN) != 0) {
          Lane l = lanes[i];
          if (lock(l, deadline)) {
            try {
              int n = f.fill(l, NOW, target);
              if (n > 0) {
                return n;
              }
            } finally {
              l.rxLock.unlock();
            }
          }
          break;
        }
      }
    }
  }

  @Override
  public DivertAddress receive(ByteBuffer dst) throws DivertException {
    return receive(dst, null);
  }

  @Override
  public DivertAddress receive(ByteBuffer dst, Duration timeout) throws DivertException {
    Objects.requireNonNull(dst, "dst");
    Object[] io = {dst, null};
    receiveOver(deadlineOf(timeout), bufferFiller, io);
    return (DivertAddress) io[1];
  }

  private int fillBuffer(Lane l, Object[] io, long deadline) throws DivertException {
    ByteBuffer dst = (ByteBuffer) io[0];
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
        Interfaces.Snapshot snap = host.ifaces().knowing(in);
        io[1] =
            DivertAddress.received(port, c, snap.name(in), in, snap.firstAddress(in), tag, ticket);
      } else {
        io[1] = DivertAddress.received(port, c, "", 0, 0, tag, ticket);
      }
      return 1;
    }
  }

  @Override
  public int receive(PacketBatch batch, Duration timeout) throws DivertException {
    Objects.requireNonNull(batch, "batch");
    BA.clearForReceive(batch);
    return receiveOver(deadlineOf(timeout), batchFiller, batch);
  }

  private int fillBatch(Lane l, PacketBatch batch, long deadline) throws DivertException {
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
        slot.clear(); // the slot's limit is still the previous packet's length
        long ticket = deliver(l, slot, 0);
        if (ticket == 0) {
          continue;
        }
        if (c.direction() == Direction.INBOUND) {
          Interfaces.Snapshot snap = host.ifaces().knowing(in);
          BA.setReceived(
              batch, n, len, port, c, snap.name(in), in, snap.firstAddress(in), tag, ticket);
        } else {
          BA.setReceived(batch, n, len, port, c, "", 0, 0, tag, ticket);
        }
        n++;
      }
    } finally {
      BA.setSize(batch, n);
    }
    return n;
  }

  // ---------------------------------------------------------------- send

  /** Writes a verdict at once (receive path): takes txLock. */
  private void verdictNow(Lane l, int id, int verdict) throws DivertException {
    txLock.lock();
    try {
      if (closed) {
        return;
      }
      flushRun(l);
      ensureRoom(l, NfqCodec.VERDICT_SIZE);
      ByteBuffer tx = l.ch.txBuffer();
      int p = NfqCodec.verdict(tx, l.txLen, false, l.ch.queue(), verdict, id, false, 0);
      l.txLen = NfqCodec.end(tx, l.txLen, p);
      flushTx(l);
    } finally {
      txLock.unlock();
    }
  }

  private void ensureRoom(Lane l, int bytes) throws DivertException {
    if (l.txLen + bytes + 64 > NfqChannel.TX_SIZE) {
      flushTx(l);
    }
  }

  private void flushTx(Lane l) throws DivertException {
    int len = l.txLen;
    l.txLen = 0;
    try {
      l.ch.flush(len);
    } catch (ErrnoException e) {
      if (closed) {
        throw closedException();
      }
      throw Errors.generic("verdict on divert port " + port, e);
    }
  }

  /** Sends every lane's pending verdicts (txLock held). */
  private void flushAll() throws DivertException {
    DivertException first = null;
    for (Lane l : lanes) {
      flushRun(l);
      if (l.txLen > 0) {
        try {
          flushTx(l);
        } catch (DivertException e) {
          first = first == null ? e : first;
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }

  /** Emits a lane's pending run of same-verdict, unchanged reinjections or drops (txLock held). */
  private void flushRun(Lane l) {
    if (l.runCount == 0) {
      return;
    }
    ByteBuffer tx = l.ch.txBuffer();
    boolean batchOk;
    ringLock.lock();
    try {
      // VERDICT_BATCH releases every queued packet of the queue with an id up to the highest:
      // allowed only if no other held packet of this queue came before the run's last one
      batchOk = l.runCount >= 2 && ring.noKernelEntryBefore(l.runLastSeq + 1, l.index, 4096);
    } finally {
      ringLock.unlock();
    }
    if (batchOk) {
      int p =
          NfqCodec.verdict(
              tx, l.txLen, true, l.ch.queue(), l.runVerdict, l.runMaxId, l.runSetMark, l.runMark);
      l.txLen = NfqCodec.end(tx, l.txLen, p);
    } else {
      for (int i = 0; i < l.runCount; i++) {
        if (l.txLen + NfqCodec.VERDICT_SIZE + NfqCodec.MARK_SIZE + 64 > NfqChannel.TX_SIZE) {
          int len = l.txLen;
          l.txLen = 0;
          try {
            l.ch.flush(len);
          } catch (ErrnoException e) {
            // the kernel refused the datagram as a whole; the run is lost with it (counted)
            drops.addAndGet(DropReason.NO_BUFFER.ordinal(), l.runCount - i);
            l.runCount = 0;
            return;
          }
        }
        int p =
            NfqCodec.verdict(
                tx,
                l.txLen,
                false,
                l.ch.queue(),
                l.runVerdict,
                l.runIds[i],
                l.runSetMark,
                l.runMark);
        l.txLen = NfqCodec.end(tx, l.txLen, p);
      }
    }
    l.runCount = 0;
  }

  private void addToRun(Lane l, long seq, int id, int verdict, boolean setMark, int mark) {
    if (l.runCount > 0
        && (l.runCount == l.runIds.length
            || verdict != l.runVerdict
            || setMark != l.runSetMark
            || mark != l.runMark)) {
      flushRun(l);
    }
    if (l.runCount == 0) {
      l.runVerdict = verdict;
      l.runSetMark = setMark;
      l.runMark = mark;
      l.runLastSeq = seq;
      l.runMaxId = id;
    }
    l.runIds[l.runCount++] = id;
    if (seq > l.runLastSeq) {
      l.runLastSeq = seq;
    }
    if ((id - l.runMaxId) > 0) { // nfq_id_after
      l.runMaxId = id;
    }
  }

  private int ticketSlot(long ticket) {
    if (ticket == 0 || (ticket >>> 40) != serial) {
      return -1;
    }
    ringLock.lock();
    try {
      return ring.find(ticket & SEQ_MASK);
    } finally {
      ringLock.unlock();
    }
  }

  private void removeSlot(int slot) {
    ringLock.lock();
    try {
      ring.remove(slot);
    } finally {
      ringLock.unlock();
    }
  }

  /** Copies a packet to the scratch buffer and checks it (S31, S47). */
  private int load(ByteBuffer packet, int from, int len) throws DivertException {
    if (len > PacketTooLargeException.IPV4_MAX) {
      throw new PacketTooLargeException(len, PacketTooLargeException.IPV4_MAX, "", 0);
    }
    scratch.put(0, packet, from, len);
    txView.wrap(scratch, 0, len).validateForSend();
    return len;
  }

  @Override
  public void send(ByteBuffer packet, DivertAddress address) throws DivertException {
    Objects.requireNonNull(packet, "packet");
    Objects.requireNonNull(address, "address");
    txLock.lock();
    try {
      if (closed) {
        throw closedException();
      }
      int len = load(packet, packet.position(), packet.remaining());
      sendLoaded(len, address.ticket(), address, null, -1);
      flushAll();
      packet.position(packet.limit());
    } finally {
      txLock.unlock();
    }
  }

  @Override
  public int send(PacketBatch batch) throws DivertException {
    Objects.requireNonNull(batch, "batch");
    txLock.lock();
    int sent = 0;
    try {
      if (closed) {
        throw closedException();
      }
      int n = batch.size();
      for (int i = 0; i < n; i++) {
        BA.setError(batch, i, null);
        long ticket = batch.ticket(i);
        if (batch.isDropped(i)) {
          dropTicket(ticket);
          continue;
        }
        ByteBuffer slot = BA.slot(batch, i);
        try {
          int len = load(slot, 0, slot.limit());
          sendLoaded(len, ticket, BA.given(batch, i), batch, i);
          sent++;
        } catch (DivertClosedException e) {
          throw e;
        } catch (DivertException e) {
          BA.setError(batch, i, e);
        }
      }
      flushAll();
    } finally {
      txLock.unlock();
    }
    return sent;
  }

  /**
   * Sends the packet in the scratch buffer: a verdict if the ticket is live, else an injection in
   * the address's (or the batch slot's) direction. txLock held.
   */
  private void sendLoaded(int len, long ticket, DivertAddress address, PacketBatch b, int i)
      throws DivertException {
    int slot = ticketSlot(ticket);
    if (slot >= 0) {
      if (ring.kind(slot) == TicketRing.KERNEL) {
        reinjectKernel(slot, len);
      } else {
        reinjectSynthetic(slot, len);
      }
      return;
    }
    boolean inbound;
    int ifAddress;
    if (address != null) {
      inbound = address.direction() == Direction.INBOUND && address.interfaceAddressBits() != 0;
      ifAddress = address.interfaceAddressBits();
    } else {
      inbound = b.direction(i) == Direction.INBOUND && b.interfaceAddressBits(i) != 0;
      ifAddress = b.interfaceAddressBits(i);
    }
    inject(len, inbound, ifAddress);
  }

  private void reinjectKernel(int slot, int len) throws DivertException {
    Lane l = lanes[ring.lane(slot)];
    ByteBuffer tx = l.ch.txBuffer();
    boolean changed =
        len != ring.length(slot)
            || (ring.flags(slot) & TicketRing.F_ID_ZERO) != 0
            || Ip4.hash(scratch, 0, len) != ring.hash(slot);
    Chain c = CHAINS[ring.chain(slot)];
    if (changed && c != Chain.INPUT) {
      checkEgressMtu(len, ring.outIndex(slot), c == Chain.OUTPUT || len > ring.length(slot));
    }
    int tag = ring.ruleId(slot);
    int verdict = tag != 0 ? NfqCodec.NF_REPEAT : NfqCodec.NF_ACCEPT;
    int mark = ring.mark(slot) | Marks.R_BIT;
    long seq = ring.seq(slot);
    int id = ring.kernelId(slot);
    if (changed && len > NfqCodec.MAX_COPY_RANGE) {
      // a verdict payload cannot exceed 65531 bytes either: drop the queued packet and send the
      // new one through the raw socket, resuming after the rule that diverted it
      int m = ring.mark(slot) & ~Marks.STATE_MASK;
      if (tag != 0) {
        m |= Marks.resume(c, tag);
      }
      removeSlot(slot);
      addToRun(l, seq, id, NfqCodec.NF_DROP, false, 0);
      Ipv4View v = txView.wrap(scratch, 0, len);
      Ip4.fixUp(v, host.nextId());
      flushAll();
      rawSend(len, v.destination(), m, false);
      reinjected++;
      sentBytes += len;
      return;
    }
    removeSlot(slot);
    if (!changed) {
      addToRun(l, seq, id, verdict, tag != 0, mark);
    } else {
      flushRun(l);
      ensureRoom(l, NfqCodec.VERDICT_SIZE + NfqCodec.MARK_SIZE + 4 + len);
      int p = NfqCodec.verdict(tx, l.txLen, false, l.ch.queue(), verdict, id, tag != 0, mark);
      int data = NfqCodec.payloadHeader(tx, p, len);
      tx.put(data, scratch, 0, len);
      // nfqnl_mangle copies the payload as is: the section-H fix-ups are ours (S38-S40)
      Ip4.fixUp(txView.wrap(tx, data, len), host.nextId());
      l.txLen = NfqCodec.end(tx, l.txLen, data + len);
    }
    reinjected++;
    sentBytes += len;
  }

  /** S27/S28 (per-fragment: nothing above the egress MTU) and S29 (DF above the MTU). */
  private void checkEgressMtu(int len, int outIndex, boolean strict) throws DivertException {
    if (outIndex <= 0) {
      return;
    }
    Interfaces.Snapshot snap = host.ifaces().knowing(outIndex);
    int mtu = snap.mtu(outIndex);
    if (mtu < 68 || len <= mtu) {
      return;
    }
    boolean df = txView.wrap(scratch, 0, len).dontFragment();
    if (perFragment ? strict : df) {
      throw new PacketTooLargeException(
          len, mtu, "egress interface " + snap.name(outIndex) + (perFragment ? "" : ", DF set"), 0);
    }
  }

  private void reinjectSynthetic(int slot, int len) throws DivertException {
    Chain c = CHAINS[ring.chain(slot)];
    int tag = ring.ruleId(slot);
    int mark = ring.mark(slot) & ~Marks.STATE_MASK;
    if (tag != 0) {
      mark |= Marks.resume(c, tag);
    }
    Ipv4View v = txView.wrap(scratch, 0, len);
    Ip4.fixUp(v, host.nextId());
    flushAll();
    rawSend(len, v.destination(), mark, false);
    removeSlot(slot);
    reinjected++;
    sentBytes += len;
  }

  private void inject(int len, boolean inbound, int ifAddress) throws DivertException {
    Ipv4View v = txView.wrap(scratch, 0, len);
    Ip4.fixUp(v, host.nextId());
    int dst = v.destination();
    int mark = Marks.injected(port);
    if (inbound) {
      Interfaces.Snapshot snap = host.ifaces().get();
      if (!snap.isLocal(ifAddress)) {
        snap = host.ifaces().knowing(Integer.MAX_VALUE);
        if (!snap.isLocal(ifAddress)) {
          throw new AddressNotAvailableException(Ipv4.fromInt(ifAddress));
        }
      }
      if (snap.isLocal(dst)) {
        // S33 approximation: a raw send to a local address loops through lo into PREROUTING and
        // the local stack. The chain bits say "output chain in progress" so the output rules let
        // it pass (their end line clears the state); the input rules see it arrive on lo.
        mark |= Marks.chainBits(Chain.OUTPUT);
      }
    }
    flushAll();
    rawSend(len, dst, mark, true);
    injected++;
    sentBytes += len;
  }

  private void rawSend(int len, int dst, int mark, boolean mayFragment) throws DivertException {
    int e = host.raw().send(scratchAddr, len, dst, mark);
    if (e == 0) {
      return;
    }
    if (e == Errors.EMSGSIZE) {
      int mtu = host.routeMtu(dst, mark);
      boolean df = txView.wrap(scratch, 0, len).dontFragment();
      if (!perFragment && mayFragment && !df && mtu >= Fragmenter.MIN_MTU && len > mtu) {
        sendFragmented(len, dst, mark, mtu);
        return;
      }
      throw new PacketTooLargeException(
          len, mtu > 0 ? mtu : len - 1, host.routeDescription(dst, mark), e);
    }
    if (e == Errors.ENETUNREACH || e == Errors.EHOSTUNREACH) {
      throw new NoRouteException(Ipv4.fromInt(dst), e);
    }
    if (e == Errors.ENOBUFS) {
      drops.incrementAndGet(DropReason.NO_BUFFER.ordinal());
      return;
    }
    if (Errors.isPermission(e)) {
      throw new DivertException(
          "the packet to " + Ipv4.toString(dst) + " was refused by a firewall rule", e, null);
    }
    throw new DivertException(
        "raw send to " + Ipv4.toString(dst) + " failed: " + Errors.name(e), e, null);
  }

  /** S29: ALWAYS_DEFRAGMENT injects datagrams above the MTU as fragments (DF clear). */
  private void sendFragmented(int len, int dst, int mark, int mtu) throws DivertException {
    sendDst = dst;
    sendMark = mark;
    scratch.limit(len).position(0);
    try {
      txFragmenter.fragment(scratch, mtu, sendSink);
    } finally {
      scratch.clear();
    }
  }

  private void sendFragment(ByteBuffer f) throws DivertException {
    int e = host.raw().send(Native.address(f) + f.position(), f.remaining(), sendDst, sendMark);
    if (e != 0 && e != Errors.ENOBUFS) {
      throw new DivertException(
          "sending a fragment to " + Ipv4.toString(sendDst) + " failed: " + Errors.name(e),
          e,
          null);
    }
  }

  private void dropTicket(long ticket) {
    int slot = ticketSlot(ticket);
    if (slot < 0) {
      return;
    }
    if (ring.kind(slot) == TicketRing.KERNEL) {
      Lane l = lanes[ring.lane(slot)];
      long seq = ring.seq(slot);
      int id = ring.kernelId(slot);
      removeSlot(slot);
      addToRun(l, seq, id, NfqCodec.NF_DROP, false, 0);
    } else {
      removeSlot(slot);
    }
    drops.incrementAndGet(DropReason.PROGRAM.ordinal());
  }

  @Override
  public void drop(DivertAddress address) throws DivertException {
    Objects.requireNonNull(address, "address");
    txLock.lock();
    try {
      if (closed) {
        throw closedException();
      }
      dropTicket(address.ticket());
      flushAll();
    } finally {
      txLock.unlock();
    }
  }

  /** Drops held packets whose hold time is over (called by the host's reaper thread). */
  void expire() {
    if (holdNanos == 0 || closed || !txLock.tryLock()) {
      return;
    }
    try {
      if (closed) {
        return;
      }
      ringLock.lock();
      try {
        ring.expire(
            System.nanoTime(),
            (r, slot) -> {
              drops.incrementAndGet(DropReason.HOLD_EXPIRED.ordinal());
              if (r.kind(slot) == TicketRing.KERNEL) {
                Lane l = lanes[r.lane(slot)];
                if (l.txLen + NfqCodec.VERDICT_SIZE + 64 > NfqChannel.TX_SIZE) {
                  int len = l.txLen;
                  l.txLen = 0;
                  try {
                    l.ch.flush(len);
                  } catch (ErrnoException e) {
                    // lost with the datagram; the kernel drops what is left when the socket closes
                  }
                }
                ByteBuffer tx = l.ch.txBuffer();
                int p =
                    NfqCodec.verdict(
                        tx,
                        l.txLen,
                        false,
                        l.ch.queue(),
                        NfqCodec.NF_DROP,
                        r.kernelId(slot),
                        false,
                        0);
                l.txLen = NfqCodec.end(tx, l.txLen, p);
              }
            });
      } finally {
        ringLock.unlock();
      }
      try {
        flushAll();
      } catch (DivertException e) {
        // counted as expired either way; the kernel drops what is left when the socket closes
      }
    } finally {
      txLock.unlock();
    }
  }

  // ---------------------------------------------------------------- stats and close

  /** Reads the /proc counters of every queue: {queue_total, queue_dropped, user_dropped}. */
  private long[] procCounters() {
    long[] sum = null;
    for (Lane l : lanes) {
      long[] c = host.queueCounters(l.ch.queue());
      if (c != null) {
        if (sum == null) {
          sum = new long[4];
        }
        for (int i = 0; i < 4; i++) {
          sum[i] += c[i];
        }
      }
    }
    return sum;
  }

  @Override
  public SocketStats stats() {
    SocketStats f = finalStats;
    if (f != null) {
      return f;
    }
    return snapshot(procCounters(), host.options().failOpen() ? host.queuedPackets(port) : -1);
  }

  private SocketStats snapshot(long[] proc, long queuedNow) {
    long[] d = new long[drops.length()];
    for (int i = 0; i < d.length; i++) {
      d[i] = drops.get(i);
    }
    long heldKernel;
    long synthetic;
    ringLock.lock();
    try {
      synthetic = ring.syntheticSize();
      heldKernel = ring.size() - synthetic;
    } finally {
      ringLock.unlock();
    }
    long enobufs = 0;
    long messages = 0;
    for (Lane l : lanes) {
      enobufs += l.ch.enobufs();
      messages += l.kernelMessages;
    }
    long failOpen = 0;
    if (proc != null) {
      // /proc/net/netfilter/nfnetlink_queue: queue_total, queue_dropped, user_dropped
      d[DropReason.QUEUE_FULL.ordinal()] += proc[1];
      d[DropReason.NO_BUFFER.ordinal()] += Math.max(proc[2], enobufs);
      if (queuedNow >= 0 && bQueuedAtBind >= 0) {
        long inFlight = Math.max(0, proc[0] - heldKernel);
        failOpen = Math.max(0, queuedNow - bQueuedAtBind - messages - inFlight - proc[1] - proc[2]);
      }
    } else {
      d[DropReason.NO_BUFFER.ordinal()] += enobufs;
    }
    return new SocketStats(
        received.get(),
        receivedBytes.get(),
        reinjected,
        injected,
        sentBytes,
        failOpen,
        heldKernel + synthetic,
        d);
  }

  @Override
  public boolean isOpen() {
    return !closed;
  }

  @Override
  public void close() {
    if (!closeStarted.compareAndSet(false, true)) {
      awaitClosed(); // another thread is closing: return when it has finished
      return;
    }
    closed = true;
    for (Lane l : lanes) {
      l.ch.shutdown();
    }
    for (Lane l : lanes) {
      l.rxLock.lock(); // the woken receivers have left: nothing more is delivered
    }
    try {
      // From here on new packets meet the no-listener behaviour, counted by the host as such,
      // instead of a queue about to be destroyed, where the kernel would drop them uncounted.
      long noListenerBefore = host.disarm(this);
      // The socket's counters stop here. With DROP, the no-listener line queues to our (still
      // bound) queue numbers until they close: what it sends there is the host's (NO_LISTENER).
      long[] atDisarm = procCounters();
      long queuedNow = host.options().failOpen() ? host.queuedPackets(port) : -1;
      txLock.lock();
      try {
        // Under the send lock: a send in progress has given its verdicts, later ones fail. The
        // no-listener counter first: it takes an iptables-save, the queue's line a read of /proc,
        // so packets arriving between the two are counted by both (at most a few milliseconds'
        // worth, rather than lost from both).
        long noListenerAfter = noListenerBefore < 0 ? -1 : host.noListenerDrops(port);
        long[] atClose = procCounters();
        SocketStats s = snapshot(atDisarm, queuedNow);
        long[] d = new long[DropReason.values().length];
        for (DropReason r : DropReason.values()) {
          d[r.ordinal()] = s.dropped(r);
        }
        // Everything the kernel still holds (delivered or not) plus our own fragments is dropped
        // (S14), except what the no-listener line put in the queue after the disarm: the packets
        // that line counted, less those the queue then refused as full or for want of socket
        // buffer (net/netfilter/nfnetlink_queue.c, __nfqnl_enqueue_packet).
        long lost;
        if (atClose != null && atDisarm != null) {
          long late = 0;
          if (noListenerAfter >= 0) {
            late =
                (noListenerAfter - noListenerBefore)
                    - (atClose[1] - atDisarm[1])
                    - (atClose[2] - atDisarm[2]);
          }
          lost = Math.max(0, atClose[0] - Math.max(0, late));
        } else {
          lost = atClose != null ? atClose[0] : s.held() - ring.syntheticSize();
        }
        d[DropReason.CLOSED.ordinal()] += lost + ring.syntheticSize();
        finalStats =
            new SocketStats(
                s.received(),
                s.receivedBytes(),
                s.reinjected(),
                s.injected(),
                s.sentBytes(),
                s.failOpenAccepted(),
                0,
                d);
        for (Lane l : lanes) {
          l.ch.close();
        }
      } finally {
        txLock.unlock();
      }
    } finally {
      for (Lane l : lanes) {
        l.rxLock.unlock();
      }
    }
    host.socketClosed(this);
    closeDone.countDown();
  }

  /** Waits until a close started by another thread has released the queues (at most 5 s). */
  void awaitClosed() {
    try {
      closeDone.await(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * @return the number of queues (lanes)
   */
  int queues() {
    return lanes.length;
  }

  @Override
  public String toString() {
    return "divert socket port " + port + " on " + host.name();
  }
}
