package org.divert4j.linux.testbed;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;
import org.divert4j.linux.Datagrams;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Native;
import org.divert4j.linux.SocketOptions;
import org.divert4j.packet.Ipv6View;
import org.divert4j.testbed.PacketCapture;

/**
 * Captures the IPv4 packets arriving at a {@link NamespaceNode}'s interfaces: one {@code
 * AF_PACKET}/{@code SOCK_DGRAM} socket for {@code ETH_P_IP} on all interfaces of the namespace (so
 * each packet starts at its IP header), keeping those that arrived (not sent) on one of the node's
 * interfaces, read by one daemon thread until closed. AF_PACKET taps run before the IP layer, so
 * fragments are seen as they arrived, and so are packets a divert rule takes. Each packet is kept
 * up to its IP total length (a link may pad short frames).
 *
 * <p>Thread-safe. The socket is registered when {@link #open} returns, so everything arriving
 * afterwards is captured.
 */
final class NodeCapture implements PacketCapture {
  private static final int SLICE_MILLIS = 50;
  private final int fd;
  private final int[] interfaces;
  private final Runnable onClose;
  private final List<byte[]> packets = new ArrayList<>();
  private final Thread reader;
  private final AtomicBoolean closed = new AtomicBoolean();

  private NodeCapture(int fd, int[] interfaces, String name, Runnable onClose) {
    this.fd = fd;
    this.interfaces = interfaces.clone();
    this.onClose = onClose;
    this.reader = new Thread(this::run, "d4j-capture-" + name);
    reader.setDaemon(true);
  }

  /**
   * Opens the socket and starts reading.
   *
   * @param netns the node's namespace, where the socket is made
   * @param interfaces the indexes of the node's interfaces
   */
  static NodeCapture open(Netns netns, int[] interfaces, String name, Runnable onClose)
      throws IOException {
    // ETH_P_ALL: IPv4 and IPv6 (keep() leaves the rest out by sll_protocol)
    int proto = Short.toUnsignedInt(Short.reverseBytes((short) Native.ETH_P_ALL));
    int fd;
    try {
      fd = netns.socket(Native.AF_PACKET, Native.SOCK_DGRAM, proto);
    } catch (IOException e) {
      throw new IOException("cannot capture on " + name + ": " + e.getMessage(), e);
    }
    try {
      SocketOptions.setIntOption(fd, Native.SOL_SOCKET, Native.SO_RCVBUF, 8 << 20);
      try {
        SocketOptions.setIntOption(fd, Native.SOL_PACKET, Native.PACKET_IGNORE_OUTGOING, 1);
      } catch (ErrnoException e) {
        // before Linux 4.20: outgoing packets are left out by their sll_pkttype instead
      }
    } catch (IOException | RuntimeException e) {
      Native.close(fd);
      throw e;
    }
    NodeCapture c = new NodeCapture(fd, interfaces, name, onClose);
    c.reader.start();
    return c;
  }

  private void run() {
    ByteBuffer buf = NodeUdpEndpoint.direct(65536);
    ByteBuffer sll = NodeUdpEndpoint.direct(Native.SIZEOF_SOCKADDR_LL);
    try {
      while (!closed.get()) {
        if (!Datagrams.poll(fd, SLICE_MILLIS)) {
          continue;
        }
        while (!closed.get()) {
          buf.clear();
          sll.clear();
          int r = Datagrams.receive(fd, buf, sll, null);
          if (r < 0) {
            break;
          }
          byte[] p = keep(buf, Math.min(r, buf.capacity()), sll, interfaces);
          if (p != null) {
            synchronized (packets) {
              packets.add(p);
              packets.notifyAll();
            }
          }
        }
      }
    } catch (IOException e) {
      // PacketCapture has no way to report it: say it where the test's output shows it, and let
      // waits end at once rather than time out on a capture that no longer runs
      System.err.println(reader.getName() + " stopped: " + e);
    } finally {
      synchronized (packets) {
        packets.notifyAll();
      }
    }
  }

  /**
   * @param buf the packet read, from index 0
   * @param length its length
   * @param sll the {@code sockaddr_ll} it came with (ifindex at 4, pkttype at 10)
   * @param interfaces the indexes of the node's interfaces
   * @return the IP packet in {@code buf[0, length)} if it arrived on one of the node's interfaces,
   *     cut to its total length; else null
   */
  static byte[] keep(ByteBuffer buf, int length, ByteBuffer sll, int[] interfaces) {
    if ((sll.get(10) & 0xff) == Native.PACKET_OUTGOING || !ours(interfaces, sll.getInt(4))) {
      return null;
    }
    int etherType = (sll.get(2) & 0xff) << 8 | (sll.get(3) & 0xff); // sll_protocol
    int n = length;
    if (etherType == Native.ETH_P_IP) {
      if (n >= 20 && (buf.get(0) & 0xf0) == 0x40) {
        int total = (buf.get(2) & 0xff) << 8 | (buf.get(3) & 0xff);
        if (total >= 20 && total < n) {
          n = total;
        }
      }
    } else if (etherType == Native.ETH_P_IPV6) {
      if (n >= 40 && (buf.get(0) & 0xf0) == 0x60) {
        int total = 40 + ((buf.get(4) & 0xff) << 8 | (buf.get(5) & 0xff));
        if (total > 40 && total < n) {
          n = total;
        }
        if (isInfrastructure(buf, n)) {
          return null;
        }
      }
    } else {
      return null; // ARP and other link traffic
    }
    byte[] p = new byte[n];
    buf.get(0, p);
    return p;
  }

  /**
   * Whether an IPv6 packet is the kernel's own link upkeep, which no test sends and a capture
   * leaves out: router solicitations and advertisements, neighbour solicitations and
   * advertisements, redirects (ICMPv6 133-137) and MLD (130-132, 143).
   */
  private static boolean isInfrastructure(ByteBuffer buf, int n) {
    long w = Ipv6View.walk(buf, 0, n);
    if (Ipv6View.pastEnd(w) || Ipv6View.upperProtocol(w) != Ipv6View.PROTOCOL_ICMPV6) {
      return false;
    }
    int off = Ipv6View.upperOffset(w);
    if (off >= n) {
      return false;
    }
    int type = buf.get(off) & 0xff;
    return (type >= 130 && type <= 137) || type == 143;
  }

  private static boolean ours(int[] interfaces, int ifindex) {
    for (int i : interfaces) {
      if (i == ifindex) {
        return true;
      }
    }
    return false;
  }

  @Override
  public List<byte[]> packets() {
    synchronized (packets) {
      List<byte[]> copy = new ArrayList<>(packets.size());
      for (byte[] p : packets) {
        copy.add(p.clone());
      }
      return copy;
    }
  }

  @Override
  public List<byte[]> await(Predicate<byte[]> filter, int count, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (packets) {
      while (true) {
        List<byte[]> match = new ArrayList<>();
        for (byte[] p : packets) {
          if (filter.test(p)) {
            match.add(p.clone());
          }
        }
        long left = deadline - System.nanoTime();
        if (match.size() >= count || left <= 0 || closed.get() || !reader.isAlive()) {
          return match;
        }
        packets.wait(Math.max(1, left / 1_000_000));
      }
    }
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    try {
      reader.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    // Only once the reader has left: a descriptor number closed under it could be reused.
    Native.close(fd);
    synchronized (packets) {
      packets.notifyAll();
    }
    onClose.run();
  }
}
