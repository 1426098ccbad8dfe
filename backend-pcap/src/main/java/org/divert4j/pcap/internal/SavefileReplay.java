package org.divert4j.pcap.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import org.divert4j.DivertException;
import org.divert4j.HostOptions;
import org.divert4j.NetInterface;
import org.divert4j.packet.Checksums;
import org.divert4j.packet.Ipv4View;

/**
 * A savefile replay: the packets of an input capture go through the engine as if they were on the
 * wire of one interface, {@code pcap0}, and what passes is written to an output capture, with the
 * input's link type, timestamp resolution and timestamps.
 *
 * <ul>
 *   <li>Direction: a packet whose source is in {@code pcap.local} was sent by the local host and
 *       takes the output chain ({@code originate}); every other packet arrived from the wire and
 *       takes the input chain ({@code receive}). Without {@code pcap.local}, a Linux cooked
 *       capture's packet type decides (PACKET_OUTGOING is outbound), and every packet of other link
 *       types is inbound.
 *   <li>Output: packets delivered to the local host and packets sent on the wire are both written,
 *       in the order they pass: a diverted packet is written when the program writes it back, so it
 *       may come after later packets that were not diverted (Wireshark's {@code reordercap} sorts a
 *       file by timestamp). Frames that are not well-formed IPv4 or IPv6 (ARP, ...) are copied
 *       through untouched, and so is the frame of an IPv6 packet that passed the engine without
 *       being diverted or changed (neighbour discovery keeps its link header).
 *   <li>Families: IPv4 and IPv6 packets may share one capture; raw IP captures ({@code
 *       LINKTYPE_RAW}) tell them apart by the version nibble. {@code pcap.address} and {@code
 *       pcap.local} take prefixes of both families.
 *   <li>Timestamps: a packet written back carries the timestamp of the input packet it comes from
 *       ({@link TimestampTable}); a packet the program built carries the replay clock, the
 *       timestamp of the latest input packet read. Output timestamps may therefore go backwards
 *       where the program delayed packets; capture tools accept that.
 *   <li>Pace: the replay waits for the program rather than overflowing its sockets' queues, so a
 *       replay is lossless; it runs as fast as the program keeps up (timestamps are not replayed in
 *       real time).
 *   <li>End: once every input packet has entered the engine and no socket holds or queues a packet,
 *       the replay is finished, the output is flushed, and with {@code pcap.closeOnEnd=true} the
 *       host closes (blocked receives then end with DivertClosedException).
 * </ul>
 *
 * <p>Threads: one replay thread reads the input and runs the engine; programs' sends run it on
 * their threads. Writes to the output happen inside the engine's section.
 */
final class SavefileReplay extends Device implements Replay {
  static final int INTERFACE_INDEX = 1;
  static final String INTERFACE_NAME = "pcap0";

  private static final long TICK_NANOS = 20_000_000L;
  private static final int RESUME_ROOM = 64;
  private static final int TICK_EVERY = 64; // a power of two

  private final HostConfig cfg;
  private final SavefileInput in;
  private final ReplayOutput out;
  private final LinkLayer l2;
  private final NetInterface iface;
  private final byte[] frame = new byte[CaptureHandle.MAX_FRAME];
  private final ByteBuffer view = ByteBuffer.wrap(frame);
  private final Ipv4View check = new Ipv4View();
  private final TimestampTable timestamps = new TimestampTable();
  private final Object monitor = new Object();
  private Thread thread;
  private PcapHost owner;
  private long untouched;
  private volatile long read;
  private volatile boolean started;
  private volatile boolean inputDone;
  private volatile boolean finished;
  private volatile boolean closed;
  private volatile Throwable failure;

  private SavefileReplay(
      String name, HostOptions options, HostConfig cfg, SavefileInput in, DumpFile out) {
    super(name, options);
    this.cfg = cfg;
    this.in = in;
    this.l2 = new LinkLayer(in.linkType());
    this.out =
        new ReplayOutput(
            out, l2, timestamps, view, cfg.mtu, name.hashCode() * 0x9e3779b1, e -> failure = e);
    this.iface = cfg.netInterface(INTERFACE_NAME, INTERFACE_INDEX, cfg.mtu);
  }

