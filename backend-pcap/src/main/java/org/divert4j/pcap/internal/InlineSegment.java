package org.divert4j.pcap.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;
import org.divert4j.DivertException;
import org.divert4j.HostOptions;
import org.divert4j.NetInterface;
import org.divert4j.linux.Capabilities;
import org.divert4j.linux.NetDevices;
import org.divert4j.linux.NetnsThread;
import org.divert4j.packet.Checksums;
import org.divert4j.packet.FragmentSink;
import org.divert4j.packet.Fragmenter;
import org.divert4j.packet.Ipv4View;
import org.divert4j.packet.Ipv6Fragmenter;

/**
 * An inline segment: two interfaces, "outside" and "inside", with the divert engine between them,
 * like an inline IPS in AF_PACKET bridge mode. The kernel must not forward between them (no IP
 * forwarding, no bridge); the segment does, in user space:
 *
 * <pre>
 *   outside --capture--> engine.receive (input chain) --deliverLocal--> transmit on inside
 *   inside  --capture--> engine.originate (output chain) --transmit-->  transmit on outside
 * </pre>
 *
 * The host under diversion is whatever sits on the inside: its traffic leaves through the output
 * chain and traffic toward it arrives through the input chain. ARP and every frame that is not a
 * well-formed IPv4 or IPv6 packet pass straight through, untouched, in both directions; IPv4
 * packets get a link header rebuilt from learned MAC addresses ({@link LinkLayer}). An IPv6 packet
 * that crosses the engine without being diverted (or changed) leaves in the very frame it came in,
 * link header and all: neighbour discovery, router advertisements and multicast listener reports
 * that no rule matches pass untouched, so that the two sides keep resolving each other; IPv6
 * packets that a program wrote back or injected get a header built from what {@link Neighbours6}
 * learned.
 *
 * <p>Threads: one capture thread per interface, which only copies frames into a bounded handoff
 * ring ({@link HandoffRing}; a full ring drops and counts, as DropReason.CAPTURE, as do frames the
 * kernel could not put in libpcap's capture ring, read on demand); one processing thread that
 * drains both rings in batches inside the engine's section and runs the engine's clock. Programs'
 * sends run the engine on their own threads, in the same section. Each interface's MTU is read
 * once, at open; the engine enforces the outside one (S27-S30), and packets delivered inbound are
 * fragmented to the inside one (inbound injection has no MTU limit, S53, but the wire to the host
 * has).
 */
public final class InlineSegment extends Device {
  static final int OUTSIDE = 0;
  static final int INSIDE = 1;

  private static final ConcurrentHashMap<String, String> IN_USE = new ConcurrentHashMap<>();
  private static final long TICK_NANOS = 20_000_000L;
  private static final int BATCH = 64;
  private static final long QUIET_NANOS = 50_000L;
  private static final long SYNC_LIMIT_MILLIS = 20;

  private final String nsPath;
  private final String[] names;
  private final NetDevices.Link[] links;
  private final CaptureHandle[] handles;
  private final HandoffRing[] rings;
  private final ByteBuffer[] views;
  private final LinkLayer l2;
  private final NetInterface outsideInterface;
  private final int[][] routes;
  private final org.divert4j.IpPrefix[] routes6;
  private final boolean countInterfaceDrops;
  // What the segment turned off, restored at close; set once, at open.
  private volatile Offloads offloads;
  private final Ipv4View check = new Ipv4View();
  private final Ipv6Fragmenter insideFragmenter6 = new Ipv6Fragmenter();
  private int fragmentId6;
  // The IPv6 frame the processing thread is handing to the engine now (inside the section): if the
  // engine passes that very packet on, unchanged, the frame itself is forwarded.
  private int currentSide = -1;
  private int currentOffset;
  private int currentLength;
  private int currentIp;
  private int currentEnd;
  private final Fragmenter insideFragmenter = new Fragmenter();
  private final FragmentSink toInside = f -> sendIp(INSIDE, f, LinkLayer.INBOUND);
  private final List<String> keys = new ArrayList<>();
  private final Thread[] captureThreads = new Thread[2];
  private final CaptureState[] states = {new CaptureState(), new CaptureState()};
  private Thread processor;
  private volatile boolean running;
  private volatile boolean idle;
  private boolean closed;

