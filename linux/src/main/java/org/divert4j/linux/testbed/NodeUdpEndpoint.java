package org.divert4j.linux.testbed;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.divert4j.Ipv4;
import org.divert4j.Ipv6Addresses;
import org.divert4j.linux.Datagrams;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Native;
import org.divert4j.linux.SocketOptions;
import org.divert4j.testbed.Datagram;
import org.divert4j.testbed.UdpEndpoint;

/**
 * A UDP socket of a {@link NamespaceNode}, made through {@link Datagrams} on a thread inside the
 * node's namespace so that it can ask for {@code IP_PKTINFO} and report the interface each datagram
 * arrived on (a {@link java.net.DatagramSocket} cannot). Dual-stack: an {@code AF_INET6} socket
 * bound to {@code ::} with {@code IPV6_V6ONLY} off, which takes IPv4 datagrams as v4-mapped
 * addresses (ipv6(7)); IPv4 arrivals report their interface in {@code IP_PKTINFO}, IPv6 ones in
 * {@code IPV6_PKTINFO} ({@code IPV6_RECVPKTINFO}; net/ipv6/udp.c udpv6_recvmsg picks by the
 * datagram's family).
 *
 * <p>Thread-safe: receives are serialised, sends are serialised, and one of each may run at once. A
 * receive waits in slices of {@link #SLICE_MILLIS}, so {@link #close()} ends a blocked receive
 * within one slice (it throws: the endpoint is closed).
 */
final class NodeUdpEndpoint implements UdpEndpoint {
  /** How long one poll of a waiting receive lasts, so that a close is noticed. */
  static final int SLICE_MILLIS = 50;

  private static final int CONTROL = 128;
  private final int fd;
  private final int port;
  private final Runnable onClose;
  private final Object rxLock = new Object();
  private final Object txLock = new Object();
  private final ByteBuffer rx = direct(65536);
  private final ByteBuffer rxFrom = direct(Native.SIZEOF_SOCKADDR_IN6);
  private final ByteBuffer rxControl = direct(CONTROL);
  private final ByteBuffer tx = direct(65536);
  private final ByteBuffer txTo = direct(Native.SIZEOF_SOCKADDR_IN6);
  private final AtomicBoolean closed = new AtomicBoolean();

  private NodeUdpEndpoint(int fd, int port, Runnable onClose) {
    this.fd = fd;
    this.port = port;
    this.onClose = onClose;
  }

  static ByteBuffer direct(int size) {
    return ByteBuffer.allocateDirect(size).order(ByteOrder.nativeOrder());
  }

  /**
   * Opens the socket: bound to {@code port} on every address, with SO_REUSEADDR (so that a node can
   * send from a port it also listens on), IP_PKTINFO and a 4 MiB receive buffer.
   *
   * @param fd a new {@code AF_INET6}/{@code SOCK_DGRAM} socket made in the node's namespace ({@link
   *     Netns#socket}); the endpoint owns it, and closes it also when this fails
   */
  static NodeUdpEndpoint open(int fd, int port, Runnable onClose) throws IOException {
    try {
      try {
        SocketOptions.setIntOption(fd, Native.IPPROTO_IPV6, IPV6_V6ONLY, 0);
        SocketOptions.setIntOption(fd, Native.SOL_SOCKET, Native.SO_REUSEADDR, 1);
        SocketOptions.setIntOption(fd, Native.IPPROTO_IP, Native.IP_PKTINFO, 1);
        SocketOptions.setIntOption(fd, Native.IPPROTO_IPV6, Native.IPV6_RECVPKTINFO, 1);
        SocketOptions.setIntOption(fd, Native.SOL_SOCKET, Native.SO_RCVBUF, 4 << 20);
        ByteBuffer sa = direct(Native.SIZEOF_SOCKADDR_IN6);
        sockaddrIn6(sa, new byte[16], port);
        Datagrams.bind(fd, sa);
        return new NodeUdpEndpoint(fd, port, onClose);
      } catch (IOException | RuntimeException e) {
        Native.close(fd);
        throw e;
      }
    } catch (ErrnoException e) {
      throw new IOException("cannot open UDP port " + port + ": " + e.getMessage(), e);
    }
  }

  /** IPV6_V6ONLY (linux/in6.h). */
  private static final int IPV6_V6ONLY = 26;

  /**
   * Writes a {@code sockaddr_in6} at index 0: family (host order), port, flow info, the 16 address
   * bytes, scope id 0.
   */
  static void sockaddrIn6(ByteBuffer sa, byte[] address, int port) {
    sa.clear();
    sa.putShort(0, (short) Native.AF_INET6);
    sa.put(2, (byte) (port >>> 8));
    sa.put(3, (byte) port);
    sa.putInt(4, 0);
    for (int i = 0; i < 16; i++) {
      sa.put(8 + i, address[i]);
    }
    sa.putInt(24, 0);
  }

