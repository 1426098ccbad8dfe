package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.divert4j.DivertAddress;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.PacketBatch;
import org.divert4j.SocketStats;
import org.divert4j.linux.ErrnoException;
import org.divert4j.spi.BatchAccess;
import org.divert4j.spi.SendDirection;

/**
 * A divert socket on the kernel backend: NFQUEUE queues for receiving and verdicts (queue number =
 * divert port; with {@code parallelism(n)} the queues port..port+n-1, which the rules spread
 * packets over with {@code --queue-balance}, each a {@link Lane}), and the host's raw socket for
 * new packets. A facade over the packet's path: {@link Receiver} (receive and deliver), {@link
 * WriteBack} (verdicts for held packets), {@link Injector} (raw sends and the MTU rules), {@link
 * Verdicts} (the send lock and the lanes' verdict buffers), {@link Tickets} (held packets) and
 * {@link SocketLedger} (statistics).
 *
 * <p>Locks, always in this order: a lane's receive lock, the send lock ({@link Verdicts#lock()}),
 * the ticket lock.
 */
public final class KernelSocket implements DivertSocket {
  private static final BatchAccess BA = BatchAccess.get();

  private final DivertHost host;
  private final String hostName;
  private final int port;
  private final HostOptions options;
  private final SocketServices services;
  private final Lane[] lanes;
  private final SocketState state;
  private final Tickets tickets;
  private final SocketLedger ledger = new SocketLedger();
  private final QueueLineCounter queueLines = new QueueLineCounter();
  private final QueueLossEstimator losses;
  private final Verdicts verdicts;
  private final Receiver receiver;
  private final SendBuffer out = new SendBuffer();
  private final Injector injector;
  private final WriteBack writeBack;
  private final AtomicBoolean closeStarted = new AtomicBoolean();
  private final CountDownLatch closeDone = new CountDownLatch(1);
  private volatile SocketStats finalStats;

  KernelSocket(
      DivertHost host,
      int port,
      NfqChannel[] channels,
      HostOptions options,
      SocketServices services) {
    this.host = host;
    this.hostName = host.name();
    this.port = port;
    this.options = options;
    this.services = services;
    this.state = new SocketState(port);
    int qlen = options.queueLength();
    this.tickets = new Tickets(qlen * channels.length, Math.max(qlen, 128));
    this.lanes = new Lane[channels.length];
    this.losses = new QueueLossEstimator(channels.length);
    for (int i = 0; i < channels.length; i++) {
      lanes[i] = new Lane(i, channels[i], tickets, ledger);
    }
    boolean perFragment = options.fragments() == FragmentMode.PER_FRAGMENT;
    this.verdicts = new Verdicts(lanes, state);
    this.receiver =
        new Receiver(
            lanes,
            state,
            tickets,
            verdicts,
            ledger,
            services.ifaces(),
            services.jumboTap(),
            services.ids(),
            services.marks(),
            perFragment,
            options.holdTimeout());
    this.injector =
        new Injector(
            port,
            out,
            services.raw(),
            services.ifaces(),
            ledger,
            verdicts,
            services.ids(),
            services.marks(),
            perFragment,
            services.ingress());
    this.writeBack =
        new WriteBack(
            lanes, state, tickets, out, injector, ledger, services.ids(), services.marks());
  }

  /**
   * @param packets the port's queue lines' packet count at bind (fail-open arithmetic)
   */
  void setQueuedBaseline(long packets) {
    ledger.queuedAtBind(packets);
  }

  /**
   * Called once the port's chains are armed: when the kernel's queue counters cannot be read (a
   * service user, {@link NamespaceCounters}), starts deriving the socket's losses inside NFQUEUE
   * from its queue lines' counters and the packet ids ({@link QueueLossEstimator}).
   */
  void armed() {
    if (procCounters() == null) {
      losses.armed(queueLines.total(services.arming().queueLines(port)));
    }
  }

