package org.divert4j.rawsocket.internal;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.DivertException;
import org.divert4j.Ipv4;
import org.divert4j.NetInterface;
import org.divert4j.testbed.PacketCapture;
import org.divert4j.testbed.TestNode;
import org.divert4j.testbed.UdpEndpoint;
import org.divert4j.testbed.linux.Netns;
import org.divert4j.testbed.linux.Shell;

/**
 * A node of the kernel test bed: one network namespace with one or two veth interfaces. Sockets are
 * made by a thread inside the namespace; ping is iputils {@code ping} run there with {@code
 * nsenter}. Thread-safe.
 */
final class KernelTestNode implements TestNode, AutoCloseable {
  /** One interface of the node and what is at the other end of its cable. */
  record Link(NetInterface iface, int network, int prefix, byte[] peerMac) {}

  private final String name;
  private final Netns netns;
  private final NsThread thread;
  private final Inet4Address address;
  private final List<Link> links;
  private final List<AutoCloseable> open = new ArrayList<>();
  private int packetFd = -1;
  private final ByteBuffer sll = Native.allocate(Native.SIZEOF_SOCKADDR_LL);
  private final ByteBuffer out = Native.allocate(65536);
  private final ByteBuffer msg = Native.allocate(80);

  KernelTestNode(String name, Netns netns, Inet4Address address, List<Link> links)
      throws DivertException {
    this.name = name;
    this.netns = netns;
    this.address = address;
    this.links = List.copyOf(links);
    this.thread = NsThread.start(netns.path().toString(), name);
  }

  Netns netns() {
    return netns;
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
    List<NetInterface> l = new ArrayList<>();
    for (Link k : links) {
      l.add(k.iface());
    }
    return l;
  }

  private Link linkFor(int dst) {
    for (Link k : links) {
      int mask = k.prefix() == 0 ? 0 : -1 << (32 - k.prefix());
      if ((dst & mask) == (k.network() & mask)) {
        return k;
      }
    }
    return links.get(0); // the default route goes through the first link
  }

  private <T> T inside(java.util.concurrent.Callable<T> task) throws IOException {
    try {
      return thread.call(task);
    } catch (DivertException e) {
      throw new IOException(e.getMessage(), e);
    }
  }

  @Override
  public void sendUdp(Inet4Address destination, int sourcePort, int destinationPort, byte[] payload)
      throws IOException {
    inside(
        () -> {
          try (DatagramSocket s = new DatagramSocket(null)) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(sourcePort));
            s.send(new DatagramPacket(payload, payload.length, destination, destinationPort));
          }
          return null;
        });
  }

  @Override
  public synchronized void sendRaw(ByteBuffer packet) throws IOException {
    int len = packet.remaining();
    if (len < 20) {
      throw new IOException("not an IP packet: " + len + " bytes");
    }
    if (packetFd < 0) {
      packetFd =
          inside(
              () ->
                  Native.socket(
                      Native.AF_PACKET,
                      Native.SOCK_DGRAM,
                      Short.reverseBytes((short) Native.ETH_P_IP) & 0xffff,
                      "AF_PACKET"));
    }
    int dst =
        (packet.get(packet.position() + 16) & 0xff) << 24
            | (packet.get(packet.position() + 17) & 0xff) << 16
            | (packet.get(packet.position() + 18) & 0xff) << 8
            | (packet.get(packet.position() + 19) & 0xff);
    Link k = linkFor(dst);
    // AF_PACKET sends the bytes exactly as given (no checksum, ID or length fix-up, no
    // fragmentation), to the MAC at the other end of the cable
    sll.putShort(0, (short) Native.AF_PACKET);
    sll.putShort(2, Short.reverseBytes((short) Native.ETH_P_IP));
    sll.putInt(4, k.iface().index());
    sll.putShort(8, (short) 1);
    sll.put(10, (byte) 0);
    sll.put(11, (byte) 6);
    sll.put(12, k.peerMac());
    out.put(0, packet, packet.position(), len);
    long r =
        Native.sendTo(
            packetFd,
            msg,
            Native.address(out),
            len,
            Native.address(sll),
            Native.SIZEOF_SOCKADDR_LL);
    if (r < 0) {
      throw new IOException(
          "raw send of " + len + " bytes on " + name + " failed: " + Errors.name(Native.errno()));
    }
  }

  @Override
  public UdpEndpoint openUdp(int port) throws IOException {
    NodeUdpEndpoint e = inside(() -> NodeUdpEndpoint.open(port));
    synchronized (open) {
      open.add(e);
    }
    return e;
  }

  @Override
  public boolean ping(Inet4Address destination, int payloadSize, Duration timeout)
      throws IOException {
    double secs = Math.max(0.05, timeout.toMillis() / 1000.0);
    Shell.Result r =
        Shell.run(
            null,
            timeout.plusSeconds(5),
            Netns.inside(
                netns.path().toString(),
                List.of(
                    "ping",
                    "-n",
                    "-q",
                    "-c",
                    "1",
                    "-s",
                    Integer.toString(payloadSize),
                    "-W",
                    String.format(java.util.Locale.ROOT, "%.3f", secs),
                    destination.getHostAddress())));
    if (r.exitCode() == 0) {
      return true;
    }
    if (r.exitCode() == 1) {
      return false; // no reply
    }
    throw new IOException("ping failed: " + r.describe());
  }

  @Override
  public PacketCapture capture() throws IOException {
    int[] idx = new int[links.size()];
    for (int i = 0; i < idx.length; i++) {
      idx[i] = links.get(i).iface().index();
    }
    NodeCapture c = inside(() -> NodeCapture.open(idx, name));
    synchronized (open) {
      open.add(c);
    }
    return c;
  }

  @Override
  public synchronized void close() {
    synchronized (open) {
      for (AutoCloseable c : open) {
        try {
          c.close();
        } catch (Exception e) {
          // closing everything regardless
        }
      }
      open.clear();
    }
    if (packetFd >= 0) {
      Native.close(packetFd);
      packetFd = -1;
    }
    thread.close();
  }

  @Override
  public String toString() {
    return name + " " + Ipv4.toString(Ipv4.toInt(address)) + " in " + netns.name();
  }
}