  /** The address bytes of a v4-mapped IPv6 address ({@code ::ffff:a.b.c.d}), or IPv6's own. */
  static byte[] mapped(InetAddress a) {
    byte[] b = a.getAddress();
    if (b.length == 16) {
      return b;
    }
    byte[] m = new byte[16];
    m[10] = (byte) 0xff;
    m[11] = (byte) 0xff;
    System.arraycopy(b, 0, m, 12, 4);
    return m;
  }

  /** Writes a {@code sockaddr_in} at index 0 (family in host order, the rest in network order). */
  static void sockaddrIn(ByteBuffer sa, int address, int port) {
    sa.clear();
    sa.putShort(0, (short) Native.AF_INET);
    sa.put(2, (byte) (port >>> 8));
    sa.put(3, (byte) port);
    for (int i = 0; i < 4; i++) {
      sa.put(4 + i, (byte) (address >>> (24 - 8 * i)));
    }
    for (int i = 8; i < 16; i++) {
      sa.put(i, (byte) 0);
    }
  }

  @Override
  public int port() {
    return port;
  }

  @Override
  public Datagram receive(Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (rxLock) {
      while (true) {
        if (closed.get()) {
          throw new IOException("UDP endpoint " + port + " is closed");
        }
        rx.clear();
        rxFrom.clear();
        rxControl.clear();
        int n = Datagrams.receive(fd, rx, rxFrom, rxControl);
        if (n >= 0) {
          return datagram(n);
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return null;
        }
        Datagrams.poll(fd, (int) Math.max(1, Math.min(SLICE_MILLIS, left / 1_000_000)));
      }
    }
  }

  private Datagram datagram(int n) {
    byte[] a = new byte[16];
    rxFrom.get(8, a);
    InetAddress src;
    boolean v4 = true;
    for (int i = 0; i < 10; i++) {
      v4 &= a[i] == 0;
    }
    v4 &= a[10] == (byte) 0xff && a[11] == (byte) 0xff;
    if (v4) {
      src =
          Ipv4.fromInt(
              (a[12] & 0xff) << 24 | (a[13] & 0xff) << 16 | (a[14] & 0xff) << 8 | a[15] & 0xff);
    } else {
      src = Ipv6Addresses.fromBytes(a);
    }
    int sport = (rxFrom.get(2) & 0xff) << 8 | (rxFrom.get(3) & 0xff);
    byte[] payload = new byte[Math.min(n, rx.capacity())];
    rx.get(0, payload);
    return new Datagram(src, sport, payload, arrivalInterface(rxControl));
  }

  /**
   * Finds the {@code IP_PKTINFO} control message ({@code cmsghdr}: 8-byte length, level, type, then
   * {@code in_pktinfo} whose first field is the interface index) or the {@code IPV6_PKTINFO} one
   * ({@code in6_pktinfo}: the 16-byte address, then the interface index; ipv6(7)) between 0 and the
   * limit.
   *
   * @return the interface index, or 0 if there is none
   */
  static int arrivalInterface(ByteBuffer control) {
    int end = control.limit();
    for (int c = 0; c + 16 <= end; ) {
      long len = control.getLong(c);
      if (len < 16) {
        break;
      }
      if (control.getInt(c + 8) == Native.IPPROTO_IP
          && control.getInt(c + 12) == Native.IP_PKTINFO
          && c + 20 <= end) {
        return control.getInt(c + 16);
      }
      if (control.getInt(c + 8) == Native.IPPROTO_IPV6
          && control.getInt(c + 12) == Native.IPV6_PKTINFO
          && c + 36 <= end) {
        return control.getInt(c + 32);
      }
      c += (int) ((len + 7) & ~7L);
    }
    return 0;
  }

  @Override
  public void send(InetAddress destination, int destinationPort, byte[] payload)
      throws IOException {
    synchronized (txLock) {
      if (closed.get()) {
        throw new IOException("UDP endpoint " + port + " is closed");
      }
      if (payload.length > tx.capacity()) {
        throw new IOException("UDP payload too large: " + payload.length + " bytes");
      }
      tx.clear();
      tx.put(payload).flip();
      sockaddrIn6(txTo, mapped(destination), destinationPort);
      try {
        Datagrams.sendTo(fd, tx, txTo);
      } catch (ErrnoException e) {
        throw new IOException("UDP send to " + destination.getHostAddress() + " failed: " + e, e);
      }
    }
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    // A receive notices within a slice; the descriptor is closed only after it has left, so that
    // its number cannot be reused under it.
    synchronized (rxLock) {
      synchronized (txLock) {
        Native.close(fd);
      }
    }
    onClose.run();
  }
}