  /**
   * One observation for {@link QueueLossEstimator}: the queue lines' counter first, then, if every
   * lane's receive lock is free and no lane has an error waiting, the ids seen and at most how many
   * packets wait unread. Otherwise nothing is observed this time (the published losses stay).
   */
  private void observeLosses() {
    long counter = queueLines.total(services.arming().queueLines(port));
    if (counter < 0) {
      return;
    }
    int locked = 0;
    try {
      long[] issued = new long[lanes.length];
      long[] missed = new long[lanes.length];
      long[] enobufs = new long[lanes.length];
      boolean idle = true;
      for (Lane l : lanes) {
        if (!l.rxLock.tryLock()) {
          return;
        }
        locked++;
        int b = l.backlog.check();
        if (b == LaneBacklog.ERROR) {
          return;
        }
        idle &= b == LaneBacklog.IDLE;
        issued[l.index] = l.ids.issued();
        missed[l.index] = l.ids.missed();
        enobufs[l.index] = l.ch.enobufs();
      }
      // read after the locks: the packets held only fall while no lane receives, so this bound
      // of the queue's unread entries (queue_total <= queue_maxlen) can only be too high
      long unread = Math.max(0, (long) options.queueLength() * lanes.length - tickets.sizes()[0]);
      losses.observe(counter, issued, missed, enobufs, idle, unread);
    } finally {
      for (int k = 0; k < locked; k++) {
        lanes[k].rxLock.unlock();
      }
    }
  }

  @Override
  public int port() {
    return port;
  }

  @Override
  public DivertHost host() {
    return host;
  }

  // ---------------------------------------------------------------- receive

  @Override
  public DivertAddress receive(ByteBuffer dst) throws DivertException {
    return receive(dst, null);
  }

  @Override
  public DivertAddress receive(ByteBuffer dst, Duration timeout) throws DivertException {
    Objects.requireNonNull(dst, "dst");
    return receiver.receive(dst, timeout);
  }

  @Override
  public int receive(PacketBatch batch, Duration timeout) throws DivertException {
    Objects.requireNonNull(batch, "batch");
    return receiver.receive(batch, timeout);
  }

  // ---------------------------------------------------------------- send

  @Override
  public void send(ByteBuffer packet, DivertAddress address) throws DivertException {
    Objects.requireNonNull(packet, "packet");
    Objects.requireNonNull(address, "address");
    verdicts.lock().lock();
    try {
      state.checkOpen();
      int len = out.load(packet, packet.position(), packet.remaining());
      int slot = tickets.find(address.ticket());
      if (slot >= 0) {
        writeBack.reinject(slot, len, tickets.ring().mark(slot));
      } else {
        injector.inject(
            len, SendDirection.inboundAddress(address), SendDirection.inboundAddress6(address), 0);
      }
      verdicts.flushAll();
      packet.position(packet.limit());
    } finally {
      verdicts.lock().unlock();
    }
  }

  @Override
  public int send(PacketBatch batch) throws DivertException {
    Objects.requireNonNull(batch, "batch");
    verdicts.lock().lock();
    int sent = 0;
    try {
      state.checkOpen();
      int n = batch.size();
      for (int i = 0; i < n; i++) {
        BA.setError(batch, i, null);
        long ticket = batch.ticket(i);
        if (batch.isDropped(i)) {
          writeBack.drop(ticket);
          continue;
        }
        ByteBuffer slot = BA.slot(batch, i);
        try {
          int len = out.load(slot, 0, slot.limit());
          int held = tickets.find(ticket);
          if (held >= 0) {
            writeBack.reinject(held, len, batch.mark(i));
          } else {
            // the direction is looked up only for new packets: a held one keeps its own (S35)
            injector.inject(
                len,
                SendDirection.inboundAddress(batch, i),
                SendDirection.inboundAddress6(batch, i),
                batch.mark(i));
          }
          sent++;
        } catch (DivertClosedException e) {
          throw e;
        } catch (DivertException e) {
          BA.setError(batch, i, e);
        }
      }
      verdicts.flushAll();
    } finally {
      verdicts.lock().unlock();
    }
    return sent;
  }

  @Override
  public void drop(DivertAddress address) throws DivertException {
    Objects.requireNonNull(address, "address");
    verdicts.lock().lock();
    try {
      state.checkOpen();
      writeBack.drop(address.ticket());
      verdicts.flushAll();
    } finally {
      verdicts.lock().unlock();
    }
  }

