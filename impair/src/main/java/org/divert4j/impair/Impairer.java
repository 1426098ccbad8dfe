package org.divert4j.impair;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import org.divert4j.DivertAddress;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DivertSocket;
import org.divert4j.InstalledRule;
import org.divert4j.PacketBatch;

/**
 * A network-condition emulator on a divert socket, like WinDivert's clumsy or Linux {@code tc
 * netem}: it adds DIVERT rules, binds their port, and applies each rule's {@link Impairment} to the
 * packets the rule diverts (delay with jitter, random or Gilbert-Elliott loss, duplication,
 * reordering, a token-bucket rate limit, corruption). Packets it delays are copied into a store
 * allocated up front and written back, with the address they came with, when they are due;
 * duplicates leave as a second send of that address, which the API turns into an injection (see
 * {@link DivertAddress}). Works on every backend: it uses the public API only.
 *
 * <pre>{@code
 * try (Impairer imp = Impairer.builder(host, 77)
 *         .rule(DivertRule.parse("input udp dport 9000", 77),
 *               Impairment.builder().delay(Duration.ofMillis(20)).loss(0.1).build())
 *         .seed(1)
 *         .start()) {
 *   imp.run(); // until stop() from another thread
 * }
 * }</pre>
 *
 * <p><b>Reproducible.</b> Every random decision comes from streams seeded by {@link
 * ImpairerBuilder#seed(long)}, per rule and per stage, in the order packets arrive: one seed and
 * one arrival sequence give the same decisions. With a {@link ManualClock} on a virtual-time test
 * bed, driven by {@link #step(Duration)} from the test's thread, the outcome is exact.
 *
 * <p><b>Threads.</b> One thread drives the impairer: {@link #run()} or repeated {@link
 * #step(Duration)}, then {@link #close()}. Only {@link #stop()} and {@link #stats()} may be called
 * from other threads ({@link #stats()} may then lag by a packet or so).
 *
 * <p><b>Hot path.</b> Receiving, deciding, holding and writing back allocate no packet buffers; the
 * only object per delayed packet is the {@link DivertAddress} the batch hands out for it ({@link
 * PacketBatch#address(int)}), which a later send needs. Packets that all leave at once (no delay
 * this batch) are written back from the receive batch itself, without a copy or an address.
 *
 * <p><b>Errors.</b> A packet whose write-back fails is counted in {@link ImpairStats#sendErrors()};
 * the impairer goes on. Held packets count against the host's {@link
 * org.divert4j.HostOptions#queueLength()} and must be written back within its {@link
 * org.divert4j.HostOptions#holdTimeout()}: open the host with room for both (see {@link
 * #requiredHoldTimeout}).
 */
public final class Impairer implements AutoCloseable {
  private static final Duration POLL = Duration.ofMillis(100);
  private static final long MILLI = 1_000_000L;
  private static final Duration[] WAITS = new Duration[101];

  static {
    for (int i = 0; i < WAITS.length; i++) {
      WAITS[i] = Duration.ofMillis(i);
    }
  }

  private static final byte PASS = 0;
  private static final byte HOLD = 1;
  private static final byte LOST = 2;
  private static final byte RATE = 3;

  private final DivertSocket socket;
  private final List<InstalledRule> installed;
  private final int[] ruleIds;
  private final RuleState[] states;
  private final RuleState passThrough;
  private final ImpairClock clock;
  private final HeldPackets held;
  private final PacketBatch rx;
  private final PacketBatch out;
  private final byte[] fate;
  private final long[] dueAt;
  private final long[] copyDue;
  private final boolean[] copy;
  private volatile boolean stopping;
  private boolean closed;
  private long overshoot;

  private volatile long received;
  private volatile long lost;
  private volatile long duplicated;
  private volatile long corrupted;
  private volatile long reordered;
  private volatile long delayed;
  private volatile long rateDropped;
  private volatile long overflowed;
  private volatile long oversize;
  private volatile long sent;
  private volatile long sendErrors;

  Impairer(ImpairerBuilder b, DivertSocket socket, List<InstalledRule> installed) {
    this.socket = socket;
    this.installed = installed;
    int n = b.rules.size();
    this.ruleIds = new int[n];
    this.states = new RuleState[n];
    for (int i = 0; i < n; i++) {
      ruleIds[i] = installed.get(i).id();
      states[i] = new RuleState(b.impairments.get(i), b.seed, i);
    }
    this.passThrough = new RuleState(Impairment.NONE, b.seed, n);
    this.clock = b.clock;
    this.held = new HeldPackets(b.capacity, b.maxPacket);
    this.rx = PacketBatch.allocate(b.batchSize);
    this.out = PacketBatch.allocate(b.batchSize, b.maxPacket, true);
    this.fate = new byte[b.batchSize];
    this.dueAt = new long[b.batchSize];
    this.copyDue = new long[b.batchSize];
    this.copy = new boolean[b.batchSize];
  }

