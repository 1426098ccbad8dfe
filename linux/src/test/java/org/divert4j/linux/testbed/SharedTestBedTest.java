package org.divert4j.linux.testbed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import org.divert4j.linux.Native;
import org.divert4j.linux.NetDevices;
import org.divert4j.linux.NetnsThread;
import org.divert4j.linux.Shell;
import org.junit.jupiter.api.Test;

/**
 * The shared namespace test bed's pure-Java parts (no root needed), and its capture on a real
 * AF_PACKET socket in a namespace of its own (root only).
 */
class SharedTestBedTest {
  private static byte[] ip(int totalLength, int bytes) {
    byte[] p = new byte[bytes];
    p[0] = 0x45;
    p[2] = (byte) (totalLength >>> 8);
    p[3] = (byte) totalLength;
    return p;
  }

  /** Runs one packet through the capture's filter: {ifindex, pkttype} as a sockaddr_ll says. */
  private static byte[] keep(int ifindex, int pkttype, byte[] packet, int[] interfaces) {
    int etherType = (packet[0] & 0xf0) == 0x60 ? Native.ETH_P_IPV6 : Native.ETH_P_IP;
    return keep(ifindex, pkttype, packet, interfaces, etherType);
  }

  private static byte[] keep(
      int ifindex, int pkttype, byte[] packet, int[] interfaces, int etherType) {
    ByteBuffer buf = NodeUdpEndpoint.direct(65536);
    buf.put(0, packet);
    ByteBuffer sll = NodeUdpEndpoint.direct(Native.SIZEOF_SOCKADDR_LL);
    sll.put(2, (byte) (etherType >>> 8)); // sll_protocol, network order
    sll.put(3, (byte) etherType);
    sll.putInt(4, ifindex);
    sll.put(10, (byte) pkttype);
    return NodeCapture.keep(buf, packet.length, sll, interfaces);
  }

  @Test
  void captureKeepsArrivalsOnTheNodesInterfacesCutToTheirLength() {
    int[] ours = {7, 8};
    assertNull(keep(7, Native.PACKET_OUTGOING, ip(28, 28), ours), "sent: not an arrival");
    assertNull(keep(9, 0, ip(28, 28), ours), "another interface of the namespace");
    assertEquals(28, keep(7, 0, ip(28, 46), ours).length, "padding cut");
    assertEquals(40, keep(8, 0, ip(40, 40), ours).length);
    assertNull(keep(7, 0, ip(28, 28), ours, 0x0806), "ARP and other EtherTypes: left out");
  }

  /** An IPv6 packet: payload length, next header, and (for ICMPv6) the type at 40. */
  private static byte[] ip6(int payloadLength, int nextHeader, int icmpType, int bytes) {
    byte[] p = new byte[bytes];
    p[0] = 0x60;
    p[4] = (byte) (payloadLength >>> 8);
    p[5] = (byte) payloadLength;
    p[6] = (byte) nextHeader;
    p[40] = (byte) icmpType;
    return p;
  }

  @Test
  void captureKeepsIpv6CutToItsPayloadLengthWithoutLinkUpkeep() {
    int[] ours = {7};
    assertEquals(48, keep(7, 0, ip6(8, 17, 0, 60), ours).length, "padding cut");
    assertEquals(48, keep(7, 0, ip6(8, 58, 128, 48), ours).length, "an echo request is kept");
    assertNull(keep(7, 0, ip6(24, 58, 135, 64), ours), "neighbour solicitation: left out");
    assertNull(keep(7, 0, ip6(24, 58, 143, 64), ours), "MLDv2 report: left out");
  }

  /** A capture opened in a namespace sees a datagram arrive on lo, and stops when closed. Root. */
  @Test
  void captureSeesArrivalsAndStopsWhenClosed() throws Exception {
    assumeTrue(Shell.isRoot(), "AF_PACKET and a namespace of its own need root");
    try (Netns ns = Netns.create(Netns.uniqueName("capture"));
        NetnsThread t = NetnsThread.open(ns.path().toString(), "capture")) {
      int lo = t.run(() -> NetDevices.link("lo").index());
      boolean[] onClose = new boolean[1];
      NodeCapture c = NodeCapture.open(ns, new int[] {lo}, "test", () -> onClose[0] = true);
      t.run(
          () -> {
            try (DatagramSocket s = new DatagramSocket()) {
              s.send(new DatagramPacket(new byte[] {9, 9}, 2, InetAddress.getLoopbackAddress(), 9));
            }
            return null;
          });
      // the datagram (UDP), and the ICMP port unreachable that answers it
      List<byte[]> got = c.await(SharedTestBedTest::udp, 1, Duration.ofSeconds(5));
      assertEquals(1, got.size(), "lo shows the datagram once: as arrived, not as sent");
      assertEquals(20 + 8 + 2, got.get(0).length);
      c.close();
      c.close();
      assertTrue(onClose[0]);
      assertTrue(
          c.await(SharedTestBedTest::udp, 5, Duration.ofSeconds(5)).size() == 1,
          "closed: no waiting");
    }
  }

  private static boolean udp(byte[] p) {
    return p.length > 9 && p[9] == 17;
  }

  @Test
  void arrivalInterfaceComesFromThePktinfoMessage() {
    ByteBuffer control = NodeUdpEndpoint.direct(128);
    // one unrelated message (IP_TTL), then IP_PKTINFO with ifindex 5
    control.putLong(0, 20).putInt(8, 0).putInt(12, 2).putInt(16, 64);
    control.putLong(24, 28).putInt(32, 0).putInt(36, Native.IP_PKTINFO).putInt(40, 5);
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
          (byte) Native.AF_INET, 0, 0x1f, (byte) 0x90, 10, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0
        },
        b);
  }
}
