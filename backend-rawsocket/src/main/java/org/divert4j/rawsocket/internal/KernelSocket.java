package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
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
import org.divert4j.packet.FragmentSink;
import org.divert4j.packet.Fragmenter;
import org.divert4j.packet.Ipv4View;
import org.divert4j.spi.BatchAccess;

/**
 * A divert socket on the kernel backend: one NFQUEUE queue (queue number = divert port) for
 * receiving and verdicts, and the host's raw socket for new packets.
 *
 * <p>Receiving decodes packet messages straight from the channel's receive buffers into the
 * caller's buffer or batch, and records each packet in the {@link TicketRing}; nothing is allocated
 * per packet on the batch path. Writing a held packet back is a verdict: NF_REPEAT with the "resume
 * after this rule" mark ({@link Marks}), with the packet as payload only when it changed or needs
 * an IP ID (S39); a run of unchanged packets that are the oldest held becomes one
 * NFQNL_MSG_VERDICT_BATCH, and all verdicts of a batch go out in one system call.
 *
 * <p>Locks, always taken in this order: {@code rxLock} (receive state), {@code txLock} (verdict
 * buffer, scratch buffer), {@code ringLock} (the ticket ring).
 */
public final class KernelSocket implements DivertSocket {
  private static final AtomicLong SERIALS = new AtomicLong();
  private static final long SEQ_MASK = (1L << 40) - 1;
  private static final long NOW = 0;
  private static final long FOREVER = -1;
  private static final BatchAccess BA = BatchAccess.get();
  private static final Chain[] CHAINS = Chain.values();

  private final KernelHost host;
  private final int port;
  private final long serial;
  private final NfqChannel ch;
  private final TicketRing ring;
  private final boolean perFragment;
  private final long holdNanos;
  private final ReentrantLock rxLock = new ReentrantLock();
  private final ReentrantLock txLock = new ReentrantLock();
  private final ReentrantLock ringLock = new ReentrantLock();
  private final NfqCodec.Packet pkt = new NfqCodec.Packet();
  private final ByteBuffer scratch = Native.allocate(65536 + 64);
  private final long scratchAddr = Native.address(scratch);
  private final Ipv4View rxView = new Ipv4View();
  private final Ipv4View txView = new Ipv4View();
  private final Fragmenter rxFragmenter = new Fragmenter(true);
  private final Fragmenter txFragmenter = new Fragmenter(true);
  private final FragmentSink splitSink = this::keepFragment;
  private final FragmentSink sendSink = this::sendFragment;
  private ByteBuffer rxDup;
  private ByteBuffer rxDupOf;
  private ByteBuffer jumbo;
  private ByteBuffer srcBuf;
  private int srcOff;
  private int srcLen;
  private ByteBuffer splitBuf;
  private int[] splitOff = new int[64];
  private int[] splitLen = new int[64];
  private int splitCount;
  private int splitUsed;
  private int sendDst;
  private int sendMark;
  private final int[] runIds = new int[1024];

  // receive state (rxLock)
  private boolean have;
  private Chain curChain;
  private int curTag;
  private int splitIdx = -1;

  // transmit state (txLock)
  private int txLen;
  private int runCount;
  private long runFirstSeq;
  private long runLastSeq;
  private int runVerdict;
  private int runMark;
  private boolean runSetMark;

  // counters: written under the lock of their side, read racily by stats()
  private long received;
  private long receivedBytes;
  private long kernelMessages;
  private long reinjected;
  private long injected;
  private long sentBytes;
  private final java.util.concurrent.atomic.AtomicLongArray drops =
      new java.util.concurrent.atomic.AtomicLongArray(DropReason.values().length);
  private long bQueuedAtBind = -1;

  private volatile boolean closed;
  private volatile SocketStats finalStats;
  private final java.util.concurrent.CountDownLatch closeDone =
      new java.util.concurrent.CountDownLatch(1);

