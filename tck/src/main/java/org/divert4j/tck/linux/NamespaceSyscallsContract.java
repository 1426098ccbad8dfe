package org.divert4j.tck.linux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.divert4j.testbed.linux.NamespaceSyscalls;
import org.divert4j.testbed.linux.Netns;
import org.divert4j.testbed.linux.NetnsThread;
import org.divert4j.testbed.linux.Shell;
import org.divert4j.testbed.linux.SyscallException;
import org.junit.jupiter.api.Test;

/**
 * What a backend's {@link NamespaceSyscalls} must do for the shared namespace test bed. A backend
 * adds a subclass that returns its implementation. The UDP and error tests need no privilege (they
 * use loopback in the JVM's namespace); the namespace and AF_PACKET tests need root and skip
 * without it.
 *
 * <p>If one fails: the implementation lays out {@code msghdr}, {@code sockaddr} or {@code pollfd}
 * differently from the kernel (x86-64/aarch64 LP64), or loses the errno.
 */
public abstract class NamespaceSyscallsContract {
  /**
   * @return the implementation under test
   */
  protected abstract NamespaceSyscalls syscalls();

  private static ByteBuffer direct(int size) {
    return ByteBuffer.allocateDirect(size).order(ByteOrder.nativeOrder());
  }

  private static ByteBuffer loopback(int port) {
    ByteBuffer sa = direct(NamespaceSyscalls.SIZEOF_SOCKADDR_IN);
    sa.putShort(0, (short) NamespaceSyscalls.AF_INET);
    sa.put(2, (byte) (port >>> 8)).put(3, (byte) port);
    sa.put(4, (byte) 127).put(7, (byte) 1);
    return sa;
  }

