package org.divert4j.linux.testbed;

import java.io.IOException;
import java.net.DatagramSocket;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import org.divert4j.IpFamily;
import org.divert4j.IpPrefix;
import org.divert4j.Ipv4;
import org.divert4j.NetInterface;
import org.divert4j.linux.Datagrams;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Native;
import org.divert4j.linux.NetnsThread;
import org.divert4j.linux.Shell;
import org.divert4j.linux.SocketOptions;
import org.divert4j.testbed.MarkCounter;
import org.divert4j.testbed.PacketCapture;
import org.divert4j.testbed.TestNode;
import org.divert4j.testbed.UdpEndpoint;

/**
 * A {@link TestNode} that is a real Linux IP stack: a network namespace with one or more veth
 * interfaces ({@link Link}s). Its sockets are created by a {@link NetnsThread} inside the namespace
 * through the floor's binding ({@link Native}, {@link Datagrams}):
 *
 * <ul>
 *   <li>{@link #sendUdp} uses a {@link DatagramSocket}, so the node's stack fragments as for any
 *       program;
 *   <li>{@link #sendRaw} writes the packet with an {@code AF_PACKET} socket straight onto the link
 *       toward the destination, addressed to the MAC at the other end of it: the bytes go out
 *       exactly as given (no checksum, length or ID fix-up, no fragmentation, no ARP wait, and the
 *       node's own firewall does not see it);
 *   <li>{@link #openUdp} endpoints report the interface each datagram arrived on ({@code
 *       IP_PKTINFO});
 *   <li>{@link #ping} runs iputils {@code ping} in the namespace ({@code nsenter}), DF clear;
 *   <li>{@link #capture()} taps the node's interfaces with {@code AF_PACKET}.
 * </ul>
 *
 * <p>Thread-safe. {@link #close()} closes every endpoint and capture the node opened, its raw
 * socket and its thread (not the namespace: the test bed owns that).
 */
public final class NamespaceNode implements TestNode, AutoCloseable {
  /**
   * One interface of a node and what is at the other end of its cable.
   *
   * @param iface the interface (its address is the node's address on it)
   * @param network the network of the interface's address, host order
   * @param prefixLength the length of the network prefix
   * @param neighbourMac the MAC address raw packets on this link are sent to (6 bytes): the other
   *     end of the cable, or whatever answers for the destination beyond it
   */
  public record Link(NetInterface iface, int network, int prefixLength, byte[] neighbourMac) {
    /**
     * Checks the components and copies the MAC.
     *
     * @param iface the interface
     * @param network the network, host order
     * @param prefixLength the prefix length
     * @param neighbourMac the neighbour's MAC address, 6 bytes
     */
    public Link {
      Objects.requireNonNull(iface, "iface");
      if (neighbourMac == null || neighbourMac.length != 6) {
        throw new IllegalArgumentException("a MAC address has 6 bytes");
      }
      neighbourMac = neighbourMac.clone();
    }

    /**
     * Describes one end of a veth pair, reading its index from the system ({@code ip}; blocks).
     *
     * @param end the veth end
     * @param address its address, host order
     * @param prefixLength the prefix length of that address
     * @param mtu its MTU
     * @param neighbourMac where raw packets on it go, 6 bytes
     * @return the link
     * @throws IOException if {@code ip} fails
     */
    public static Link of(
        VethPair.End end, int address, int prefixLength, int mtu, byte[] neighbourMac)
        throws IOException {
      return of(end, address, prefixLength, mtu, neighbourMac, List.of());
    }

