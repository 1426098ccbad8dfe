package org.divert4j.sim;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.divert4j.Capability;
import org.divert4j.DivertHost;
import org.divert4j.HostOptions;
import org.divert4j.IpPrefix;
import org.divert4j.Ipv4;
import org.divert4j.Ipv6Addresses;
import org.divert4j.NetInterface;
import org.divert4j.packet.Checksums;
import org.divert4j.packet.Ipv4Builder;
import org.divert4j.packet.Ipv4View;
import org.divert4j.packet.Ipv6Builder;
import org.divert4j.packet.Ipv6View;
import org.divert4j.packet.Reassembler;
import org.divert4j.stack.DivertEngine;
import org.divert4j.stack.StackEnvironment;
import org.divert4j.testbed.Datagram;
import org.divert4j.testbed.MarkCounter;
import org.divert4j.testbed.PacketCapture;
import org.divert4j.testbed.TestNode;
import org.divert4j.testbed.UdpEndpoint;

/**
 * A simulated host: interfaces, a routing table, optional IP forwarding, a small local stack (UDP
 * endpoints, ICMP echo) and a divert engine, so that any node can be put under diversion. It is
 * also the {@link TestNode} of test beds. Thread-safe.
 */
public final class SimNode implements TestNode {
  /** The loopback interface's index. */
  static final int LOOPBACK = 1;

  private static final Set<Capability> CAPABILITIES =
      EnumSet.of(
          Capability.FORWARD,
          Capability.SHARED_RULES,
          Capability.EXACT_INBOUND_INTERFACE,
          Capability.MULTIPLE_INTERFACES,
          Capability.VIRTUAL_TIME,
          Capability.WHOLE_LOCAL_OUTPUT,
          Capability.PACKET_META,
          Capability.PACKET_MARK,
          Capability.KERNEL_FILTER,
          Capability.IPV6,
          Capability.INTACT_ATOMIC_FRAGMENTS,
          Capability.TRUNCATED_CHAINS_CONTINUE,
          Capability.IPV6_REASSEMBLY_COUNTERS,
          Capability.SNIFF,
          Capability.FLOW_COUNT);

  private final SimNetwork net;
  private final String name;
  private final HostOptions options;
  private final List<Port> ports = new ArrayList<>();
  private final List<int[]> routes = new ArrayList<>(); // {prefix, length, ifIndex}
  private final Map<Integer, SimUdpEndpoint> udp = new HashMap<>();
  private final Set<Long> echoReplies = new HashSet<>();
  private final ReentrantLock echoLock = new ReentrantLock();
  private final Condition echoArrived = echoLock.newCondition();
  private final List<SimCapture> captures = new CopyOnWriteArrayList<>();
  private final List<SimMarkCounter> markCounters = new CopyOnWriteArrayList<>();
  private final Ipv4View arrival = new Ipv4View();
  private final Ipv4View local = new Ipv4View();
  private final Ipv6View arrival6 = new Ipv6View();
  private final SimStack6 stack6 = new SimStack6(this);
  private volatile boolean forwarding;
  private DivertEngine engine;
  private volatile LastFrame lastFrame; // receiveFrame's last interface name and its index

  private record LastFrame(String name, int index) {}

  private Reassembler localReassembly;
  private String engineBackend = "sim";
  private SimProvider.EngineFactory engineFactory = DivertEngine::new;
  private int nextId = 1;
  private int nextEcho = 1;

  /** One end of a link. */
  static final class Port {
    final NetInterface nif;
    final int addressBits; // nif.addressBits(), which copies the address on every call
    Port peer;
    SimNode node;

    Port(NetInterface nif, SimNode node) {
      this.nif = nif;
      this.addressBits = nif.addressBits();
      this.node = node;
    }
  }

  SimNode(SimNetwork net, String name, HostOptions options) {
    this.net = net;
    this.name = name;
    this.options = options;
    ports.add(
        new Port(
            new NetInterface(
                "lo",
                LOOPBACK,
                List.of(
                    new IpPrefix(Ipv4.parse("127.0.0.1"), 8),
                    new IpPrefix(Ipv6Addresses.parse("::1"), 128)),
                65535),
            this));
    stack6.refresh(ports);
  }

