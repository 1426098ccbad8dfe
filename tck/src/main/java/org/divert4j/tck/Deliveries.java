package org.divert4j.tck;

import static org.divert4j.tck.Packets.pattern;
import static org.divert4j.tck.TckVerification.PORT;
import static org.divert4j.tck.TckVerification.SRC_PORT;
import static org.divert4j.tck.TckVerification.UDP_PORT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.Chain;
import org.divert4j.Direction;
import org.divert4j.DivertSocket;
import org.divert4j.IpFamily;
import org.divert4j.NetInterface;
import org.divert4j.packet.Ipv6Builder;
import org.divert4j.tck.Probe.Received;

/**
 * What a packet delivered to a divert socket must be, for {@link DeliveryVerification}: its address
 * (S6), its bytes whole and identical (S8), and its place in arrival order (S52); and the packets
 * sent to check them. Stateless.
 */
final class Deliveries {
  private Deliveries() {}

  /**
   * A crafted UDP datagram of the probe's family, peer to host, with valid checksums and fields a
   * backend could change on the way: traffic class (IPv4: TOS) 0x10, flow label (IPv4: ID) 0x4242.
   */
  static byte[] crafted(Probe p) {
    return p.family() == IpFamily.IPV6
        ? Packets6.bytes(
            Ipv6Builder.udp(SRC_PORT, UDP_PORT)
                .source(p.peer().getAddress())
                .destination(p.host().getAddress())
                .trafficClass(0x10)
                .flowLabel(0x4242)
                .payload(pattern(333, 8))
                .build())
        : Packets.udp(p.peer(), p.host(), SRC_PORT, UDP_PORT, pattern(333, 8))
            .id(0x4242)
            .tos(0x10)
            .build();
  }

  /**
   * The interface's first address of the run's family (S6; S55: link-local last), as the interface
   * lists it.
   */
  static InetAddress firstAddress(NetInterface iface, Probe p) {
    return iface
        .address(p.family())
        .orElseThrow(() -> new AssertionError("no " + p.family() + " address on " + iface));
  }

  /** The divert port ({@link #PORT}), chain and direction that the packet's address must carry. */
  static void assertPortChainAndDirection(Received r, Chain chain, Direction direction) {
    assertEquals(PORT, r.address().port(), "port of " + r.address());
    assertEquals(chain, r.address().chain().orElse(null), "chain of " + r.address());
    assertEquals(direction, r.address().direction(), "direction of " + r.address());
  }

  static void assertWhole(Probe p, int size, byte[] data, Received r) {
    assertEquals(size, r.bytes().length, "the packet must be whole: " + r);
    Wire.assertWhole(p.family(), r.bytes(), r.toString());
    assertArrayEquals(data, Wire.udpData(r.bytes()), "payload of " + r);
  }

  static byte[] numbered(int i) {
    byte[] b = pattern(64, i);
    ByteBuffer.wrap(b).putInt(i);
    return b;
  }

  static void assertInOrder(Probe p, DivertSocket socket, String what) throws Exception {
    List<Integer> seen = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      Received r = p.receive(socket, what + " datagram " + i);
      seen.add(ByteBuffer.wrap(Wire.udpData(r.bytes())).getInt());
    }
    for (int i = 0; i < 30; i++) {
      if (seen.get(i) != i) {
        fail(what + " datagrams arrived out of order: " + seen);
      }
    }
  }
}
