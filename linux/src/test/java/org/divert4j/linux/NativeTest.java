package org.divert4j.linux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.divert4j.linux.testbed.Netns;
import org.junit.jupiter.api.Test;

/**
 * The floor's binding of the Linux calls ({@link Native}, {@link Datagrams}, {@link NetDevices},
 * {@link Capabilities}). The UDP, ioctl, capability and error tests need no privilege (loopback in
 * the JVM's namespace); the AF_PACKET and ethtool tests need root and skip without it.
 *
 * <p>If one fails: a struct ({@code msghdr}, {@code sockaddr}, {@code pollfd}, {@code ifreq},
 * capability data) is laid out differently from the kernel's (x86-64/aarch64 LP64), or the errno is
 * lost.
 */
class NativeTest {
  private static ByteBuffer loopback(int port) {
    ByteBuffer sa = Native.allocate(Native.SIZEOF_SOCKADDR_IN);
    sa.putShort(0, (short) Native.AF_INET);
    sa.put(2, (byte) (port >>> 8)).put(3, (byte) port);
    sa.put(4, (byte) 127).put(7, (byte) 1);
    return sa;
  }

  @Test
  void bindingLoads() {
    assertNull(Native.loadError(), "JNR-FFI and libc load");
  }

  /** A datagram sent with sendTo arrives; the answer comes back with its source and IP_PKTINFO. */
  @Test
  void udpRoundTripWithSourceAndArrivalInterface() throws Exception {
    int fd = Datagrams.socket(Native.AF_INET, Native.SOCK_DGRAM, Native.IPPROTO_UDP);
    try (DatagramSocket peer = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0))) {
      peer.setSoTimeout(5000);
      SocketOptions.setIntOption(fd, Native.IPPROTO_IP, Native.IP_PKTINFO, 1);
      byte[] hello = "hello".getBytes(StandardCharsets.US_ASCII);
      ByteBuffer out = Native.allocate(64);
      out.put(hello).flip();
      assertEquals(hello.length, Datagrams.sendTo(fd, out, loopback(peer.getLocalPort())));
      assertEquals(0, out.position(), "sendTo leaves the position alone");
      DatagramPacket p = new DatagramPacket(new byte[64], 64);
      peer.receive(p);
      assertEquals("hello", new String(p.getData(), 0, p.getLength(), StandardCharsets.US_ASCII));

      ByteBuffer data = Native.allocate(64);
      ByteBuffer from = Native.allocate(Native.SIZEOF_SOCKADDR_IN);
      ByteBuffer control = Native.allocate(128);
      assertEquals(-1, Datagrams.receive(fd, data, from, control), "nothing waiting yet");
      assertFalse(Datagrams.poll(fd, 10), "nothing to read yet");
      byte[] answer = {1, 2, 3};
      peer.send(new DatagramPacket(answer, 3, p.getSocketAddress()));
      assertTrue(Datagrams.poll(fd, 5000), "the answer makes the socket readable");
      control.clear();
      int n = Datagrams.receive(fd, data, from, control);
      assertEquals(3, n);
      byte[] got = new byte[3];
      data.get(0, got);
      assertArrayEquals(answer, got);
      assertEquals(Native.AF_INET, from.getShort(0));
      int port = (from.get(2) & 0xff) << 8 | (from.get(3) & 0xff);
      assertEquals(peer.getLocalPort(), port, "source port, network order");
      assertEquals(InetAddress.getLoopbackAddress(), InetAddress.getByAddress(bytes(from, 4, 4)));
      assertTrue(control.limit() >= 28, "an in_pktinfo control message: " + control.limit());
      assertEquals(Native.IPPROTO_IP, control.getInt(8));
      assertEquals(Native.IP_PKTINFO, control.getInt(12));
      assertTrue(control.getInt(16) > 0, "an interface index (lo)");
    } finally {
      Native.close(fd);
    }
  }

  private static byte[] bytes(ByteBuffer b, int at, int n) {
    byte[] r = new byte[n];
    b.get(at, r);
    return r;
  }

  /** Failures keep their errno. */
  @Test
  void failuresKeepTheErrno() {
    ErrnoException e =
        assertThrows(ErrnoException.class, () -> Native.enterNetns("/nonexistent/netns"));
    assertEquals(Errors.ENOENT, e.errno(), e.getMessage());
    assertFalse(e.isPermission());
    e = assertThrows(ErrnoException.class, () -> Datagrams.socket(12345, 1, 0));
    assertEquals(Errors.EAFNOSUPPORT, e.errno(), e.getMessage());
    e = assertThrows(ErrnoException.class, () -> NetDevices.link("d4jnosuchif0"));
    assertEquals(Errors.ENODEV, e.errno(), e.getMessage());
    assertTrue(e.getMessage().contains("no interface named d4jnosuchif0"), e.getMessage());
    Native.close(-1); // ignored
  }

  /** The interface ioctls read lo as the kernel describes it. */
  @Test
  void loopbackInterfaceThroughIoctls() throws Exception {
    NetDevices.Link lo = NetDevices.link("lo");
    assertEquals("lo", lo.name());
    assertTrue(lo.index() > 0, "an index");
    assertTrue(lo.mtu() >= 1500, "lo's MTU: " + lo.mtu());
    assertEquals(0, lo.mac(), "lo has an all-zero hardware address");
    assertThrows(IllegalArgumentException.class, () -> NetDevices.link("a-name-far-too-long"));
  }

  /** Dropping a capability changes the calling thread only. */
  @Test
  void capabilitiesDropPerThread() throws Exception {
    long before = Capabilities.effective();
    long[] inThread = new long[2];
    Throwable[] failure = new Throwable[1];
    Thread t =
        new Thread(
            () -> {
              try {
                Capabilities.dropEffective(Capabilities.CAP_NET_RAW);
                inThread[0] = Capabilities.effective();
                Capabilities.dropAllEffective();
                inThread[1] = Capabilities.effective();
              } catch (Throwable e) {
                failure[0] = e;
              }
            });
    t.start();
    t.join();
    assertNull(failure[0]);
    assertEquals(before & ~(1L << Capabilities.CAP_NET_RAW), inThread[0]);
    assertEquals(0, inThread[1], "nothing effective");
    assertEquals(before, Capabilities.effective(), "the calling thread keeps its set");
  }

  /** An AF_PACKET socket sees a loopback datagram, with the sockaddr_ll of its interface. Root. */
  @Test
  void packetSocketSeesWhatArrives() throws Exception {
    assumeTrue(Shell.isRoot(), "AF_PACKET and a namespace of its own need root");
    try (Netns ns = Netns.create(Netns.uniqueName("floor"));
        NetnsThread inside = NetnsThread.open(ns.path().toString(), "floor")) {
      int proto = Short.toUnsignedInt(Short.reverseBytes((short) Native.ETH_P_IP));
      int fd = inside.run(() -> Datagrams.socket(Native.AF_PACKET, Native.SOCK_DGRAM, proto));
      try {
        inside.run(
            () -> {
              try (DatagramSocket s = new DatagramSocket()) {
                s.send(
                    new DatagramPacket(new byte[] {9, 9}, 2, InetAddress.getLoopbackAddress(), 9));
              }
              return null;
            });
        assertTrue(Datagrams.poll(fd, 5000), "the datagram is seen");
        ByteBuffer data = Native.allocate(2048);
        ByteBuffer sll = Native.allocate(Native.SIZEOF_SOCKADDR_LL);
        int n = Datagrams.receive(fd, data, sll, null);
        assertEquals(20 + 8 + 2, n, "the IP packet, from its header");
        assertEquals(0x45, data.get(0) & 0xff);
        assertEquals(Native.AF_PACKET, sll.getShort(0));
        assertTrue(sll.getInt(4) > 0, "the interface index");
      } finally {
        Native.close(fd);
      }
    }
  }

  /** The ethtool ioctl turns an offload off on a veth (its driver supports it). Root. */
  @Test
  void ethtoolTurnsOffloadsOff() throws Exception {
    assumeTrue(Shell.isRoot(), "a namespace and a veth pair need root");
    try (Netns ns = Netns.create(Netns.uniqueName("floor"))) {
      ns.ip("link", "add", "v0", "type", "veth", "peer", "name", "v1");
      try (NetnsThread inside = NetnsThread.open(ns.path().toString(), "floor")) {
        inside.run(
            () -> {
              NetDevices.ethtoolOff("v0", NetDevices.ETHTOOL_SGRO);
              return null;
            });
        ErrnoException e =
            assertThrows(
                ErrnoException.class, () -> inside.run(() -> NetDevices.link("eth-missing")));
        assertEquals(Errors.ENODEV, e.errno());
      }
    }
  }
}
