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
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.divert4j.Capability;
import org.divert4j.DivertHost;
import org.divert4j.HostOptions;
import org.divert4j.IpPrefix;
import org.divert4j.Ipv4;
import org.divert4j.Ipv6Addresses;
import org.divert4j.NetInterface;
import org.divert4j.packet.Ipv6Builder;
import org.divert4j.stack.DivertEngine;
import org.divert4j.stack.StackEnvironment;
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
  private final Map<Integer, SimUdpEndpoint> udp = new HashMap<>();
  private final SimEchoReplies echoReplies = new SimEchoReplies();
  private final List<SimCapture> captures = new CopyOnWriteArrayList<>();
  private final List<SimMarkCounter> markCounters = new CopyOnWriteArrayList<>();
  private final SimIpReceive ipReceive = new SimIpReceive();
  private final SimStack6 stack6 = new SimStack6(this);
  private final SimStack4 stack4;
  private volatile boolean forwarding;
  private DivertEngine engine;
  private volatile LastFrame lastFrame; // receiveFrame's last interface name and its index

  private record LastFrame(String name, int index) {}

  private String engineBackend = "sim";
  private SimProvider.EngineFactory engineFactory = DivertEngine::new;
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
    this.stack4 = new SimStack4(name, net, ports, udp, echoReplies, this::engine);
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
          stack4
              .routes()
              .add(Ipv4.toInt((Inet4Address) parsed.address()), parsed.length(), p.nif.index());
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
        stack4.startReassembly(net);
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
      stack4.expire();
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
    if (!ipReceive.accept(b)) {
      return;
    }
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
      return stack4.routes().route(destination);
    }

    @Override
    public boolean isLocal(int address) {
      return stack4.routes().isLocal(address);
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
      stack4.deliver(packet, inInterface);
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

  /** An echo reply arrived (its key: family bit, identifier and sequence). */
  void echoReplyArrived(long key) {
    echoReplies.arrived(key);
  }

  SimUdpEndpoint udpEndpoint(int port) {
    return udp.get(port);
  }

  SimNetwork network() {
    return net;
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
    stack4.sendUdp((Inet4Address) destination, sourcePort, destinationPort, payload, mark);
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
    stack4.sendRaw(packet);
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
        ByteBuffer req = stack4.echoRequest((Inet4Address) destination, ident, seq, body);
        routed = engine().originate(req);
      }
      if (!routed) {
        throw new IOException("no route to " + destination.getHostAddress());
      }
    } finally {
      net.exit();
    }
    long key = v6 ? SimStack6.echoKey(ident, seq) : (long) ident << 16 | seq;
    return echoReplies.await(key, timeout);
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