  // Counters: handoff drops written by one capture thread each, read by any thread; libpcap's
  // drop counts read on demand (readCaptureDrops), the rest inside the section.
  private final AtomicLongArray handoffDrops = new AtomicLongArray(2);
  private final Object pcapStatsLock = new Object();
  private final long[] pcapDrops = new long[2]; // guarded by pcapStatsLock
  private boolean pcapStatsClosed; // guarded by pcapStatsLock
  // Frames longer than the snapshot length, per side; written by that side's capture thread.
  private final AtomicLongArray truncated = new AtomicLongArray(2);
  private final long[] sendErrors = new long[2];
  private final long[] sent = new long[2];
  private long passedUntouched;
  private long oversizeDrops;
  private long noRouteDrops;
  private volatile String lastError;

  /** What a capture thread is doing, for {@link #synchronize()}. Written by that thread only. */
  private static final class CaptureState {
    volatile boolean waiting;
    volatile long returns;
  }

  private InlineSegment(
      String name,
      HostOptions options,
      String nsPath,
      NetDevices.Link[] links,
      CaptureHandle[] handles,
      HostConfig cfg) {
    super(name, options);
    this.nsPath = nsPath;
    this.links = links;
    this.handles = handles;
    this.names = new String[] {links[0].name(), links[1].name()};
    this.rings =
        new HandoffRing[] {new HandoffRing(cfg.handoffBytes), new HandoffRing(cfg.handoffBytes)};
    this.views =
        new ByteBuffer[] {ByteBuffer.wrap(rings[0].array()), ByteBuffer.wrap(rings[1].array())};
    this.l2 = new LinkLayer(handles[OUTSIDE].linkType());
    l2.ownMac(LinkLayer.INBOUND, links[INSIDE].mac());
    l2.ownMac(LinkLayer.OUTBOUND, links[OUTSIDE].mac());
    this.outsideInterface =
        cfg.netInterface(links[OUTSIDE].name(), links[OUTSIDE].index(), links[OUTSIDE].mtu());
    this.routes = cfg.routes;
    this.routes6 = cfg.routes6;
    this.fragmentId6 = name.hashCode() * 0x9e3779b1;
    this.countInterfaceDrops = nsPath == null;
  }

  /**
   * Opens the segment: reads both interfaces, opens a capture on each (from a thread in the
   * namespace, optionally without capabilities), deals with the offloads as {@code pcap.offloads}
   * says ({@link Offloads}), and starts its threads.
   *
   * @param name the host name
   * @param options the host options
   * @param cfg the pcap properties
   * @param unprivileged true to open the captures as a program without capabilities would (S46)
   * @return the running segment
   * @throws DivertException if an interface is missing, capturing is not permitted, the interfaces
   *     are in use by another segment of this JVM, or offloads are on and {@code pcap.offloads} is
   *     {@code refuse} (or they cannot be turned off)
   */
  public static InlineSegment open(
      String name, HostOptions options, HostConfig cfg, boolean unprivileged)
      throws DivertException {
    String nsPath = NetnsThread.pathOf(cfg.netns);
    NetDevices.Link[] links = new NetDevices.Link[2];
    CaptureHandle[] handles = new CaptureHandle[2];
    try (NetnsThread t = NetnsThread.open(nsPath, "segment")) {
      t.run(
          () -> {
            if (unprivileged) {
              // after entering the namespace, which needs CAP_SYS_ADMIN
              Capabilities.dropAllEffective();
            }
            links[OUTSIDE] = NetDevices.link(cfg.outside);
            links[INSIDE] = NetDevices.link(cfg.inside);
            handles[OUTSIDE] =
                Pcap.openLive(
                    cfg.outside, Pcap.liveSnaplen(links[OUTSIDE].mtu()), cfg.bufferBytes, null);
            handles[INSIDE] =
                Pcap.openLive(
                    cfg.inside, Pcap.liveSnaplen(links[INSIDE].mtu()), cfg.bufferBytes, null);
            return null;
          });
    } catch (DivertException e) {
      closeAll(handles);
      throw e;
    } catch (Exception e) {
      closeAll(handles);
      throw new DivertException(
          "cannot open the inline segment "
              + cfg.outside
              + " | "
              + cfg.inside
              + (nsPath == null ? "" : " in " + nsPath)
              + ": "
              + e.getMessage(),
          0,
          e);
    }
    if (handles[OUTSIDE].linkType() != handles[INSIDE].linkType()
        || !LinkLayer.supported(handles[OUTSIDE].linkType())) {
      closeAll(handles);
      throw new DivertException(
          "the inline segment needs two interfaces of one supported link type, got "
              + LinkLayer.name(handles[OUTSIDE].linkType())
              + " and "
              + LinkLayer.name(handles[INSIDE].linkType()));
    }
    InlineSegment s = new InlineSegment(name, options, nsPath, links, handles, cfg);
    try {
      s.claim();
    } catch (DivertException e) {
      closeAll(handles);
      throw e;
    }
    try {
      // After the captures (a user without CAP_NET_RAW learns that first, S46), before the
      // threads: frames the rings hold from before are forwarded as they came, and a sender
      // retransmits what they lose.
      s.offloads = applyOffloads(cfg, nsPath);
    } catch (DivertException | RuntimeException e) {
      s.release();
      closeAll(handles);
      throw e;
    }
    s.startEngine();
    s.startThreads();
    return s;
  }