  /**
   * @param addresses one or more addresses with prefix, comma-separated (see {@link SimAddresses})
   */
  Port addInterface(String addresses, int mtu) {
    if (engine != null) {
      throw new IllegalStateException("add links before opening a host on " + name);
    }
    int index = ports.size() + 1;
    NetInterface nif =
        new NetInterface(
            "eth" + (index - 2), index, SimAddresses.interfaceAddresses(addresses, index), mtu);
    Port p = new Port(nif, this);
    ports.add(p);
    stack6.refresh(ports);
    return p;
  }

  /**
   * Adds a static route. An IPv4 route of the standard addressing is mirrored for IPv6 ({@code
   * 10.0.2.0/24} also routes {@code fd00:2::/64}, see {@link SimAddresses}); an IPv6 prefix adds an
   * IPv6 route only.
   *
   * @param prefix e.g. {@code 10.0.2.0/24} or {@code fd00:3::/64}
   * @param interfaceName the interface it leaves by, e.g. {@code eth0}
   */
  public void addRoute(String prefix, String interfaceName) {
    IpPrefix parsed = IpPrefix.parse(prefix);
    net.enter();
    try {
      for (Port p : ports) {
        if (p.nif.name().equals(interfaceName)) {
          if (parsed.family() == org.divert4j.IpFamily.IPV6) {
            stack6.addRoute(parsed, p.nif.index(), ports);
            return;
          }
          int len = parsed.length();
          int mask = len == 0 ? 0 : -1 << (32 - len);
          routes.add(
              new int[] {Ipv4.toInt((Inet4Address) parsed.address()) & mask, len, p.nif.index()});
          IpPrefix mirrored = SimAddresses.mirror(parsed);
          if (mirrored != null) {
            stack6.addRoute(mirrored, p.nif.index(), ports);
          }
          return;
        }
      }
      throw new IllegalArgumentException(name + " has no interface " + interfaceName);
    } finally {
      net.exit();
    }
  }

  /**
   * @param on true to forward packets not addressed to this node
   */
  public void setForwarding(boolean on) {
    this.forwarding = on;
  }

  void useEngine(String backend, SimProvider.EngineFactory factory) {
    this.engineBackend = backend;
    this.engineFactory = factory;
  }

  /**
   * Opens a divert host on this node, as a program would. The node's engine (with this node's
   * options for fragment mode and reassembly) starts on first use; later hosts share it (S3).
   *
   * @param options the handle's options (no-listener policy, queue length, fail-open, hold time)
   * @return the host; closing it removes its rules and sockets
   */
  public DivertHost openHost(HostOptions options) {
    return engine().openHost(options);
  }

  DivertEngine engine() {
    net.enter();
    try {
      if (engine == null) {
        engine =
            engineFactory.create(engineBackend, name, CAPABILITIES, options, new Environment());
        localReassembly =
            new Reassembler(
                HostOptions.DEFAULT_REASSEMBLY_MEMORY,
                4096,
                HostOptions.DEFAULT_REASSEMBLY_TIMEOUT.toNanos(),
                net::nanoTime);
        stack6.startReassembly();
      }
      return engine;
    } finally {
      net.exit();
    }
  }

  void tick() {
    if (engine != null) {
      engine.tick();
      localReassembly.expire();
      stack6.expire();
    }
  }

  static Set<Capability> capabilities() {
    return CAPABILITIES;
  }

  // ---------------------------------------------------------------- the wire

  /**
   * Delivers an IP packet to this node as if it had just arrived from the wire on an interface: it
   * goes through the node's stack and divert engine exactly like a frame from a link. Useful to
   * replay recorded traffic into a simulated host, and for benchmarks.
   *
   * @param packet the IP packet, from position to limit; copied, not modified
   * @param interfaceName the receiving interface, e.g. {@code eth0}
   * @throws IllegalArgumentException if the node has no such interface
   */
  public void receiveFrame(ByteBuffer packet, String interfaceName) {
    // a replay or a benchmark passes the same name string every time: remember its index
    LastFrame last = lastFrame;
    int index = last != null && last.name == interfaceName ? last.index : 0;
    if (index == 0) {
      for (Port p : ports) {
        if (p.nif.name().equals(interfaceName)) {
          index = p.nif.index();
        }
      }
      if (index == 0) {
        throw new IllegalArgumentException(name + " has no interface " + interfaceName);
      }
      lastFrame = new LastFrame(interfaceName, index); // an interface keeps its name and index
    }
    net.enter();
    try {
      net.send(packet, this, index);
    } finally {
      net.exit();
    }
  }