  /**
   * Opens the input and creates the output.
   *
   * @param name the host name
   * @param options the host options
   * @param cfg the pcap properties
   * @return the replay, not started unless {@code pcap.start=open}
   * @throws DivertException if the input cannot be read, has an unsupported link type, or the
   *     output cannot be created
   */
  static SavefileReplay open(String name, HostOptions options, HostConfig cfg)
      throws DivertException {
    SavefileInput in = Pcap.openSavefile(cfg.input);
    if (!LinkTypes.supported(in.linkType())) {
      in.close();
      throw new DivertException(
          "the capture "
              + cfg.input
              + " has link type "
              + in.linkType()
              + "; supported: Ethernet, raw IP, Linux cooked (v1 and v2)");
    }
    DumpFile out;
    try {
      out = Pcap.openDump(cfg.output, in.linkType(), in.nano());
    } catch (DivertException e) {
      in.close();
      throw e;
    }
    SavefileReplay r = new SavefileReplay(name, options, cfg, in, out);
    r.startEngine();
    return r;
  }

  /**
   * @param host the host that owns this replay (closed at the end with {@code pcap.closeOnEnd})
   */
  void owner(PcapHost host) {
    this.owner = host;
    if (cfg.start == HostConfig.Start.OPEN) {
      start();
    }
  }

  @Override
  void bound() {
    if (cfg.start == HostConfig.Start.BIND) {
      start();
    }
  }

  @Override
  Replay replay() {
    return this;
  }

  // ------------------------------------------------------------------ Replay

  @Override
  public synchronized void start() {
    if (started || closed) {
      return;
    }
    started = true;
    thread = new Thread(this::run, "d4j-pcap-replay-" + cfg.input.getFileName());
    thread.setDaemon(true);
    thread.start();
  }

  @Override
  public boolean started() {
    return started;
  }

  @Override
  public boolean inputDone() {
    return inputDone;
  }

  @Override
  public boolean finished() {
    return finished;
  }