  /**
   * A datagram sent with sendTo arrives; the answer comes back with its source and IP_PKTINFO.
   *
   * @throws Exception a failed system call, which fails the test
   */
  @Test
  public void udpRoundTripWithSourceAndArrivalInterface() throws Exception {
    NamespaceSyscalls sys = syscalls();
    int fd =
        sys.socket(
            NamespaceSyscalls.AF_INET, NamespaceSyscalls.SOCK_DGRAM, NamespaceSyscalls.IPPROTO_UDP);
    try (DatagramSocket peer = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0))) {
      peer.setSoTimeout(5000);
      sys.setIntOption(fd, NamespaceSyscalls.IPPROTO_IP, NamespaceSyscalls.IP_PKTINFO, 1);
      byte[] hello = "hello".getBytes(StandardCharsets.US_ASCII);
      ByteBuffer out = direct(64);
      out.put(hello).flip();
      assertEquals(hello.length, sys.sendTo(fd, out, loopback(peer.getLocalPort())));
      assertEquals(0, out.position(), "sendTo leaves the position alone");
      DatagramPacket p = new DatagramPacket(new byte[64], 64);
      peer.receive(p);
      assertEquals("hello", new String(p.getData(), 0, p.getLength(), StandardCharsets.US_ASCII));

      ByteBuffer data = direct(64);
      ByteBuffer from = direct(NamespaceSyscalls.SIZEOF_SOCKADDR_IN);
      ByteBuffer control = direct(128);
      assertEquals(-1, sys.receive(fd, data, from, control), "nothing waiting yet");
      assertFalse(sys.poll(fd, 10), "nothing to read yet");
      byte[] answer = {1, 2, 3};
      peer.send(new DatagramPacket(answer, 3, p.getSocketAddress()));
      assertTrue(sys.poll(fd, 5000), "the answer makes the socket readable");
      control.clear();
      int n = sys.receive(fd, data, from, control);
      assertEquals(3, n);
      byte[] got = new byte[3];
      data.get(0, got);
      assertArrayEquals(answer, got);
      assertEquals(NamespaceSyscalls.AF_INET, from.getShort(0));
      int port = (from.get(2) & 0xff) << 8 | (from.get(3) & 0xff);
      assertEquals(peer.getLocalPort(), port, "source port, network order");
      assertEquals(InetAddress.getLoopbackAddress(), InetAddress.getByAddress(bytes(from, 4, 4)));
      assertTrue(control.limit() >= 28, "an in_pktinfo control message: " + control.limit());
      assertEquals(NamespaceSyscalls.IPPROTO_IP, control.getInt(8));
      assertEquals(NamespaceSyscalls.IP_PKTINFO, control.getInt(12));
      assertTrue(control.getInt(16) > 0, "an interface index (lo)");
    } finally {
      sys.close(fd);
    }
  }

  private static byte[] bytes(ByteBuffer b, int at, int n) {
    byte[] r = new byte[n];
    b.get(at, r);
    return r;
  }

  /** Failures keep their errno. */
  @Test
  public void failuresKeepTheErrno() {
    NamespaceSyscalls sys = syscalls();
    SyscallException e =
        assertThrows(SyscallException.class, () -> sys.enterNetns("/nonexistent/netns"));
    assertEquals(2, e.errno(), "ENOENT: " + e.getMessage());
    e = assertThrows(SyscallException.class, () -> sys.socket(12345, 1, 0));
    assertEquals(97, e.errno(), "EAFNOSUPPORT: " + e.getMessage());
    sys.close(-1); // ignored
  }

  /**
   * A thread entered into a namespace is there, and the rest of the JVM is not. Root only.
   *
   * @throws Exception a failed system call, which fails the test
   */
  @Test
  public void threadEntersTheNamespace() throws Exception {
    assumeTrue(Shell.isRoot(), "creating a namespace needs root");
    NamespaceSyscalls sys = syscalls();
    try (Netns ns = Netns.create(Netns.uniqueName("contract"));
        NetnsThread inside = NetnsThread.start(sys, ns.path().toString(), "contract");
        NetnsThread here = NetnsThread.start(sys, null, "here")) {
      assertNotEquals(here.inode(), inside.inode());
      assertEquals(here.inode(), inode(), "the caller stays where it is");
      assertEquals(inside.inode(), inside.call(NamespaceSyscallsContract::inode));
    }
  }

  private static String inode() throws java.io.IOException {
    String link = Files.readSymbolicLink(Path.of("/proc/thread-self/ns/net")).toString();
    return link.substring(link.indexOf('[') + 1, link.indexOf(']'));
  }

  /**
   * An AF_PACKET socket sees a loopback datagram, with the sockaddr_ll of its interface. Root.
   *
   * @throws Exception a failed system call, which fails the test
   */
  @Test
  public void packetSocketSeesWhatArrives() throws Exception {
    assumeTrue(Shell.isRoot(), "AF_PACKET needs CAP_NET_RAW");
    NamespaceSyscalls sys = syscalls();
    try (Netns ns = Netns.create(Netns.uniqueName("contract"));
        NetnsThread inside = NetnsThread.start(sys, ns.path().toString(), "contract")) {
      int proto = Short.toUnsignedInt(Short.reverseBytes((short) NamespaceSyscalls.ETH_P_IP));
      int fd =
          inside.call(
              () -> sys.socket(NamespaceSyscalls.AF_PACKET, NamespaceSyscalls.SOCK_DGRAM, proto));
      try {
        inside.call(
            () -> {
              try (DatagramSocket s = new DatagramSocket()) {
                s.send(
                    new DatagramPacket(new byte[] {9, 9}, 2, InetAddress.getLoopbackAddress(), 9));
              }
              return null;
            });
        assertTrue(sys.poll(fd, 5000), "the datagram is seen");
        ByteBuffer data = direct(2048);
        ByteBuffer sll = direct(NamespaceSyscalls.SIZEOF_SOCKADDR_LL);
        int n = sys.receive(fd, data, sll, null);
        assertEquals(20 + 8 + 2, n, "the IP packet, from its header");
        assertEquals(0x45, data.get(0) & 0xff);
        assertEquals(NamespaceSyscalls.AF_PACKET, sll.getShort(0));
        assertTrue(sll.getInt(4) > 0, "the interface index");
      } finally {
        sys.close(fd);
      }
    }
  }
}
