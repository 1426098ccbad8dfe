package org.divert4j.pcap.internal;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import org.divert4j.DivertException;
import org.divert4j.HostOptions;
import org.divert4j.NetInterface;
import org.divert4j.linux.Capabilities;
import org.divert4j.linux.NetDevices;
import org.divert4j.linux.NetnsThread;
import org.divert4j.packet.Checksums;
import org.divert4j.packet.Ipv4View;

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

  private static final long TICK_NANOS = 20_000_000L;
  private static final int BATCH = 64;
  private static final long SYNC_LIMIT_MILLIS = 20;

  private final String nsPath;
  private final String[] names;
  private final NetDevices.Link[] links;
  private final SegmentCapture capture;
  private final LinkLayer l2;
  private final NetInterface outsideInterface;
  private final int[][] routes;
  private final org.divert4j.IpPrefix[] routes6;
  // What the segment turned off, restored at close; set once, at open.
  private volatile Offloads offloads;
  private final Ipv4View check = new Ipv4View();
  // The IPv6 frame the processing thread is handing to the engine now (inside the section): if the
  // engine passes that very packet on, unchanged, the frame itself is forwarded.
  private int currentSide = -1;
  private int currentOffset;
  private int currentLength;
  private int currentIp;
  private int currentEnd;
  private final SegmentClaims claims;
  private final SegmentLedger ledger = new SegmentLedger();
  private final SegmentWire wire;
  private Thread processor;
  private volatile boolean running;
  private boolean closed;

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
    this.names = new String[] {links[0].name(), links[1].name()};
    this.capture = new SegmentCapture(names, handles, cfg.handoffBytes, nsPath == null);
    this.l2 = new LinkLayer(handles[OUTSIDE].linkType());
    l2.ownMac(LinkLayer.INBOUND, links[INSIDE].mac());
    l2.ownMac(LinkLayer.OUTBOUND, links[OUTSIDE].mac());
    this.outsideInterface =
        cfg.netInterface(links[OUTSIDE].name(), links[OUTSIDE].index(), links[OUTSIDE].mtu());
    this.routes = cfg.routes;
    this.routes6 = cfg.routes6;
    this.claims = new SegmentClaims(nsPath, names, name);
    this.wire = new SegmentWire(capture, l2, links[INSIDE], ledger, name.hashCode() * 0x9e3779b1);
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
        || !LinkTypes.supported(handles[OUTSIDE].linkType())) {
      closeAll(handles);
      throw new DivertException(
          "the inline segment needs two interfaces of one supported link type, got "
              + LinkTypes.name(handles[OUTSIDE].linkType())
              + " and "
              + LinkTypes.name(handles[INSIDE].linkType()));
    }
    InlineSegment s = new InlineSegment(name, options, nsPath, links, handles, cfg);
    try {
      s.claims.claim();
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
      s.claims.release();
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

  static void closeAll(CaptureHandle[] handles) {
    for (CaptureHandle h : handles) {
      if (h != null) {
        h.close();
      }
    }
  }

  private void startThreads() {
    running = true;
    processor =
        new Thread(this::process, "d4j-pcap-engine-" + names[OUTSIDE] + "-" + names[INSIDE]);
    processor.setDaemon(true);
    processor.start();
    capture.start(processor);
  }

  /**
   * Waits until every frame that had reached the capture before the call went through the engine
   * ({@link SegmentCapture#awaitSettled}). Gives up after {@value #SYNC_LIMIT_MILLIS} ms under a
   * continuous flood.
   */
  @Override
  public void synchronize() {
    if (!running || isHeldByCurrentThread() || Thread.currentThread() == processor) {
      return;
    }
    capture.awaitSettled(SYNC_LIMIT_MILLIS * 1_000_000L);
  }

  /**
   * @return frames lost below the engine, counted by the capture side ({@link
   *     SegmentCapture#drops()}), read now
   */
  @Override
  public long captureDrops() {
    return capture.drops();
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
        ledger.lastError = e.toString();
      } finally {
        exit();
      }
      if (n == 0) {
        capture.idle(true);
        if (capture.isEmpty() && running) {
          LockSupport.parkNanos(TICK_NANOS);
        }
        capture.idle(false);
      }
    }
  }

  private int drain(int side) {
    HandoffRing ring = capture.ring(side);
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
    ByteBuffer b = capture.view(side);
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
          ledger.noRouteDrops++;
        }
        b.clear();
        return;
      }
      b.clear();
    }
    wire.passUntouched(side == OUTSIDE ? INSIDE : OUTSIDE, b, offset, length);
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
        ledger.noRouteDrops++;
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
        || p != capture.view(s)
        || p.position() != currentIp
        || p.limit() != currentEnd) {
      return false;
    }
    currentSide = -1; // once: the engine hands a packet on at most once
    int limit = p.limit(); // the frame may hold padding past the packet: the bulk put checks it
    p.limit(p.capacity());
    wire.passUntouched(toSide, p, currentOffset, currentLength);
    p.limit(limit);
    return true;
  }

  // ------------------------------------------------------------------ StackEnvironment

  /**
   * @return frames that could not be sent: DF packets larger than the inside MTU, and failed {@code
   *     pcap_inject} calls (EMSGSIZE for a frame larger than the egress MTU, ENOBUFS, a link that
   *     went down); read inside the section, which every writer holds
   */
  @Override
  public long transmitDrops() {
    return ledger.oversizeDrops + ledger.sendErrors[OUTSIDE] + ledger.sendErrors[INSIDE];
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
    wire.deliverInside(packet);
  }

  @Override
  public void transmit(ByteBuffer packet, int outInterface) {
    if (forwardCurrentFrame(packet, OUTSIDE)) {
      return;
    }
    wire.sendIp(OUTSIDE, packet, LinkLayer.OUTBOUND);
  }

  // ------------------------------------------------------------------ lifecycle

  @Override
  public void close() {
    if (!running && processor == null) {
      return;
    }
    running = false;
    LockSupport.unpark(processor);
    capture.stop();
    SegmentCapture.join(processor);
    enter();
    try {
      if (closed) {
        return;
      }
      closed = true;
      wire.close();
      capture.close();
      claims.release();
      Offloads o = offloads;
      if (o != null) {
        o.restore(); // after the captures: nothing is forwarded with the features back on
      }
    } finally {
      exit();
    }
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("inline segment ");
    sb.append(names[OUTSIDE]).append(" | ").append(names[INSIDE]);
    if (nsPath != null) {
      sb.append(" in ").append(nsPath);
    }
    SegmentLedger c = ledger;
    sb.append(" (sent out/in ").append(c.sent[OUTSIDE]).append('/').append(c.sent[INSIDE]);
    sb.append(", untouched ").append(c.passedUntouched);
    sb.append(", capture drops ").append(captureDrops());
    if (c.oversizeDrops + c.noRouteDrops + c.sendErrors[0] + c.sendErrors[1] > 0) {
      sb.append(", oversize ").append(c.oversizeDrops).append(", no route ").append(c.noRouteDrops);
      sb.append(", send errors ").append(c.sendErrors[0] + c.sendErrors[1]);
    }
    String e = c.lastError != null ? c.lastError : capture.lastError();
    if (e != null) {
      sb.append(", last error: ").append(e);
    }
    return sb.append(')').toString();
  }
}