  /** A frame arrived on an interface; inside the network's section. */
  void arrive(ByteBuffer b, int ifIndex) {
    for (SimCapture c : captures) {
      c.add(b);
    }
    if (b.remaining() > 0 && (b.get(b.position()) & 0xf0) == 0x60) {
      // ipv6_rcv (ip6_rcv_core, net/ipv6/ip6_input.c) before PREROUTING: at least 40 bytes,
      // version 6, a payload length within the bytes (trailing bytes trimmed), and a hop-by-hop
      // header parsed (ipv6_parse_hopopts). Other extension headers are read later, so a chain
      // that runs past the end still meets the input chain's rules (S56).
      int len = b.remaining();
      if (len < Ipv6View.HEADER_LENGTH) {
        return;
      }
      arrival6.wrap(b);
      int end = Ipv6View.HEADER_LENGTH + arrival6.payloadLength();
      if (arrival6.version() != 6 || end > len) {
        return;
      }
      int at = b.position();
      if (arrival6.nextHeader() == Ipv6View.NEXT_HOP_BY_HOP
          && (end < Ipv6View.HEADER_LENGTH + 2
              || end < Ipv6View.HEADER_LENGTH + ((b.get(at + 41) & 0xff) + 1) * 8)) {
        return;
      }
      b.limit(at + end);
      DivertEngine e = engine;
      (e != null ? e : engine()).receiveInSection(b, ifIndex);
      return;
    }
    // ip_rcv: a bad header or checksum is dropped before anything else sees the packet.
    arrival.wrap(b);
    if (arrival.check() != null || !Checksums.isIpv4HeaderValid(b, b.position())) {
      return;
    }
    b.limit(b.position() + arrival.totalLength());
    DivertEngine e = engine; // set once, inside the section we are in
    (e != null ? e : engine()).receiveInSection(b, ifIndex); // drain() runs inside the section
  }

  private final class Environment implements StackEnvironment {
    @Override
    public List<NetInterface> interfaces() {
      List<NetInterface> l = new ArrayList<>();
      for (Port p : ports) {
        l.add(p.nif);
      }
      return l;
    }

    @Override
    public int route(int destination) {
      if (isLocal(destination)) {
        return LOOPBACK;
      }
      int best = 0;
      int bestLen = -1;
      for (Port p : ports) {
        NetInterface n = p.nif;
        if (n.index() == LOOPBACK) {
          continue;
        }
        int len = n.prefixLength();
        int mask = len == 0 ? 0 : -1 << (32 - len);
        if ((destination & mask) == (p.addressBits & mask) && len > bestLen) {
          best = n.index();
          bestLen = len;
        }
      }
      for (int[] r : routes) {
        int mask = r[1] == 0 ? 0 : -1 << (32 - r[1]);
        if ((destination & mask) == r[0] && r[1] > bestLen) {
          best = r[2];
          bestLen = r[1];
        }
      }
      return best;
    }

    @Override
    public boolean isLocal(int address) {
      if ((address >>> 24) == 127) {
        return true;
      }
      for (Port p : ports) {
        if (p.addressBits == address) {
          return true;
        }
      }
      return false;
    }

    @Override
    public int route6(ByteBuffer packet, int offset) {
      return stack6.route(packet, offset);
    }

    @Override
    public boolean isLocal6(ByteBuffer packet, int offset) {
      return stack6.isLocal(packet, offset);
    }

    @Override
    public boolean forwarding() {
      return forwarding;
    }

    @Override
    public void deliverLocal(ByteBuffer packet, int inInterface) {
      if ((packet.get(packet.position()) & 0xf0) == 0x60) {
        stack6.deliverLocal(packet, inInterface);
        return;
      }
      ByteBuffer whole = localReassembly.offer(packet); // ip_local_deliver reassembles
      if (whole != null) {
        receiveLocal(whole, inInterface);
      }
    }

    @Override
    public void transmit(ByteBuffer packet, int outInterface, int mark) {
      for (SimMarkCounter c : markCounters) {
        c.offer(packet, mark); // the mark stays on this node, as a kernel's does in its namespace
      }
      transmit(packet, outInterface);
    }