    /**
     * Describes one end of a veth pair with IPv6 addresses besides its IPv4 one.
     *
     * @param end the veth end
     * @param address its IPv4 address, host order
     * @param prefixLength the prefix length of that address
     * @param mtu its MTU
     * @param neighbourMac where raw packets on it go, 6 bytes
     * @param ipv6 its IPv6 addresses with their prefixes (global ones, then link-local)
     * @return the link
     * @throws IOException if {@code ip} fails
     */
    public static Link of(
        VethPair.End end,
        int address,
        int prefixLength,
        int mtu,
        byte[] neighbourMac,
        List<IpPrefix> ipv6)
        throws IOException {
      int mask = prefixLength == 0 ? 0 : -1 << (32 - prefixLength);
      List<IpPrefix> all = new ArrayList<>();
      all.add(new IpPrefix(Ipv4.fromInt(address), prefixLength));
      all.addAll(ipv6);
      NetInterface i = new NetInterface(end.name(), end.index(), all, mtu);
      return new Link(i, address & mask, prefixLength, neighbourMac);
    }

    /** Whether an IPv6 destination is on this link (one of its prefixes holds it). */
    boolean contains6(InetAddress destination) {
      for (IpPrefix p : iface.addresses()) {
        if (p.family() == IpFamily.IPV6 && p.contains(destination)) {
          return true;
        }
      }
      return false;
    }

    @Override
    public byte[] neighbourMac() {
      return neighbourMac.clone();
    }

    boolean contains(int destination) {
      int mask = prefixLength == 0 ? 0 : -1 << (32 - prefixLength);
      return (destination & mask) == (network & mask);
    }
  }

  private final String name;
  private final Netns netns;
  private final NetnsThread thread;
  private final Inet4Address address;
  private final List<Link> links;
  private final List<NetInterface> interfaces;
  private final List<AutoCloseable> open = new CopyOnWriteArrayList<>();
  private final NodeRawSender raw;
  private boolean closed;

  /**
   * Makes a node of a namespace and starts its thread there (blocks until it is in).
   *
   * @param name a short name, e.g. {@code peer}
   * @param netns the namespace, owned by the caller
   * @param address the node's address on its first link
   * @param links its interfaces, the first one the way of its default route
   * @throws IOException if the namespace cannot be entered
   */
  public NamespaceNode(String name, Netns netns, Inet4Address address, List<Link> links)
      throws IOException {
    this(name, netns, address, links, null);
  }

  /**
   * Makes a node whose {@link #interfaces()} are not its own links' interfaces but the interfaces a
   * divert host standing in front of it receives its traffic on (an inline backend: the node is the
   * host behind the divert point, S6). Its links still carry its raw sends and captures.
   *
   * @param name a short name, e.g. {@code peer}
   * @param netns the namespace, owned by the caller
   * @param address the node's address on its first link
   * @param links its interfaces, the first one the way of its default route
   * @param interfaces what {@link #interfaces()} reports, or null for the links' interfaces
   * @throws IOException if the namespace cannot be entered
   */
  public NamespaceNode(
      String name,
      Netns netns,
      Inet4Address address,
      List<Link> links,
      List<NetInterface> interfaces)
      throws IOException {
    if (links.isEmpty()) {
      throw new IllegalArgumentException("a node needs a link");
    }
    this.name = name;
    this.netns = netns;
    this.address = address;
    this.links = List.copyOf(links);
    if (interfaces == null) {
      List<NetInterface> own = new ArrayList<>(links.size());
      for (Link k : links) {
        own.add(k.iface());
      }
      this.interfaces = List.copyOf(own);
    } else {
      this.interfaces = List.copyOf(interfaces);
    }
    this.thread = netns.newThread(name);
    this.raw = new NodeRawSender(name, netns, this.links);
  }

  /**
   * @return the node's namespace
   */
  public Netns netns() {
    return netns;
  }

  /**
   * @return the thread inside the node's namespace, for work the test bed does there; null for a
   *     node in a namespace of a broker other than this JVM's own (see {@link Netns#newThread})
   */
  public NetnsThread thread() {
    return thread;
  }