  /** Drops held packets whose hold time is over (called by the host's reaper thread). */
  void expire() {
    if (options.holdTimeout().isZero() || state.closed() || !verdicts.lock().tryLock()) {
      return;
    }
    try {
      if (state.closed()) {
        return;
      }
      tickets.expire(
          System.nanoTime(),
          (r, slot) -> {
            ledger.drop(DropReason.HOLD_EXPIRED);
            if (r.kind(slot) == TicketRing.KERNEL) {
              try {
                lanes[r.lane(slot)].verdicts.append(r.kernelId(slot), NfqCodec.NF_DROP, false, 0);
              } catch (ErrnoException e) {
                // lost with the datagram; the kernel drops what is left when the socket closes
              }
            }
          });
      try {
        verdicts.flushAll();
      } catch (DivertException e) {
        // counted as expired either way; the kernel drops what is left when the socket closes
      }
    } finally {
      verdicts.lock().unlock();
    }
  }

  // ---------------------------------------------------------------- stats and close

  /** The /proc counters summed over the socket's queues, or null if unknown. */
  private long[] procCounters() {
    long[] sum = null;
    for (Lane l : lanes) {
      long[] c = services.proc().queueCounters(l.ch.queue());
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

  private long queuedNow() {
    return options.failOpen() ? services.arming().queuedPackets(port) : -1;
  }

  private SocketStats snapshot(long[] proc, long queuedNow) {
    long enobufs = 0;
    long messages = 0;
    for (Lane l : lanes) {
      enobufs += l.ch.enobufs();
      messages += l.kernelMessages;
    }
    long[] derived = null;
    if (proc == null && losses.active()) {
      long missed = 0;
      for (Lane l : lanes) {
        missed += l.ids.missed();
      }
      derived = new long[2];
      losses.losses(missed, derived);
    }
    return ledger.stats(
        proc, queuedNow, tickets.sizes(), enobufs, messages, derived, options.failOpen());
  }

  @Override
  public SocketStats stats() {
    SocketStats f = finalStats;
    if (f != null) {
      return f;
    }
    long[] proc = procCounters();
    if (proc == null && losses.active() && !state.closed()) {
      observeLosses();
    }
    return snapshot(proc, queuedNow());
  }

  @Override
  public boolean isOpen() {
    return !state.closed();
  }

  @Override
  public void close() {
    if (!closeStarted.compareAndSet(false, true)) {
      awaitClosed(); // another thread is closing: return when it has finished
      return;
    }
    if (losses.active()) {
      // the last chance while the chains still send to the queues and the lanes are as the
      // program left them (a receiver still running elsewhere makes it skip)
      observeLosses();
    }
    state.markClosed();
    for (Lane l : lanes) {
      l.ch.shutdown();
    }
    for (Lane l : lanes) {
      l.rxLock.lock(); // the woken receivers have left: nothing more is delivered
    }
    try {
      // From here on new packets meet the no-listener behaviour, counted by the host as such,
      // instead of a queue about to be destroyed, where the kernel would drop them uncounted.
      long noListenerBefore = services.arming().disarm(port, lanes.length);
      // The socket's counters stop here. With DROP, the no-listener line queues to our (still
      // bound) queue numbers until they close: what it sends there is the host's (NO_LISTENER).
      long[] atDisarm = procCounters();
      long queuedNow = queuedNow();
      verdicts.lock().lock();
      try {
        // Under the send lock: a send in progress has given its verdicts, later ones fail. The
        // no-listener counter first: it takes an iptables-save, the queue's line a read of /proc,
        // so packets arriving between the two are counted by both (at most a few milliseconds'
        // worth, rather than lost from both).
        long noListenerAfter = noListenerBefore < 0 ? -1 : services.arming().noListenerDrops(port);
        long[] atClose = procCounters();
        SocketStats s = snapshot(atDisarm, queuedNow);
        finalStats =
            SocketLedger.closed(
                s, atDisarm, atClose, noListenerBefore, noListenerAfter, tickets.sizes()[1]);
        for (Lane l : lanes) {
          l.ch.close();
        }
      } finally {
        verdicts.lock().unlock();
      }
    } finally {
      for (Lane l : lanes) {
        l.rxLock.unlock();
      }
    }
    services.arming().closed(this);
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
    return "divert socket port " + port + " on " + hostName;
  }
}