  private static Offloads applyOffloads(HostConfig cfg, String nsPath) throws DivertException {
    return Offloads.apply(
        cfg.offloads, nsPath, cfg.outside, cfg.inside, java.nio.file.Path.of(OffloadLedger.DIR));
  }

  private static void closeAll(CaptureHandle[] handles) {
    for (CaptureHandle h : handles) {
      if (h != null) {
        h.close();
      }
    }
  }

  /** Refuses interfaces another segment of this JVM uses: both would forward every frame. */
  private void claim() throws DivertException {
    for (String n : names) {
      String key = (nsPath == null ? "" : nsPath) + "|" + n;
      String other = IN_USE.putIfAbsent(key, name);
      if (other != null) {
        release();
        throw new DivertException(
            "interface "
                + n
                + (nsPath == null ? "" : " in " + nsPath)
                + " is already inline in pcap host "
                + other
                + " of this JVM; close that host first");
      }
      keys.add(key);
    }
  }

  private void release() {
    for (String k : keys) {
      IN_USE.remove(k, name);
    }
    keys.clear();
  }

  private void startThreads() {
    running = true;
    for (int side = OUTSIDE; side <= INSIDE; side++) {
      int sd = side;
      Thread t = new Thread(() -> capture(sd), "d4j-pcap-capture-" + names[side]);
      t.setDaemon(true);
      captureThreads[side] = t;
    }
    processor =
        new Thread(this::process, "d4j-pcap-engine-" + names[OUTSIDE] + "-" + names[INSIDE]);
    processor.setDaemon(true);
    processor.start();
    captureThreads[OUTSIDE].start();
    captureThreads[INSIDE].start();
  }

  // ------------------------------------------------------------------ capture threads

  private void capture(int side) {
    CaptureHandle h = handles[side];
    HandoffRing ring = rings[side];
    CaptureState state = states[side];
    while (running) {
      int rc;
      state.waiting = true;
      try {
        rc = h.next();
      } catch (IOException e) {
        lastError = e.toString();
        LockSupport.parkNanos(TICK_NANOS);
        continue;
      } finally {
        state.waiting = false;
        state.returns = state.returns + 1;
      }
      if (rc == CaptureHandle.PACKET) {
        int len = Math.min(h.length(), CaptureHandle.MAX_FRAME);
        if (h.wireLength() > len) {
          // Longer than the snapshot length (Pcap.liveSnaplen): forwarding the cut frame would
          // corrupt it, so it is lost, and counted with the capture's losses.
          truncated.lazySet(side, truncated.get(side) + 1); // single writer
        } else if (ring.reserve(len)) {
          h.copyTo(ring.array(), ring.dataOffset(), len);
          ring.publish(h.timestampNanos());
          if (idle) {
            LockSupport.unpark(processor);
          }
        } else {
          handoffDrops.lazySet(side, handoffDrops.get(side) + 1); // single writer
        }
      }
    }
  }