  KernelSocket(KernelHost host, int port, NfqChannel ch) {
    this.host = host;
    this.port = port;
    this.serial = SERIALS.incrementAndGet() & ((1L << 23) - 1);
    this.ch = ch;
    int qlen = host.options().queueLength();
    this.ring = new TicketRing(qlen, Math.max(qlen, 128));
    this.perFragment = host.options().fragments() == FragmentMode.PER_FRAGMENT;
    Duration hold = host.options().holdTimeout();
    this.holdNanos = hold.isZero() ? 0 : hold.toNanos();
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
   * Waits until a packet is decoded and ready to deliver ({@code have}), rxLock held.
   *
   * @param deadline NOW (only what is immediately available), FOREVER, or a System.nanoTime
   * @param mayFetch whether to receive from the kernel when nothing is buffered
   */
  private boolean await(long deadline, boolean mayFetch) throws DivertException {
    while (true) {
      if (closed) {
        throw closedException();
      }
      if (have) {
        return true;
      }
      if (ch.next(pkt)) {
        kernelMessages++;
        if (accept()) {
          have = true;
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
        got = ch.fetch(ms);
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
  private boolean accept() throws DivertException {
    ByteBuffer rx = ch.rxBuffer();
    Chain c = chainOf(pkt.hook);
    if (c == null || pkt.payloadLength < 20) {
      verdictNow(pkt.id, NfqCodec.NF_ACCEPT);
      return false;
    }
    srcBuf = rx;
    srcOff = pkt.payloadOffset;
    srcLen = pkt.payloadLength;
    if (pkt.truncated()) {
      // nla_len is 16 bits: NFQUEUE hands over at most 65531 bytes (NFQNL_MAX_COPY_RANGE); the
      // tap has the tail of packets that came in through an interface (S8)
      JumboTap tap = host.jumboTap();
      if (c == Chain.OUTPUT
          || tap == null
          || !tap.complete(rx, pkt.payloadOffset, pkt.payloadLength, pkt.capturedLength, jumbo())) {
        verdictNow(pkt.id, NfqCodec.NF_DROP);
        drops.incrementAndGet(DropReason.NO_BUFFER.ordinal());
        return false;
      }
      srcBuf = jumbo;
      srcOff = 0;
      srcLen = pkt.capturedLength;
    }
    curChain = c;
    curTag = Marks.tagOf(pkt.mark, c);
    splitIdx = -1;
    if (perFragment && c == Chain.OUTPUT && pkt.outIndex > 0) {
      int off = srcOff;
      int len = srcLen;
      int mtu = host.ifaces().knowing(pkt.outIndex).mtu(pkt.outIndex);
      Ipv4View v = rxView.wrap(srcBuf, off, len);
      if (mtu >= Fragmenter.MIN_MTU && len > mtu && !v.dontFragment()) {
        // S19: POSTROUTING runs before ip_fragment, so NFQUEUE sees the whole datagram; cut it
        // here as ip_fragment would and deliver the fragments. The kernel's copy goes.
        if (v.identification() == 0) {
          v.setIdentification(host.nextId()); // one ID for all fragments
        }
        if (rxDup == null || rxDupOf != srcBuf) {
          rxDup = srcBuf.duplicate();
          rxDupOf = srcBuf;
        }
        rxDup.limit(off + len).position(off);
        splitCount = 0;
        splitUsed = 0;
        try {
          rxFragmenter.fragment(rxDup, mtu, splitSink);
          splitIdx = 0;
        } catch (DivertException e) {
          splitIdx = -1; // not fragmentable after all: deliver it whole
        } finally {
          rxDup.clear();
        }
        if (splitIdx == 0) {
          verdictNow(pkt.id, NfqCodec.NF_DROP);
        }
      }
    }
    return true;
  }

  /** Keeps one fragment of a datagram cut for S19 (receive path). */
  private void keepFragment(ByteBuffer f) {
    int len = f.remaining();
    if (splitBuf == null || splitUsed + len > splitBuf.capacity()) {
      // grows once to the largest need seen (a 65535-byte datagram at MTU 68 makes 8190 headers)
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

  private ByteBuffer jumbo() {
    if (jumbo == null) {
      jumbo = Native.allocate(65536);
    }
    return jumbo;
  }

  private int currentLength() {
    return splitIdx < 0 ? srcLen : splitLen[splitIdx];
  }

  /**
   * Copies the current packet to {@code dst} at {@code at}, records its ticket and moves on.
   *
   * @return the ticket, or 0 if the packet could not be held (counted, skipped)
   */
  private long deliver(ByteBuffer dst, int at) throws DivertException {
    ByteBuffer rx = srcBuf;
    int off = srcOff;
    long deadline = holdNanos == 0 ? Long.MAX_VALUE : System.nanoTime() + holdNanos;
    long s;
    int len;
    if (splitIdx < 0) {
      len = srcLen;
      int flags = rx.getShort(off + 4) == 0 ? TicketRing.F_ID_ZERO : 0;
      long h = Ip4.hash(rx, off, len);
      ringLock.lock();
      try {
        s =
            ring.add(
                TicketRing.KERNEL,
                pkt.id,
                curChain.ordinal(),
                flags,
                pkt.mark,
                len,
                pkt.outIndex,
                curTag,
                h,
                deadline);
      } finally {
        ringLock.unlock();
      }
      have = false;
      if (s == 0) {
        verdictNow(pkt.id, NfqCodec.NF_DROP);
        drops.incrementAndGet(DropReason.QUEUE_FULL.ordinal());
        return 0;
      }
      dst.put(at, rx, off, len);
    } else {
      len = splitLen[splitIdx];
      ringLock.lock();
      try {
        s =
            ring.add(
                TicketRing.SYNTHETIC,
                0,
                curChain.ordinal(),
                0,
                pkt.mark,
                len,
                pkt.outIndex,
                curTag,
                0,
                deadline);
      } finally {
        ringLock.unlock();
      }
      dst.put(at, splitBuf, splitOff[splitIdx], len);
      if (++splitIdx == splitCount) {
        have = false;
        splitIdx = -1;
      }
      if (s == 0) {
        drops.incrementAndGet(DropReason.QUEUE_FULL.ordinal());
        return 0;
      }
    }
    received++;
    receivedBytes += len;
    return (serial << 40) | s;
  }

  private long deadlineOf(Duration timeout) {
    if (timeout == null) {
      return FOREVER;
    }
    if (timeout.isZero() || timeout.isNegative()) {
      return NOW;
    }
    long d = System.nanoTime() + timeout.toNanos();
    return d == NOW || d == FOREVER ? d + 1 : d;
  }

  private boolean lockRx(long deadline) throws DivertException {
    if (closed) {
      throw closedException();
    }
    try {
      if (deadline == FOREVER) {
        rxLock.lock();
        return true;
      }
      long wait = deadline == NOW ? 0 : deadline - System.nanoTime();
      return rxLock.tryLock(Math.max(0, wait), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DivertException("interrupted while waiting to receive on port " + port);
    }
  }

  @Override
  public DivertAddress receive(ByteBuffer dst) throws DivertException {
    return receive(dst, null);
  }

  @Override
  public DivertAddress receive(ByteBuffer dst, Duration timeout) throws DivertException {
    Objects.requireNonNull(dst, "dst");
    long deadline = deadlineOf(timeout);
    if (!lockRx(deadline)) {
      return null;
    }
    try {
      while (true) {
        if (!await(deadline, true)) {
          return null;
        }
        int len = currentLength();
        if (dst.remaining() < len) {
          throw new BufferTooSmallException(len, dst.remaining());
        }
        Chain c = curChain;
        int tag = curTag;
        int in = pkt.inIndex;
        int pos = dst.position();
        long ticket = deliver(dst, pos);
        if (ticket == 0) {
          continue;
        }
        dst.position(pos + len);
        if (c.direction() == Direction.INBOUND) {
          Interfaces.Snapshot snap = host.ifaces().knowing(in);
          return DivertAddress.received(
              port, c, snap.name(in), in, snap.firstAddress(in), tag, ticket);
        }
        return DivertAddress.received(port, c, "", 0, 0, tag, ticket);
      }
    } finally {
      rxLock.unlock();
    }
  }

  @Override
  public int receive(PacketBatch batch, Duration timeout) throws DivertException {
    Objects.requireNonNull(batch, "batch");
    BA.clearForReceive(batch);
    long deadline = deadlineOf(timeout);
    if (!lockRx(deadline)) {
      return 0;
    }
    int n = 0;
    try {
      int cap = batch.capacity();
      while (n < cap) {
        boolean ok = n == 0 ? await(deadline, true) : await(NOW, !ch.hasPending() && ch.lastFull());
        if (!ok) {
          if (n == 0
              && deadline != NOW
              && (deadline == FOREVER || deadline - System.nanoTime() > 0)) {
            continue;
          }
          break;
        }
        int len = currentLength();
        ByteBuffer slot = BA.slot(batch, n);
        if (slot.capacity() < len) {
          if (n == 0) {
            throw new BufferTooSmallException(len, slot.capacity());
          }
          break;
        }
        Chain c = curChain;
        int tag = curTag;
        int in = pkt.inIndex;
        long ticket = deliver(slot, 0);
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
      rxLock.unlock();
    }
    return n;
  }

  // ---------------------------------------------------------------- send

  /** Writes a verdict at once (receive path): takes txLock. */
  private void verdictNow(int id, int verdict) throws DivertException {
    txLock.lock();
    try {
      if (closed) {
        return;
      }
      flushRun();
      ensureRoom(NfqCodec.VERDICT_SIZE);
      ByteBuffer tx = ch.txBuffer();
      int p = NfqCodec.verdict(tx, txLen, false, ch.queue(), verdict, id, false, 0);
      txLen = NfqCodec.end(tx, txLen, p);
      flushTx();
    } finally {
      txLock.unlock();
    }
  }

  private void ensureRoom(int bytes) throws DivertException {
    if (txLen + bytes + 64 > NfqChannel.TX_SIZE) {
      flushTx();
    }
  }

  private void flushTx() throws DivertException {
    int len = txLen;
    txLen = 0;
    try {
      ch.flush(len);
    } catch (ErrnoException e) {
      if (closed) {
        throw closedException();
      }
      throw Errors.generic("verdict on divert port " + port, e);
    }
  }

  /** Emits the pending run of same-verdict, unchanged reinjections/drops (txLock held). */
  private void flushRun() {
    if (runCount == 0) {
      return;
    }
    ByteBuffer tx = ch.txBuffer();
    boolean batchOk;
    ringLock.lock();
    try {
      batchOk = runCount >= 2 && ring.noKernelEntryBefore(runFirstSeq, 4096);
    } finally {
      ringLock.unlock();
    }
    if (batchOk) {
      int p =
          NfqCodec.verdict(
              tx, txLen, true, ch.queue(), runVerdict, runIds[runCount - 1], runSetMark, runMark);
      txLen = NfqCodec.end(tx, txLen, p);
    } else {
      for (int i = 0; i < runCount; i++) {
        if (txLen + NfqCodec.VERDICT_SIZE + NfqCodec.MARK_SIZE + 64 > NfqChannel.TX_SIZE) {
          int len = txLen;
          txLen = 0;
          try {
            ch.flush(len);
          } catch (ErrnoException e) {
            // the kernel refused the datagram as a whole; the run is lost with it (counted)
            drops.addAndGet(DropReason.NO_BUFFER.ordinal(), runCount - i);
            runCount = 0;
            return;
          }
        }
        int p =
            NfqCodec.verdict(
                tx, txLen, false, ch.queue(), runVerdict, runIds[i], runSetMark, runMark);
        txLen = NfqCodec.end(tx, txLen, p);
      }
    }
    runCount = 0;
  }

  private void addToRun(long seq, int id, int verdict, boolean setMark, int mark) {
    if (runCount > 0
        && (runCount == runIds.length
            || seq != runLastSeq + 1
            || verdict != runVerdict
            || setMark != runSetMark
            || mark != runMark)) {
      flushRun();
    }
    if (runCount == 0) {
      runFirstSeq = seq;
      runVerdict = verdict;
      runSetMark = setMark;
      runMark = mark;
    }
    runIds[runCount++] = id;
    runLastSeq = seq;
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
      sendLoaded(len, address.ticket(), address);
      flushRun();
      flushTx();
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
          DivertAddress given = BA.given(batch, i);
          sendLoaded(len, ticket, given != null ? given : null, batch, i);
          sent++;
        } catch (DivertClosedException e) {
          throw e;
        } catch (DivertException e) {
          BA.setError(batch, i, e);
        }
      }
      flushRun();
      flushTx();
    } finally {
      txLock.unlock();
    }
    return sent;
  }

  private void sendLoaded(int len, long ticket, DivertAddress address) throws DivertException {
    sendLoaded(len, ticket, address, null, -1);
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
    ByteBuffer tx = ch.txBuffer();
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
      addToRun(seq, id, NfqCodec.NF_DROP, false, 0);
      Ipv4View v = txView.wrap(scratch, 0, len);
      Ip4.fixUp(v, host.nextId());
      flushRun();
      flushTx();
      rawSend(len, v.destination(), m, false);
      reinjected++;
      sentBytes += len;
      return;
    }
    removeSlot(slot);
    if (!changed) {
      addToRun(seq, id, verdict, tag != 0, mark);
    } else {
      flushRun();
      ensureRoom(NfqCodec.VERDICT_SIZE + NfqCodec.MARK_SIZE + 4 + len);
      int p = NfqCodec.verdict(tx, txLen, false, ch.queue(), verdict, id, tag != 0, mark);
      int data = NfqCodec.payloadHeader(tx, p, len);
      tx.put(data, scratch, 0, len);
      // nfqnl_mangle copies the payload as is: the section-H fix-ups are ours (S38-S40)
      Ip4.fixUp(txView.wrap(tx, data, len), host.nextId());
      txLen = NfqCodec.end(tx, txLen, data + len);
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
    flushRun();
    flushTx();
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
    flushRun();
    flushTx();
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

  private void dropTicket(long ticket) throws DivertException {
    int slot = ticketSlot(ticket);
    if (slot < 0) {
      return;
    }
    if (ring.kind(slot) == TicketRing.KERNEL) {
      long seq = ring.seq(slot);
      int id = ring.kernelId(slot);
      removeSlot(slot);
      addToRun(seq, id, NfqCodec.NF_DROP, false, 0);
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
      flushRun();
      flushTx();
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
                if (txLen + NfqCodec.VERDICT_SIZE + 64 > NfqChannel.TX_SIZE) {
                  int len = txLen;
                  txLen = 0;
                  try {
                    ch.flush(len);
                  } catch (ErrnoException e) {
                    // lost with the datagram; the kernel drops what is left when the socket closes
                  }
                }
                ByteBuffer tx = ch.txBuffer();
                int p =
                    NfqCodec.verdict(
                        tx, txLen, false, ch.queue(), NfqCodec.NF_DROP, r.kernelId(slot), false, 0);
                txLen = NfqCodec.end(tx, txLen, p);
              }
            });
      } finally {
        ringLock.unlock();
      }
      flushRun();
      try {
        flushTx();
      } catch (DivertException e) {
        // counted as expired either way; the kernel drops what is left when the socket closes
      }
    } finally {
      txLock.unlock();
    }
  }

  // ---------------------------------------------------------------- stats and close

  @Override
  public SocketStats stats() {
    SocketStats f = finalStats;
    if (f != null) {
      return f;
    }
    return snapshot(
        host.queueCounters(port), host.options().failOpen() ? host.queuedPackets(port) : -1);
  }

  private SocketStats snapshot(long[] proc, long queuedNow) {
    long[] d = new long[drops.length()];
    for (int i = 0; i < d.length; i++) {
      d[i] = drops.get(i);
    }
    long heldKernel;
    ringLock.lock();
    try {
      heldKernel = ring.size() - ring.syntheticSize();
    } finally {
      ringLock.unlock();
    }
    long held = heldKernel + ring.syntheticSize();
    long failOpen = 0;
    if (proc != null) {
      // /proc/net/netfilter/nfnetlink_queue: queue_total, queue_dropped, user_dropped
      d[DropReason.QUEUE_FULL.ordinal()] += proc[1];
      d[DropReason.NO_BUFFER.ordinal()] += Math.max(proc[2], ch.enobufs());
      if (queuedNow >= 0 && bQueuedAtBind >= 0) {
        long inFlight = Math.max(0, proc[0] - heldKernel);
        failOpen =
            Math.max(0, queuedNow - bQueuedAtBind - kernelMessages - inFlight - proc[1] - proc[2]);
      }
    } else {
      d[DropReason.NO_BUFFER.ordinal()] += ch.enobufs();
    }
    return new SocketStats(
        received, receivedBytes, reinjected, injected, sentBytes, failOpen, held, d);
  }

  @Override
  public boolean isOpen() {
    return !closed;
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    long[] proc = host.queueCounters(port);
    long queuedNow = host.options().failOpen() ? host.queuedPackets(port) : -1;
    closed = true;
    ch.shutdown();
    rxLock.lock();
    txLock.lock();
    try {
      SocketStats s = snapshot(proc, queuedNow);
      long[] d = new long[DropReason.values().length];
      for (DropReason r : DropReason.values()) {
        d[r.ordinal()] = s.dropped(r);
      }
      // everything the kernel still held (delivered or not) plus our own fragments is dropped (S14)
      long lost = (proc != null ? proc[0] : s.held()) + ring.syntheticSize();
      d[DropReason.CLOSED.ordinal()] += lost;
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
      ch.close();
    } finally {
      txLock.unlock();
      rxLock.unlock();
    }
    host.socketClosed(this);
    closeDone.countDown();
  }

  /** Waits until a close started by another thread has released the queue (at most 5 s). */
  void awaitClosed() {
    try {
      closeDone.await(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  NfqChannel channel() {
    return ch;
  }

  @Override
  public String toString() {
    return "divert socket port " + port + " on " + host.name();
  }
}
