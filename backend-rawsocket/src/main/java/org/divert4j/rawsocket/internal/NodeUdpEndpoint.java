package org.divert4j.rawsocket.internal;

import java.io.IOException;
import java.net.Inet4Address;
import java.nio.ByteBuffer;
import java.time.Duration;
import org.divert4j.Ipv4;
import org.divert4j.testbed.Datagram;
import org.divert4j.testbed.UdpEndpoint;

/**
 * A UDP socket of a test-bed node, opened natively inside the node's namespace so that it can ask
 * for IP_PKTINFO and report the interface each datagram arrived on. Thread-safe: receives and sends
 * are serialised separately; close wakes a blocked receive through an eventfd.
 */
final class NodeUdpEndpoint implements UdpEndpoint {
  private final int fd;
  private final int wake;
  private final int port;
  private final ByteBuffer rx = Native.allocate(65536 + 256);
  private final long rxAddr = Native.address(rx);
  private final ByteBuffer tx = Native.allocate(65536 + 64);
  private final long txAddr = Native.address(tx);
  private final ByteBuffer msg = Native.allocate(80);
  private final ByteBuffer polls = Native.allocate(16);
  private final long pollAddr = Native.address(polls);
  private volatile boolean closed;

  private static final int DATA = 256;

  private NodeUdpEndpoint(int fd, int wake, int port) {
    this.fd = fd;
    this.wake = wake;
    this.port = port;
    polls.putInt(0, fd);
    polls.putShort(4, Native.POLLIN);
    polls.putInt(8, wake);
    polls.putShort(12, Native.POLLIN);
    // msghdr at 0, sockaddr_in at 64, iovec at 80, control at 96 (128 bytes), data at DATA
    rx.putLong(0, rxAddr + 64);
    rx.putLong(16, rxAddr + 80);
    rx.putLong(24, 1);
    rx.putLong(80, rxAddr + DATA);
    rx.putLong(88, 65536);
  }

  /** Opens the socket; call on a thread inside the node's namespace. */
  static NodeUdpEndpoint open(int port) throws IOException {
    try {
      int fd = Native.socket(Native.AF_INET, Native.SOCK_DGRAM, Native.IPPROTO_UDP, "udp");
      try {
        Native.setIntOption(fd, Native.SOL_SOCKET, Native.SO_REUSEADDR, 1);
        Native.setIntOption(fd, Native.IPPROTO_IP, Native.IP_PKTINFO, 1);
        Native.setIntOption(fd, Native.SOL_SOCKET, Native.SO_RCVBUF, 4 << 20);
        ByteBuffer sa = Native.allocate(16);
        sa.putShort(0, (short) Native.AF_INET);
        sa.putShort(2, Short.reverseBytes((short) port));
        Native.bind(fd, Native.address(sa), 16);
        return new NodeUdpEndpoint(fd, Native.eventfd(), port);
      } catch (ErrnoException e) {
        Native.close(fd);
        throw e;
      }
    } catch (ErrnoException e) {
      throw new IOException("cannot open UDP port " + port + ": " + e.getMessage(), e);
    }
  }

  @Override
  public int port() {
    return port;
  }

  @Override
  public synchronized Datagram receive(Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      if (closed) {
        throw new IOException("UDP endpoint " + port + " is closed");
      }
      rx.putInt(8, 16); // msg_namelen
      rx.putLong(32, rxAddr + 96); // msg_control
      rx.putLong(40, 128); // msg_controllen
      rx.putInt(48, 0);
      long n = Native.recvmsg(fd, rxAddr, Native.MSG_DONTWAIT);
      if (n >= 0) {
        int src = Integer.reverseBytes(rx.getInt(64 + 4));
        int sport = Short.reverseBytes(rx.getShort(64 + 2)) & 0xffff;
        int ifindex = 0;
        long clen = rx.getLong(40);
        for (int c = 96; c + 16 <= 96 + clen; ) {
          long len = rx.getLong(c);
          if (len < 16) {
            break;
          }
          if (rx.getInt(c + 8) == Native.IPPROTO_IP && rx.getInt(c + 12) == Native.IP_PKTINFO) {
            ifindex = rx.getInt(c + 16);
          }
          c += (int) ((len + 7) & ~7L);
        }
        byte[] payload = new byte[(int) n];
        rx.get(DATA, payload);
        return new Datagram(Ipv4.fromInt(src), sport, payload, ifindex);
      }
      int e = Native.errno();
      if (e != Errors.EAGAIN && e != Errors.EINTR) {
        throw new IOException("UDP receive failed: " + Errors.name(e));
      }
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return null;
      }
      Native.poll(pollAddr, 2, (int) Math.max(1, Math.min(Integer.MAX_VALUE, left / 1_000_000)));
    }
  }

  @Override
  public synchronized void send(Inet4Address destination, int dport, byte[] payload)
      throws IOException {
    if (closed) {
      throw new IOException("UDP endpoint " + port + " is closed");
    }
    tx.put(16, payload);
    tx.putShort(0, (short) Native.AF_INET);
    tx.putShort(2, Short.reverseBytes((short) dport));
    tx.putInt(4, Integer.reverseBytes(Ipv4.toInt(destination)));
    long r = Native.sendTo(fd, msg, txAddr + 16, payload.length, txAddr, 16);
    if (r < 0) {
      throw new IOException("UDP send failed: " + Errors.name(Native.errno()));
    }
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    Native.signal(wake);
    synchronized (this) {
      Native.close(fd);
      Native.close(wake);
    }
  }
}