    @Override
    public void transmit(ByteBuffer packet, int outInterface) {
      Port p = ports.get(outInterface - 1);
      if (outInterface == LOOPBACK) {
        net.send(packet, SimNode.this, LOOPBACK);
      } else if (p.peer != null) {
        net.send(packet, p.peer.node, p.peer.nif.index());
      }
    }

    @Override
    public long nanoTime() {
      return net.nanoTime();
    }

    @Override
    public org.divert4j.TimestampClock timestampClock() {
      return org.divert4j.TimestampClock.VIRTUAL;
    }

    @Override
    public void enter() {
      net.enter();
    }

    @Override
    public void exit() {
      net.exit();
    }
  }

  // ---------------------------------------------------------------- the local stack

  private void receiveLocal(ByteBuffer d, int inIf) {
    local.wrap(d);
    int base = d.position();
    int proto = local.protocol();
    if (!Checksums.isTransportValid(d, base)) {
      return; // a bad UDP/ICMP checksum: the stack drops it (S41 relies on this)
    }
    int off = local.payloadOffset();
    int plen = local.payloadLength();
    if (proto == 17 && plen >= 8) {
      int dport = d.getShort(off + 2) & 0xffff;
      SimUdpEndpoint e = udp.get(dport);
      if (e != null) {
        byte[] payload = new byte[plen - 8];
        d.get(off + 8, payload);
        e.deliver(
            new Datagram(Ipv4.fromInt(local.source()), d.getShort(off) & 0xffff, payload, inIf));
      }
    } else if (proto == 1 && plen >= 8) {
      int type = d.get(off) & 0xff;
      if (type == 8) {
        byte[] body = new byte[plen - 8];
        d.get(off + 8, body);
        ByteBuffer reply =
            Ipv4Builder.icmpEchoReply(d.getShort(off + 4) & 0xffff, d.getShort(off + 6) & 0xffff)
                .source(local.destination())
                .destination(local.source())
                .identification(nextId())
                .payload(body)
                .build();
        engine().originate(reply);
      } else if (type == 0) {
        echoReplyArrived(
            (long) (d.getShort(off + 4) & 0xffff) << 16 | (d.getShort(off + 6) & 0xffff));
      }
    }
  }

  /** An echo reply arrived (its key: family bit, identifier and sequence). */
  void echoReplyArrived(long key) {
    echoLock.lock();
    try {
      echoReplies.add(key);
      echoArrived.signalAll();
    } finally {
      echoLock.unlock();
    }
  }

  SimUdpEndpoint udpEndpoint(int port) {
    return udp.get(port);
  }

  SimNetwork network() {
    return net;
  }

  private int nextId() {
    nextId = (nextId + 1) & 0xffff;
    return nextId == 0 ? (nextId = 1) : nextId;
  }

  // ---------------------------------------------------------------- TestNode

  @Override
  public String name() {
    return name;
  }

  @Override
  public Inet4Address address() {
    return ports.size() > 1 ? ports.get(1).nif.address() : ports.get(0).nif.address();
  }

  @Override
  public List<NetInterface> interfaces() {
    net.enter();
    try {
      List<NetInterface> l = new ArrayList<>();
      for (Port p : ports) {
        l.add(p.nif);
      }
      return l;
    } finally {
      net.exit();
    }
  }

  private static Inet4Address ipv4(InetAddress destination) {
    return (Inet4Address) destination;
  }

  @Override
  public void sendUdp(InetAddress destination, int sourcePort, int destinationPort, byte[] payload)
      throws IOException {
    sendUdp(destination, sourcePort, destinationPort, payload, 0);
  }

  /** {@inheritDoc} The datagram enters this node's divert engine with the mark. */
  @Override
  public void sendUdp(
      InetAddress destination, int sourcePort, int destinationPort, byte[] payload, int mark)
      throws IOException {
    if (destination instanceof Inet6Address six) {
      stack6.sendUdp(six, sourcePort, destinationPort, payload, mark, ports);
      return;
    }
    if (payload.length > 65507) {
      throw new IOException("UDP payload too large: " + payload.length + " bytes (max 65507)");
    }
    int dst = Ipv4.toInt(ipv4(destination));
    net.enter();
    try {
      int src = sourceFor(dst);
      ByteBuffer d =
          Ipv4Builder.udp(sourcePort, destinationPort)
              .source(src)
              .destination(dst)
              .identification(nextId())
              .payload(payload)
              .build();
      if (!engine().originate(d, mark)) {
        throw new IOException("no route to " + destination.getHostAddress() + " from " + name);
      }
    } finally {
      net.exit();
    }
  }

