package org.divert4j.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.divert4j.IpFamily;

/**
 * Family-neutral judgments of whole packets for the verifications that run once per family: each
 * dispatches on the version nibble to the TCK's own IPv4 ({@link Packets}) or IPv6 ({@link
 * Packets6}) reader. Stateless.
 */
final class Wire {
  private Wire() {}

  /** The bytes of IP and UDP header in a whole UDP datagram without options or extensions. */
  static int udpOverhead(IpFamily family) {
    return family == IpFamily.IPV6 ? 48 : 28;
  }

  /** The UDP data of a whole datagram of either family. */
  static byte[] udpData(byte[] p) {
    return Packets6.isIpv6(p) ? Packets6.udpData(p) : Packets.udpData(p);
  }

  /**
   * Fails unless the packet is one whole packet of the family: its version nibble, and its length
   * field saying its size (total length for IPv4, payload length plus 40 for IPv6); for IPv4 also a
   * valid header checksum (IPv6 has none, S61).
   */
  static void assertWhole(IpFamily family, byte[] p, String what) {
    assertEquals(
        family.version(), Packets.version(p), "must start at the " + family + " header: " + what);
    if (family == IpFamily.IPV6) {
      assertEquals(p.length, 40 + Packets6.payloadLength(p), "one whole packet: " + what);
    } else {
      assertEquals(p.length, Packets.totalLength(p), "one whole packet: " + what);
      assertTrue(Packets.headerChecksumValid(p), "valid header checksum: " + what);
    }
  }
}
