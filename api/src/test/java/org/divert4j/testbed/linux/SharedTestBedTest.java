package org.divert4j.testbed.linux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The shared namespace test bed's pure-Java parts, on scripted system calls (no root needed). */
class SharedTestBedTest {
  /** Hands out scripted packets: {ifindex, pkttype, bytes...}. */
  private static final class Scripted implements NamespaceSyscalls {
    final Deque<byte[]> packets = new ArrayDeque<>();
    final Deque<int[]> meta = new ArrayDeque<>();
    volatile int closed = -1;

    synchronized void add(int ifindex, int pkttype, byte[] packet) {
      meta.add(new int[] {ifindex, pkttype});
      packets.add(packet);
    }

    @Override
    public void enterNetns(String path) throws SyscallException {
      throw new SyscallException("setns(" + path + ")", 1, "Operation not permitted", null);
    }

    @Override
    public int socket(int domain, int type, int protocol) {
      return 42;
    }

    @Override
    public void setIntOption(int fd, int level, int name, int value) {}

    @Override
    public void bind(int fd, ByteBuffer address) {}

    @Override
    public int sendTo(int fd, ByteBuffer data, ByteBuffer address) {
      return data.remaining();
    }

    @Override
    public synchronized int receive(
        int fd, ByteBuffer data, ByteBuffer address, ByteBuffer control) {
      byte[] p = packets.poll();
      if (p == null) {
        return -1;
      }
      int[] m = meta.poll();
      address.putInt(4, m[0]);
      address.put(10, (byte) m[1]);
      data.put(0, p);
      return p.length;
    }

    @Override
    public synchronized boolean poll(int fd, int timeoutMillis) {
      if (packets.isEmpty()) {
        try {
          wait(timeoutMillis);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      return !packets.isEmpty();
    }

    @Override
    public void close(int fd) {
      closed = fd;
    }
  }

  private static byte[] ip(int totalLength, int bytes) {
    byte[] p = new byte[bytes];
    p[0] = 0x45;
    p[2] = (byte) (totalLength >>> 8);
    p[3] = (byte) totalLength;
    return p;
  }

  @Test
  void captureKeepsArrivalsOnTheNodesInterfacesCutToTheirLength() throws Exception {
    Scripted sys = new Scripted();
    sys.add(7, NamespaceSyscalls.PACKET_OUTGOING, ip(28, 28)); // sent: not an arrival
    sys.add(9, 0, ip(28, 28)); // another interface of the namespace
    sys.add(7, 0, ip(28, 46)); // padded to the Ethernet minimum
    sys.add(8, 0, ip(40, 40));
    NodeCapture c;
    boolean[] onClose = new boolean[1];
    c = NodeCapture.open(sys, new int[] {7, 8}, "test", () -> onClose[0] = true);
    List<byte[]> got = c.await(p -> true, 2, Duration.ofSeconds(5));
    assertEquals(2, got.size());
    assertEquals(28, got.get(0).length, "padding cut");
    assertEquals(40, got.get(1).length);
    c.close();
    c.close();
    assertEquals(42, sys.closed);
    assertTrue(onClose[0]);
    assertTrue(c.await(p -> true, 5, Duration.ofSeconds(5)).size() == 2, "closed: no waiting");
  }

  @Test
  void arrivalInterfaceComesFromThePktinfoMessage() {
    ByteBuffer control = NodeUdpEndpoint.direct(128);
    // one unrelated message (IP_TTL), then IP_PKTINFO with ifindex 5
    control.putLong(0, 20).putInt(8, 0).putInt(12, 2).putInt(16, 64);
    control.putLong(24, 28).putInt(32, 0).putInt(36, NamespaceSyscalls.IP_PKTINFO).putInt(40, 5);
    control.limit(52);
    assertEquals(5, NodeUdpEndpoint.arrivalInterface(control));
    control.limit(24);
    assertEquals(0, NodeUdpEndpoint.arrivalInterface(control), "none within the limit");
  }

  @Test
  void sockaddrInIsInNetworkOrder() {
    ByteBuffer sa = NodeUdpEndpoint.direct(16);
    NodeUdpEndpoint.sockaddrIn(sa, 0x0a000102, 0x1f90);
    byte[] b = new byte[16];
    sa.get(0, b);
    assertArrayEquals(
        new byte[] {
          (byte) NamespaceSyscalls.AF_INET,
          0,
          0x1f,
          (byte) 0x90,
          10,
          0,
          1,
          2,
          0,
          0,
          0,
          0,
          0,
          0,
          0,
          0
        },
        b);
  }

  @Test
  void threadRunsTasksAndPassesTheirExceptionsThrough() throws Exception {
    Scripted sys = new Scripted();
    NetnsThread t = NetnsThread.start(sys, null, "here");
    String name = t.call(() -> Thread.currentThread().getName());
    assertTrue(name.startsWith("d4j-netns-") && name.endsWith("-here"), name);
    assertFalse(t.inode().equals("unknown"), "the namespace inode is read");
    IOException e =
        assertThrows(
            IOException.class,
            () ->
                t.call(
                    () -> {
                      throw new IOException("boom");
                    }));
    assertEquals("boom", e.getMessage());
    t.close();
    assertTrue(t.isClosed());
    assertThrows(IOException.class, () -> t.call(() -> 1));
    SyscallException denied =
        assertThrows(SyscallException.class, () -> NetnsThread.start(sys, "/x", "denied"));
    assertTrue(denied.isPermission());
    assertEquals("/var/run/netns/a", NetnsThread.pathOf("a"));
    assertEquals("/proc/1/ns/net", NetnsThread.pathOf("/proc/1/ns/net"));
    assertEquals(null, NetnsThread.pathOf(" "));
  }
}
