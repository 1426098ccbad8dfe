package org.divert4j.rawsocket.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.divert4j.testbed.PacketCapture;

/**
 * Captures the IPv4 packets arriving at a node's interfaces: one {@code AF_PACKET}/{@code
 * SOCK_DGRAM} socket per interface (so each packet starts at its IP header), outgoing packets
 * ignored, read by one daemon thread until closed. AF_PACKET taps run before the IP layer, so
 * fragments are seen as they arrived, and packets a divert rule takes are seen too.
 */
final class NodeCapture implements PacketCapture {
  private final int[] fds;
  private final int wake;
  private final List<byte[]> packets = new ArrayList<>();
  private final Thread reader;
  private volatile boolean closed;

  private NodeCapture(int[] fds, int wake, String name) {
    this.fds = fds;
    this.wake = wake;
    this.reader = new Thread(this::run, "d4j-capture-" + name);
    reader.setDaemon(true);
  }

  /** Opens the sockets; call on a thread inside the node's namespace. */
  static NodeCapture open(int[] ifindexes, String name) throws IOException {
    int[] fds = new int[ifindexes.length];
    int made = 0;
    try {
      for (int i = 0; i < ifindexes.length; i++) {
        int proto = Short.reverseBytes((short) Native.ETH_P_IP) & 0xffff;
        int fd = Native.socket(Native.AF_PACKET, Native.SOCK_DGRAM, proto, "AF_PACKET");
        fds[made++] = fd;
        Native.setIntOption(fd, Native.SOL_SOCKET, Native.SO_RCVBUF, 8 << 20);
        try {
          Native.setIntOption(fd, Native.SOL_PACKET, Native.PACKET_IGNORE_OUTGOING, 1);
        } catch (ErrnoException e) {
          // older kernels: outgoing packets are filtered by sll_pkttype below
        }
        ByteBuffer sll = Native.allocate(Native.SIZEOF_SOCKADDR_LL);
        sll.putShort(0, (short) Native.AF_PACKET);
        sll.putShort(2, (short) proto);
        sll.putInt(4, ifindexes[i]);
        Native.bind(fd, Native.address(sll), Native.SIZEOF_SOCKADDR_LL);
      }
      NodeCapture c = new NodeCapture(fds, Native.eventfd(), name);
      c.reader.start();
      return c;
    } catch (ErrnoException e) {
      for (int i = 0; i < made; i++) {
        Native.close(fds[i]);
      }
      throw new IOException("cannot capture on " + name + ": " + e.getMessage(), e);
    }
  }

  private void run() {
    int n = fds.length;
    ByteBuffer polls = Native.allocate((n + 1) * 8);
    long pollAddr = Native.address(polls);
    for (int i = 0; i < n; i++) {
      polls.putInt(i * 8, fds[i]);
      polls.putShort(i * 8 + 4, Native.POLLIN);
    }
    polls.putInt(n * 8, wake);
    polls.putShort(n * 8 + 4, Native.POLLIN);
    ByteBuffer buf = Native.allocate(65536 + 256);
    long bufAddr = Native.address(buf);
    // recvmsg header to learn sll_pkttype: msghdr at 0, sockaddr_ll at 64, iovec at 96, data at 256
    buf.putLong(0, bufAddr + 64);
    buf.putLong(16, bufAddr + 96);
    buf.putLong(24, 1);
    buf.putLong(96, bufAddr + 256);
    buf.putLong(104, 65536);
    while (!closed) {
      for (int i = 0; i <= n; i++) {
        polls.putShort(i * 8 + 6, (short) 0);
      }
      Native.poll(pollAddr, n + 1, 1000);
      if (closed) {
        break;
      }
      for (int fd : fds) {
        while (true) {
          buf.putInt(8, Native.SIZEOF_SOCKADDR_LL);
          buf.putLong(32, 0);
          buf.putLong(40, 0);
          long r = Native.recvmsg(fd, bufAddr, Native.MSG_DONTWAIT);
          if (r < 0) {
            break;
          }
          if ((buf.get(64 + 10) & 0xff) == Native.PACKET_OUTGOING) {
            continue;
          }
          byte[] p = new byte[(int) r];
          buf.get(256, p);
          synchronized (packets) {
            packets.add(p);
            packets.notifyAll();
          }
        }
      }
    }
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
        if (match.size() >= count || left <= 0 || closed) {
          return match;
        }
        packets.wait(Math.max(1, left / 1_000_000));
      }
    }
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    Native.signal(wake);
    try {
      reader.join(2000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (int fd : fds) {
      Native.close(fd);
    }
    Native.close(wake);
    synchronized (packets) {
      packets.notifyAll();
    }
  }
}