  /** {@inheritDoc} Counted where this node's divert engine transmits ({@link SimMarkCounter}). */
  @Override
  public MarkCounter countOutgoingMarks(int destinationPort, int significant, int... marks) {
    return new SimMarkCounter(destinationPort, significant, marks, markCounters);
  }

  @Override
  public void sendRaw(ByteBuffer packet) throws IOException {
    if (packet.remaining() > 0 && (packet.get(packet.position()) & 0xf0) == 0x60) {
      stack6.sendRaw(packet, ports);
      return;
    }
    int len = packet.remaining();
    if (len < 20) {
      throw new IOException("raw packet shorter than an IP header: " + len + " bytes");
    }
    ByteBuffer p = ByteBuffer.allocate(len);
    p.put(0, packet, packet.position(), len);
    // Like Linux raw IP_HDRINCL sockets (raw(7)): total length and checksum are filled in.
    p.putShort(2, (short) len);
    Checksums.fillIpv4Header(p, 0);
    int dst = p.getInt(16);
    net.enter();
    try {
      int out = new Environment().route(dst);
      if (out == 0) {
        throw new IOException("no route to " + Ipv4.toString(dst) + " from " + name);
      }
      int mtu = ports.get(out - 1).nif.mtu();
      if (len > mtu) {
        throw new IOException("Message too long: " + len + " bytes, MTU " + mtu);
      }
      engine().originate(p);
    } finally {
      net.exit();
    }
  }

  private int sourceFor(int dst) throws IOException {
    int out = new Environment().route(dst);
    if (out == 0) {
      throw new IOException("no route to " + Ipv4.toString(dst) + " from " + name);
    }
    return out == LOOPBACK ? dst : ports.get(out - 1).addressBits;
  }

  @Override
  public UdpEndpoint openUdp(int port) throws IOException {
    net.enter();
    try {
      if (udp.containsKey(port)) {
        throw new IOException("UDP port " + port + " is in use on " + name);
      }
      SimUdpEndpoint e = new SimUdpEndpoint(this, port);
      udp.put(port, e);
      return e;
    } finally {
      net.exit();
    }
  }

  void closeUdp(SimUdpEndpoint e) {
    net.enter();
    try {
      udp.remove(e.port(), e);
    } finally {
      net.exit();
    }
  }

  @Override
  public boolean ping(InetAddress destination, int payloadSize, Duration timeout)
      throws IOException {
    int ident;
    int seq;
    boolean v6 = destination instanceof Inet6Address;
    net.enter();
    try {
      ident = 0x5100 + (name.hashCode() & 0xff);
      seq = nextEcho++ & 0xffff;
      byte[] body = new byte[payloadSize];
      for (int i = 0; i < body.length; i++) {
        body[i] = (byte) i;
      }
      boolean routed;
      if (v6) {
        Inet6Address six = (Inet6Address) destination;
        int out = stack6.egress(six, ports);
        ByteBuffer req =
            Ipv6Builder.icmpv6EchoRequest(ident, seq)
                .source(SimStack6.source(six, ports.get(out - 1)))
                .destination(six.getAddress())
                .payload(body)
                .build();
        routed = engine().originate(req, 0, out);
      } else {
        int dst = Ipv4.toInt(ipv4(destination));
        ByteBuffer req =
            Ipv4Builder.icmpEchoRequest(ident, seq)
                .source(sourceFor(dst))
                .destination(dst)
                .identification(nextId())
                .payload(body)
                .build();
        routed = engine().originate(req);
      }
      if (!routed) {
        throw new IOException("no route to " + destination.getHostAddress());
      }
    } finally {
      net.exit();
    }
    long key = v6 ? SimStack6.echoKey(ident, seq) : (long) ident << 16 | seq;
    long left = timeout.toNanos();
    echoLock.lock();
    try {
      while (!echoReplies.remove(key)) {
        if (left <= 0) {
          return false;
        }
        left = echoArrived.awaitNanos(left);
      }
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while waiting for an echo reply", e);
    } finally {
      echoLock.unlock();
    }
  }

  @Override
  public PacketCapture capture() {
    SimCapture c = new SimCapture(captures);
    captures.add(c);
    return c;
  }

  @Override
  public String toString() {
    return "sim node " + name;
  }
}