  /**
   * Reads libpcap's drop counters now, on the calling thread. They are read on demand and not by
   * the capture threads, because a capture thread only runs when a packet arrives: libpcap 1.10 on
   * Linux does not return from {@code pcap_next_ex} when its read timeout passes without a packet
   * (pcap_wait_for_frames_mmap polls again; pcap_set_timeout(3PCAP): "the timer doesn't start until
   * at least one packet arrives"), so frames the kernel dropped from a full capture ring during a
   * burst would stay uncounted until the next packet. Serialized: {@code pcap_stats} adds the
   * kernel's counters (which {@code PACKET_STATISTICS} resets on every read) into the handle, so
   * two concurrent calls could lose a count. Monotonic, and kept after close.
   */
  private long readCaptureDrops() {
    synchronized (pcapStatsLock) {
      if (!pcapStatsClosed) {
        for (int side = OUTSIDE; side <= INSIDE; side++) {
          CaptureHandle h = handles[side];
          // ps_ifdrop comes from sysfs, which shows the JVM's namespace, not the capture's:
          // only meaningful when the interfaces are in the JVM's own namespace.
          long d = countInterfaceDrops ? h.drops() : h.droppedByKernel();
          pcapDrops[side] = Math.max(pcapDrops[side], d);
        }
      }
      return pcapDrops[OUTSIDE] + pcapDrops[INSIDE];
    }
  }

  /**
   * Waits until every frame that had reached the capture before the call went through the engine:
   * both capture threads have been waiting in {@code pcap_next_ex} for a quiet period without
   * returning (the kernel has nothing more for them) and both handoff rings are drained. Gives up
   * after {@value #SYNC_LIMIT_MILLIS} ms under a continuous flood.
   */
  @Override
  public void synchronize() {
    if (!running || isHeldByCurrentThread() || Thread.currentThread() == processor) {
      return;
    }
    long deadline = System.nanoTime() + SYNC_LIMIT_MILLIS * 1_000_000L;
    while (System.nanoTime() - deadline < 0 && running) {
      long r0 = states[OUTSIDE].returns;
      long r1 = states[INSIDE].returns;
      if (quiet()) {
        LockSupport.parkNanos(QUIET_NANOS);
        if (quiet() && r0 == states[OUTSIDE].returns && r1 == states[INSIDE].returns) {
          return;
        }
      } else {
        LockSupport.parkNanos(QUIET_NANOS / 2);
      }
    }
  }

  private boolean quiet() {
    return states[OUTSIDE].waiting
        && states[INSIDE].waiting
        && rings[OUTSIDE].isDrained()
        && rings[INSIDE].isDrained();
  }

  /**
   * @return frames lost below the engine: the handoff rings' drops plus libpcap's drop counters
   *     (frames the kernel could not put in a full capture ring), read now
   */
  @Override
  public long captureDrops() {
    return handoffDrops.get(OUTSIDE)
        + handoffDrops.get(INSIDE)
        + truncated.get(OUTSIDE)
        + truncated.get(INSIDE)
        + readCaptureDrops();
  }

  // ------------------------------------------------------------------ processing thread

  private void process() {
    long nextTick = System.nanoTime() + TICK_NANOS;
    while (running) {
      int n = 0;
      enter();
      try {
        n += drain(OUTSIDE);
        n += drain(INSIDE);
        long now = System.nanoTime();
        if (now - nextTick >= 0) {
          engine.tick();
          nextTick = now + TICK_NANOS;
        }
      } catch (RuntimeException e) {
        lastError = e.toString();
      } finally {
        exit();
      }
      if (n == 0) {
        idle = true;
        if (rings[OUTSIDE].isEmpty() && rings[INSIDE].isEmpty() && running) {
          LockSupport.parkNanos(TICK_NANOS);
        }
        idle = false;
      }
    }
  }

  private int drain(int side) {
    HandoffRing ring = rings[side];
    int n = 0;
    while (n < BATCH && ring.poll()) {
      try {
        handle(side, ring.offset(), ring.length());
      } finally {
        ring.release();
      }
      n++;
    }
    return n;
  }