  /**
   * @param host the host to impair on; it stays the caller's (closing the impairer removes only the
   *     rules it added and its socket)
   * @param port the divert port to bind; every rule must divert to it
   * @return a builder
   */
  public static ImpairerBuilder builder(DivertHost host, int port) {
    return new ImpairerBuilder(host, port);
  }

  /**
   * The hold timeout a host needs for these impairments: the longest hold plus a second.
   *
   * @param impairments the impairments
   * @return at least {@link org.divert4j.HostOptions#DEFAULT_HOLD_TIMEOUT}
   */
  public static Duration requiredHoldTimeout(List<Impairment> impairments) {
    long max = 0;
    for (Impairment m : impairments) {
      max = Math.max(max, m.maxHoldNanos());
    }
    Duration need = Duration.ofNanos(max).plusSeconds(1);
    Duration d = org.divert4j.HostOptions.DEFAULT_HOLD_TIMEOUT;
    return need.compareTo(d) > 0 ? need : d;
  }

  /**
   * @return the bound socket (for its statistics; do not receive from it)
   */
  public DivertSocket socket() {
    return socket;
  }

  /**
   * @return the rules this impairer added, in the order given to the builder
   */
  public List<InstalledRule> rules() {
    return installed;
  }

  /**
   * One round: writes back what is due, receives one batch (waiting at most {@code maxWait}, less
   * if a held packet falls due sooner), decides its fate, and writes back what is due then. With a
   * {@link ImpairClock#isManual() manual} clock it never waits for a held packet.
   *
   * @param maxWait the longest to wait for packets; zero polls
   * @return the number of packets received
   * @throws DivertClosedException if the socket or host was closed
   * @throws DivertException if the backend fails as a whole
   */
  public int step(Duration maxWait) throws DivertException {
    long now = clock.nanos();
    release(now);
    Duration wait = maxWait;
    boolean manual = clock.isManual();
    if (held.size() > 0) {
      // Block in receive only until a little before the next packet is due: a backend's receive
      // timeout may end late (the rawsocket backend's SO_RCVTIMEO counts in jiffies, so up to
      // 1/HZ: net/core/sock.c, sock_set_timeout), and the last stretch is slept with parkNanos.
      long block = held.nextDue() - now - overshoot;
      if (manual || block < MILLI) {
        wait = Duration.ZERO;
      } else if (block < maxWait.toNanos()) {
        wait = block >= 100 * MILLI ? POLL : WAITS[(int) (block / MILLI)];
      }
    }
    long before = manual ? 0 : System.nanoTime();
    int n = socket.receive(rx, wait);
    if (!manual && n == 0 && !wait.isZero()) {
      learnOvershoot(System.nanoTime() - before - wait.toNanos());
    }
    if (n == 0 && held.size() > 0 && !manual) {
      // Close to a due time: sleep in slices of at most a millisecond, so packets that arrive
      // meanwhile wait no longer than that.
      long left = held.nextDue() - clock.nanos();
      if (left > 0) {
        LockSupport.parkNanos(Math.min(left, MILLI));
      }
    }
    now = clock.nanos();
    if (n > 0) {
      process(n, now);
    }
    release(now);
    return n;
  }

  /** Tracks how late timed receives return: up at once, down slowly; at most 20 ms. */
  private void learnOvershoot(long late) {
    long l = Math.min(Math.max(late, 0), 20 * MILLI);
    overshoot = l > overshoot ? l : overshoot - ((overshoot - l) >> 4);
  }

  /**
   * Runs {@link #step(Duration)} until {@link #stop()}; held packets stay held (see {@link
   * #close()}).
   *
   * @throws DivertClosedException if the socket or host was closed by someone else
   * @throws DivertException if the backend fails
   */
  public void run() throws DivertException {
    while (!stopping) {
      step(POLL);
    }
  }

  /** Asks {@link #run()} to return within about 100 ms. Any thread. */
  public void stop() {
    stopping = true;
  }

  /**
   * @return the counters
   */
  public ImpairStats stats() {
    return new ImpairStats(
        received,
        lost,
        duplicated,
        corrupted,
        reordered,
        delayed,
        rateDropped,
        overflowed,
        oversize,
        sent,
        sendErrors,
        held.size());
  }