  /**
   * @return the node's links
   */
  public List<Link> links() {
    return links;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public Inet4Address address() {
    return address;
  }

  @Override
  public List<NetInterface> interfaces() {
    return interfaces;
  }

  @Override
  public void sendUdp(InetAddress destination, int sourcePort, int destinationPort, byte[] payload)
      throws IOException {
    if (payload.length > 65507) {
      throw new IOException("UDP payload too large: " + payload.length + " bytes (max 65507)");
    }
    // a dual-stack socket as java.net.DatagramSocket makes, but made through the namespace
    // (Netns#socket), so that a node a broker serves can send too
    int fd = netns.socket(Native.AF_INET6, Native.SOCK_DGRAM, Native.IPPROTO_UDP);
    try {
      SocketOptions.setIntOption(fd, Native.IPPROTO_IPV6, IPV6_V6ONLY, 0);
      SocketOptions.setIntOption(fd, Native.SOL_SOCKET, Native.SO_REUSEADDR, 1);
      SocketOptions.setIntOption(fd, Native.SOL_SOCKET, Native.SO_SNDBUF, 1 << 20);
      ByteBuffer sa = NodeUdpEndpoint.direct(Native.SIZEOF_SOCKADDR_IN6);
      NodeUdpEndpoint.sockaddrIn6(sa, new byte[16], sourcePort);
      Datagrams.bind(fd, sa);
      ByteBuffer data = NodeUdpEndpoint.direct(Math.max(1, payload.length));
      data.put(payload).flip();
      NodeUdpEndpoint.sockaddrIn6(sa, NodeUdpEndpoint.mapped(destination), destinationPort);
      Datagrams.sendTo(fd, data, sa);
    } catch (ErrnoException e) {
      throw new IOException(
          "UDP send to " + destination.getHostAddress() + " from " + name + " failed: " + e, e);
    } finally {
      Native.close(fd);
    }
  }

  /** IPV6_V6ONLY (linux/in6.h). */
  private static final int IPV6_V6ONLY = 26;

  @Override
  public void sendRaw(ByteBuffer packet) throws IOException {
    raw.send(packet);
  }

  @Override
  public UdpEndpoint openUdp(int port) throws IOException {
    NodeUdpEndpoint[] self = new NodeUdpEndpoint[1];
    int fd = netns.socket(Native.AF_INET6, Native.SOCK_DGRAM, Native.IPPROTO_UDP);
    self[0] = NodeUdpEndpoint.open(fd, port, () -> open.remove(self[0]));
    return track(self[0]);
  }

  /**
   * Made on the node's namespace thread, so the socket belongs to the node's namespace; for a node
   * only a broker reaches, see {@link BrokeredChannels}.
   */
  @Override
  public java.nio.channels.ServerSocketChannel listenTcp(int port) throws IOException {
    java.nio.channels.ServerSocketChannel ch;
    if (thread == null) {
      ch = java.nio.channels.ServerSocketChannel.open();
      BrokeredChannels.adoptTcp(ch, netns, ch::close);
      ch.bind(new java.net.InetSocketAddress(port));
    } else {
      ch =
          thread.run(
              () -> {
                java.nio.channels.ServerSocketChannel s =
                    java.nio.channels.ServerSocketChannel.open();
                s.bind(new java.net.InetSocketAddress(port));
                return s;
              });
    }
    return track(ch);
  }

  /**
   * Made on the node's namespace thread, so the socket belongs to the node's namespace; for a node
   * only a broker reaches, see {@link BrokeredChannels}.
   */
  @Override
  public java.nio.channels.SocketChannel openTcp() throws IOException {
    if (thread == null) {
      java.nio.channels.SocketChannel ch = java.nio.channels.SocketChannel.open();
      BrokeredChannels.adoptTcp(ch, netns, ch::close);
      return track(ch);
    }
    return track(thread.run(java.nio.channels.SocketChannel::open));
  }

  @Override
  public boolean ping(InetAddress destination, int payloadSize, Duration timeout)
      throws IOException {
    String ping =
        Shell.which("ping")
            .orElseThrow(() -> new IOException("no ping program (install iputils-ping)"))
            .toString();
    double secs = Math.max(0.05, timeout.toMillis() / 1000.0);
    Shell.Result r =
        netns.exec(
            null,
            timeout.plusSeconds(5),
            List.of(
                ping,
                "-n",
                "-q",
                "-c",
                "1",
                "-M",
                "dont",
                "-s",
                Integer.toString(payloadSize),
                "-W",
                String.format(Locale.ROOT, "%.3f", secs),
                destination.getHostAddress()));
    if (r.exitCode() == 0) {
      return true;
    }
    if (r.exitCode() == 1) {
      return false; // no reply
    }
    throw new IOException("ping failed: " + r.describe());
  }

  /** {@inheritDoc} Sent from a UDP socket with {@code SO_MARK} set, which needs CAP_NET_ADMIN. */
  @Override
  public void sendUdp(
      InetAddress destination, int sourcePort, int destinationPort, byte[] payload, int mark)
      throws IOException {
    if (!(destination instanceof Inet4Address four)) {
      throw new IOException("a marked UDP send goes to an IPv4 address here, not " + destination);
    }
    int dst = Ipv4.toInt(four);
    int fd = netns.socket(Native.AF_INET, Native.SOCK_DGRAM, Native.IPPROTO_UDP);
    try {
      SocketOptions.setIntOption(fd, Native.SOL_SOCKET, Native.SO_REUSEADDR, 1);
      SocketOptions.setIntOption(fd, Native.SOL_SOCKET, Native.SO_MARK, mark);
      ByteBuffer sa = NodeUdpEndpoint.direct(Native.SIZEOF_SOCKADDR_IN);
      NodeUdpEndpoint.sockaddrIn(sa, 0, sourcePort);
      Datagrams.bind(fd, sa);
      ByteBuffer data = NodeUdpEndpoint.direct(Math.max(1, payload.length));
      data.put(payload).flip();
      NodeUdpEndpoint.sockaddrIn(sa, dst, destinationPort);
      Datagrams.sendTo(fd, data, sa);
    } catch (ErrnoException e) {
      throw new IOException("cannot send a marked datagram: " + e.getMessage(), e);
    } finally {
      Native.close(fd);
    }
  }

  /**
   * {@inheritDoc} Counting lines in the node's {@code mangle POSTROUTING} ({@link
   * NodeMarkCounter}).
   */
  @Override
  public MarkCounter countOutgoingMarks(int destinationPort, int significant, int... marks)
      throws IOException {
    NodeMarkCounter[] self = new NodeMarkCounter[1];
    self[0] =
        NodeMarkCounter.open(
            netns, destinationPort, significant, marks, () -> open.remove(self[0]));
    return track(self[0]);
  }

  @Override
  public PacketCapture capture() throws IOException {
    int[] idx = new int[links.size()];
    for (int i = 0; i < idx.length; i++) {
      idx[i] = links.get(i).iface().index();
    }
    NodeCapture[] self = new NodeCapture[1];
    self[0] = NodeCapture.open(netns, idx, name, () -> open.remove(self[0]));
    return track(self[0]);
  }

  private synchronized <C extends AutoCloseable> C track(C c) throws IOException {
    if (closed) {
      try {
        c.close();
      } catch (Exception e) {
        // it was never handed out
      }
      throw new IOException("test node " + name + " is closed");
    }
    open.add(c);
    return c;
  }

  /**
   * Closes the node's endpoints, captures, raw socket and thread; blocks while captures stop.
   * Idempotent; never throws.
   */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    raw.close();
    for (AutoCloseable c : open) {
      try {
        c.close();
      } catch (Exception e) {
        // closing the rest matters more
      }
    }
    open.clear();
    if (thread != null) {
      thread.close();
    }
  }

  @Override
  public String toString() {
    return name + " " + address.getHostAddress() + " in " + netns.name();
  }
}