  private void handle(int side, int offset, int length) {
    ByteBuffer b = views[side];
    int direction = side == OUTSIDE ? LinkLayer.INBOUND : LinkLayer.OUTBOUND;
    l2.learn(b, offset, length, direction);
    int ip = l2.ipOffset(b, offset, length);
    if (ip >= 0 && (b.get(ip) & 0xf0) == 0x60) {
      if (handle6(side, b, offset, length, ip)) {
        return;
      }
    } else if (ip >= 0) {
      b.limit(offset + length).position(ip);
      check.wrap(b);
      if (check.check() == null && Checksums.isIpv4HeaderValid(b, ip)) {
        b.limit(ip + check.totalLength()); // Ethernet padding is not part of the packet
        if (side == OUTSIDE) {
          engine.receive(b, links[OUTSIDE].index());
        } else if (!engine.originate(b)) {
          noRouteDrops++;
        }
        b.clear();
        return;
      }
      b.clear();
    }
    passUntouched(side == OUTSIDE ? INSIDE : OUTSIDE, b, offset, length);
  }

  /**
   * Hands a well-formed IPv6 packet to the engine; a link-local destination leaves by the outside
   * interface, the segment's one interface (S60).
   *
   * @return false if the packet is malformed as {@link Neighbours6#arrivalEnd} says (the caller
   *     passes the frame untouched)
   */
  private boolean handle6(int side, ByteBuffer b, int offset, int length, int ip) {
    int end = Neighbours6.arrivalEnd(b, ip, offset + length);
    if (end < 0) {
      return false;
    }
    b.limit(end).position(ip); // Ethernet padding is not part of the packet
    currentSide = side;
    currentOffset = offset;
    currentLength = length;
    currentIp = ip;
    currentEnd = end;
    try {
      if (side == OUTSIDE) {
        engine.receive(b, links[OUTSIDE].index());
      } else if (!engine.originate(b, 0, links[OUTSIDE].index())) {
        noRouteDrops++;
      }
    } finally {
      currentSide = -1;
      b.clear();
    }
    return true;
  }

  /**
   * Forwards the frame being handled itself, if the engine passed on its very packet (same buffer,
   * same bounds: not diverted, not reassembled, not fragmented).
   *
   * @return true if it did
   */
  private boolean forwardCurrentFrame(ByteBuffer p, int toSide) {
    int s = currentSide;
    if (s < 0
        || s == toSide
        || p != views[s]
        || p.position() != currentIp
        || p.limit() != currentEnd) {
      return false;
    }
    currentSide = -1; // once: the engine hands a packet on at most once
    int limit = p.limit(); // the frame may hold padding past the packet: the bulk put checks it
    p.limit(p.capacity());
    passUntouched(toSide, p, currentOffset, currentLength);
    p.limit(limit);
    return true;
  }

  private void passUntouched(int toSide, ByteBuffer b, int offset, int length) {
    if (closed) {
      return;
    }
    CaptureHandle h = handles[toSide];
    ByteBuffer f = h.sendBuffer();
    f.put(0, b, offset, length);
    try {
      h.send(length);
      passedUntouched++;
    } catch (IOException e) {
      sendErrors[toSide]++;
      lastError = e.getMessage();
    }
  }

  // ------------------------------------------------------------------ StackEnvironment

  /**
   * @return frames that could not be sent: DF packets larger than the inside MTU, and failed {@code
   *     pcap_inject} calls (EMSGSIZE for a frame larger than the egress MTU, ENOBUFS, a link that
   *     went down); read inside the section, which every writer holds
   */
  @Override
  public long transmitDrops() {
    return oversizeDrops + sendErrors[OUTSIDE] + sendErrors[INSIDE];
  }

  @Override
  public List<NetInterface> interfaces() {
    return List.of(outsideInterface);
  }

  @Override
  public int route6(ByteBuffer packet, int offset) {
    if (Neighbours6.isMulticast(packet, offset) || HostConfig.matches6(routes6, packet, offset)) {
      return links[OUTSIDE].index();
    }
    return 0;
  }

  /** Every IPv6 packet that passes the input chain is for the inside, as for IPv4. */
  @Override
  public boolean isLocal6(ByteBuffer packet, int offset) {
    return true;
  }