  private RuleState state(int ruleId) {
    for (int i = 0; i < ruleIds.length; i++) {
      if (ruleIds[i] == ruleId) {
        return states[i];
      }
    }
    return passThrough; // diverted to our port by a rule someone else added: left alone
  }

  private void process(int n, long now) throws DivertException {
    boolean holding = false;
    for (int i = 0; i < n; i++) {
      RuleState r = state(rx.ruleId(i));
      received++;
      copy[i] = false;
      ByteBuffer p = rx.packet(i);
      if (r.lose()) {
        fate[i] = LOST;
        lost++;
        continue;
      }
      boolean dup = r.duplicate();
      if (r.corrupt(p)) {
        corrupted++;
      }
      long departure = r.depart(now, p.remaining());
      if (departure == RuleState.RATE_DROP) {
        fate[i] = RATE;
        rateDropped++;
        continue;
      }
      long due = r.due(departure);
      if (r.reordered) {
        reordered++;
      }
      dueAt[i] = due;
      fate[i] = due - now > 0 ? HOLD : PASS;
      holding |= fate[i] == HOLD;
      if (dup) {
        duplicated++;
        copy[i] = true;
        copyDue[i] = r.due(departure);
        if (r.reordered) {
          reordered++;
        }
      }
    }
    if (holding) {
      holdBatch(n);
    } else {
      // Nothing waits: write the batch back as it is, the lost slots marked dropped.
      for (int i = 0; i < n; i++) {
        if (fate[i] == LOST || fate[i] == RATE) {
          rx.drop(i);
        }
      }
      socket.send(rx);
      for (int i = 0; i < n; i++) {
        if (!rx.isDropped(i)) {
          if (rx.error(i) != null) {
            sendErrors++;
          } else {
            sent++;
          }
        }
      }
    }
    for (int i = 0; i < n; i++) {
      if (copy[i]) {
        ByteBuffer p = rx.packet(i);
        // The original redeemed (or will redeem) the ticket; the same address sent again is an
        // injection in the same direction.
        if (!held.add(p, rx.address(i), copyDue[i])) {
          overflowed++;
        }
      }
    }
  }

  private void holdBatch(int n) throws DivertException {
    for (int i = 0; i < n; i++) {
      DivertAddress a = rx.address(i);
      if (fate[i] == LOST || fate[i] == RATE) {
        socket.drop(a);
        continue;
      }
      ByteBuffer p = rx.packet(i);
      if (held.add(p, a, dueAt[i])) {
        if (fate[i] == HOLD) {
          delayed++;
        }
      } else if (p.remaining() > held.slotSize()) {
        oversize++;
        sendOne(p, a);
      } else {
        overflowed++;
        socket.drop(a);
      }
    }
  }

  private void sendOne(ByteBuffer p, DivertAddress a) throws DivertException {
    try {
      socket.send(p, a);
      sent++;
    } catch (DivertClosedException e) {
      throw e;
    } catch (DivertException e) {
      sendErrors++;
    }
  }

  /** Writes back every held packet due by {@code now}, in due order, in batches. */
  private void release(long now) throws DivertException {
    while (held.size() > 0 && held.nextDue() - now <= 0) {
      int s = held.take();
      out.add(held.packet(s), held.address(s));
      held.release(s);
      if (out.size() == out.capacity()) {
        flush();
      }
    }
    flush();
  }

  private void flush() throws DivertException {
    if (out.size() == 0) {
      return;
    }
    socket.send(out);
    for (int i = 0; i < out.size(); i++) {
      if (out.error(i) != null) {
        sendErrors++;
      } else {
        sent++;
      }
    }
    out.clear();
  }

  /**
   * Writes back every held packet at once (they leave early rather than being lost), removes the
   * rules this impairer added and closes its socket. The host stays open. Call it from the thread
   * that drives the impairer, or after {@link #run()} returned. Idempotent; never throws.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    stopping = true;
    try {
      while (held.size() > 0) {
        int s = held.take();
        out.add(held.packet(s), held.address(s));
        held.release(s);
        if (out.size() == out.capacity()) {
          flush();
        }
      }
      flush();
    } catch (DivertException | RuntimeException e) {
      // The socket is gone (the host closed first): the host dropped what was held.
      while (held.size() > 0) {
        held.release(held.take());
      }
    }
    for (InstalledRule r : installed) {
      try {
        r.remove();
      } catch (DivertException | RuntimeException e) {
        // Closing on the way out; the host removes its rules when it closes.
      }
    }
    socket.close();
  }
}