  @Override
  public boolean awaitFinished(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (monitor) {
      while (!finished) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        monitor.wait(Math.max(1, left / 1_000_000), 0);
      }
      return true;
    }
  }

  @Override
  public long packetsRead() {
    return read;
  }

  @Override
  public long packetsWritten() {
    enter();
    try {
      return out.written();
    } finally {
      exit();
    }
  }

  @Override
  public Path input() {
    return cfg.input;
  }

  @Override
  public Path output() {
    return cfg.output;
  }

  @Override
  public Throwable failure() {
    return failure;
  }

  // ------------------------------------------------------------------ the replay thread

  private void run() {
    try {
      long nextTick = System.nanoTime() + TICK_NANOS;
      while (!closed) {
        int rc = in.next();
        if (rc == CaptureHandle.END) {
          break;
        }
        if (rc != CaptureHandle.PACKET) {
          continue;
        }
        int len = Math.min(in.length(), CaptureHandle.MAX_FRAME);
        in.copyTo(frame, 0, len);
        long n = read + 1;
        read = n;
        replay(len, in.timestampNanos());
        // The clock is read every TICK_EVERY packets, not per packet: a file is read at 10^5 to
        // 10^6 packets a second, and a replay that waits for the program ticks in awaitRoom.
        if ((n & (TICK_EVERY - 1)) == 0) {
          long now = System.nanoTime();
          if (now - nextTick >= 0) {
            engine.tick();
            nextTick = now + TICK_NANOS;
          }
        }
      }
      inputDone = true;
      while (!closed && engine.pending() > 0) {
        engine.tick();
        LockSupport.parkNanos(1_000_000);
      }
      enter();
      try {
        if (!closed) {
          out.flush();
        }
      } finally {
        exit();
      }
    } catch (IOException | RuntimeException e) {
      failure = e;
    } finally {
      inputDone = true;
      synchronized (monitor) {
        finished = true;
        monitor.notifyAll();
      }
    }
    if (cfg.closeOnEnd && owner != null && !closed) {
      try {
        owner.close();
      } catch (DivertException e) {
        failure = e;
      }
    }
  }

  private void replay(int len, long ts) throws IOException {
    int ip = l2.ipOffset(view, 0, len);
    boolean valid = false;
    boolean v6 = false;
    int end = 0;
    if (ip >= 0) {
      view.limit(len).position(ip);
      v6 = (view.get(ip) & 0xf0) == 0x60;
      if (v6) {
        end = Neighbours6.arrivalEnd(view, ip, len);
        valid = end >= 0;
      } else {
        check.wrap(view);
        valid = check.check() == null && Checksums.isIpv4HeaderValid(view, ip);
        end = valid ? ip + check.totalLength() : 0;
      }
      view.clear();
    }
    if (!valid) {
      enter();
      try {
        l2.learn(view, 0, len, LinkLayer.INBOUND);
        out.clock(ts);
        if (!closed) {
          out.copyThrough(len, ts);
          untouched++;
        }
      } finally {
        exit();
      }
      return;
    }
    // Lossless replay: wait for the program rather than overflow its queues (outside the section,
    // so that the program can write packets back meanwhile). Once full, wait until a batch fits
    // (or all is drained): resuming for every single free slot would put both threads to sleep
    // and wake them again per packet.
    if (engine.room() < 1) {
      awaitRoom();
    }
    boolean outbound;
    if (!cfg.hasLocal()) {
      outbound = l2.outgoing(view, 0, len);
    } else {
      outbound = v6 ? cfg.isLocalSender6(view, ip + 8) : cfg.isLocalSender(view.getInt(ip + 12));
    }
    enter();
    try {
      if (closed) {
        return;
      }
      l2.learn(view, 0, len, outbound ? LinkLayer.OUTBOUND : LinkLayer.INBOUND);
      out.clock(ts);
      view.limit(end).position(ip);
      if (v6) { // a written-back IPv6 packet leaves in a frame with these MACs (see write)
        timestamps.remember(
            view, ts, l2.frameSource(view, 0, len), l2.frameDestination(view, 0, len));
      } else {
        timestamps.remember(view, ts);
      }
      out.current(v6, len, ip, end);
      if (outbound) {
        engine.originate(view, 0, INTERFACE_INDEX);
      } else {
        engine.receiveInSection(view, INTERFACE_INDEX); // already in the section: no re-entry
      }
    } finally {
      out.noCurrent();
      view.clear();
      exit();
    }
  }

  private void awaitRoom() {
    long since = System.nanoTime();
    while (!closed && engine.room() < RESUME_ROOM && engine.pending() > 0) {
      long waited = System.nanoTime() - since;
      if (waited < 20_000) {
        Thread.onSpinWait();
      } else if (waited < 200_000) {
        Thread.yield();
      } else {
        LockSupport.parkNanos(50_000);
        if (System.nanoTime() - since > TICK_NANOS) {
          engine.tick(); // let held packets expire if the program has stopped
          since = System.nanoTime() - 200_000;
        }
      }
    }
  }

  // ------------------------------------------------------------------ StackEnvironment

  @Override
  public List<NetInterface> interfaces() {
    return List.of(iface);
  }

  @Override
  public int route(int destination) {
    return INTERFACE_INDEX;
  }

  @Override
  public int route6(ByteBuffer packet, int offset) {
    return INTERFACE_INDEX;
  }

  @Override
  public boolean isLocal6(ByteBuffer packet, int offset) {
    return true;
  }

  @Override
  public boolean isLocal(int address) {
    return true;
  }

  @Override
  public boolean forwarding() {
    return false;
  }

  @Override
  public void deliverLocal(ByteBuffer packet, int inInterface) {
    out.deliverLocal(packet);
  }

  @Override
  public void transmit(ByteBuffer packet, int outInterface) {
    out.write(packet, LinkLayer.OUTBOUND);
  }

  // ------------------------------------------------------------------ lifecycle

  @Override
  public void close() {
    Thread t;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      out.stop();
      t = thread;
    }
    if (t != null && t != Thread.currentThread()) {
      try {
        t.join(10_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    enter();
    try {
      out.close();
      in.close();
    } finally {
      exit();
    }
    synchronized (monitor) {
      finished = true;
      monitor.notifyAll();
    }
  }

  @Override
  public String toString() {
    return "replay of "
        + cfg.input
        + " to "
        + cfg.output
        + " ("
        + LinkTypes.name(l2.linkType())
        + ", read "
        + read
        + (untouched > 0 ? ", untouched " + untouched : "")
        + (finished ? ", finished" : inputDone ? ", input done" : started ? ", running" : "")
        + ")";
  }
}