  @Override
  public int route(int destination) {
    if (destination == -1 || (destination >>> 28) == 0xe) {
      return links[OUTSIDE].index();
    }
    for (int[] r : routes) {
      int mask = r[1] == 0 ? 0 : -1 << (32 - r[1]);
      if ((destination & mask) == (r[0] & mask)) {
        return links[OUTSIDE].index();
      }
    }
    return 0;
  }

  /** Everything that passes the input chain is for the inside: the segment is the host's wire. */
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
    if (forwardCurrentFrame(packet, INSIDE)) {
      return;
    }
    int mtu = links[INSIDE].mtu();
    if (packet.remaining() <= mtu) {
      sendIp(INSIDE, packet, LinkLayer.INBOUND);
      return;
    }
    if ((packet.get(packet.position()) & 0xf0) == 0x60) {
      deliverLarge6(packet, mtu);
      return;
    }
    if ((packet.get(packet.position() + 6) & 0x40) != 0) {
      oversizeDrops++; // DF and larger than the wire to the host: cannot be delivered
      return;
    }
    try {
      insideFragmenter.fragment(packet, mtu, toInside);
    } catch (DivertException e) {
      oversizeDrops++;
    }
  }

  /**
   * An IPv6 packet larger than the wire to the host (injected inbound, S53, or reassembled): cut
   * into fragments with an Identification of the segment's own, as the sending host would have.
   */
  private void deliverLarge6(ByteBuffer packet, int mtu) {
    if (++fragmentId6 == 0) {
      fragmentId6 = 1;
    }
    try {
      insideFragmenter6.fragment(packet, mtu, fragmentId6, toInside);
    } catch (DivertException e) {
      oversizeDrops++; // already a fragment, or no room for the unfragmentable part
    }
  }

  @Override
  public void transmit(ByteBuffer packet, int outInterface) {
    if (forwardCurrentFrame(packet, OUTSIDE)) {
      return;
    }
    sendIp(OUTSIDE, packet, LinkLayer.OUTBOUND);
  }

  private void sendIp(int side, ByteBuffer p, int direction) {
    if (closed) {
      return;
    }
    CaptureHandle h = handles[side];
    ByteBuffer f = h.sendBuffer();
    int pos = p.position();
    int len = p.remaining();
    int hl = l2.writeHeader(f, 0, p, pos, direction);
    f.put(hl, p, pos, len);
    try {
      h.send(hl + len);
      sent[side]++;
    } catch (IOException e) {
      sendErrors[side]++;
      lastError = e.getMessage();
    }
  }

  // ------------------------------------------------------------------ lifecycle

  @Override
  public void close() {
    if (!running && processor == null) {
      return;
    }
    running = false;
    for (CaptureHandle h : handles) {
      h.breakLoop();
    }
    LockSupport.unpark(processor);
    join(captureThreads[OUTSIDE]);
    join(captureThreads[INSIDE]);
    join(processor);
    enter();
    try {
      if (closed) {
        return;
      }
      closed = true;
      synchronized (pcapStatsLock) {
        readCaptureDrops(); // the last counts, before the handles go
        pcapStatsClosed = true;
      }
      closeAll(handles);
      release();
      Offloads o = offloads;
      if (o != null) {
        o.restore(); // after the captures: nothing is forwarded with the features back on
      }
    } finally {
      exit();
    }
  }

  private static void join(Thread t) {
    if (t == null) {
      return;
    }
    try {
      t.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("inline segment ");
    sb.append(names[OUTSIDE]).append(" | ").append(names[INSIDE]);
    if (nsPath != null) {
      sb.append(" in ").append(nsPath);
    }
    sb.append(" (sent out/in ").append(sent[OUTSIDE]).append('/').append(sent[INSIDE]);
    sb.append(", untouched ").append(passedUntouched);
    sb.append(", capture drops ").append(captureDrops());
    if (oversizeDrops + noRouteDrops + sendErrors[0] + sendErrors[1] > 0) {
      sb.append(", oversize ").append(oversizeDrops).append(", no route ").append(noRouteDrops);
      sb.append(", send errors ").append(sendErrors[0] + sendErrors[1]);
    }
    String e = lastError;
    if (e != null) {
      sb.append(", last error: ").append(e);
    }
    return sb.append(')').toString();
  }
}
