package org.divert4j.tck;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
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

  /** The fragment offset in bytes of a packet of either family (0 for a whole one). */
  static int fragmentOffset(byte[] p) {
    return Packets6.isIpv6(p) ? Packets6.fragmentOffset(p) : Packets.fragmentOffset(p);
  }

  /** The more-fragments flag (IPv4 MF, IPv6 M) of a packet of either family. */
  static boolean moreFragments(byte[] p) {
    return Packets6.isIpv6(p) ? Packets6.moreFragments(p) : Packets.moreFragments(p);
  }

  /** True if the packet is a fragment of a larger datagram. */
  static boolean isFragment(byte[] p) {
    return Packets6.isIpv6(p) ? Packets6.isFragment(p) : Packets.isFragment(p);
  }

  /** The IPv4 ID, or the IPv6 Fragment header's Identification (-1 without one). */
  static long identification(byte[] p) {
    return Packets6.isIpv6(p) ? Packets6.identification(p) : Packets.id(p);
  }

  /** The UDP data of the datagram the fragments (of either family) make, or fails. */
  static byte[] reassembledUdpData(List<byte[]> fragments) {
    if (fragments.isEmpty() || !Packets6.isIpv6(fragments.get(0))) {
      return Packets.udpData(Packets.reassemble(fragments));
    }
    byte[] upper = Packets6.reassembledUpper(fragments);
    assertTrue(upper != null && upper.length >= 8, "fragments do not make a datagram");
    return java.util.Arrays.copyOfRange(upper, 8, upper.length);
  }

  /** Cuts a whole datagram of either family into fragments of at most {@code mtu} bytes. */
  static List<byte[]> fragment(byte[] whole, int mtu, int id) {
    return Packets6.isIpv6(whole)
        ? Packets6.fragment(whole, mtu, id)
        : Packets.fragment(whole, mtu);
  }

  /** The payload bytes per full fragment over {@code mtu}: 1480 (IPv4) or 1448 (IPv6) on 1500. */
  static int fragmentStep(IpFamily family, int mtu) {
    return (mtu - (family == IpFamily.IPV6 ? 48 : 20)) & ~7;
  }

  /** The UDP data of a whole datagram of either family. */
  static byte[] udpData(byte[] p) {
    return Packets6.isIpv6(p) ? Packets6.udpData(p) : Packets.udpData(p);
  }

  /**
   * Fails unless the packets captured on the wire are fragments of at most {@code mtu} bytes that
   * reassemble into a UDP datagram carrying {@code data} (IPv4: valid header checksums too; IPv6:
   * Fragment headers of one Identification).
   */
  static void assertFragmentsWithin(IpFamily family, List<byte[]> onWire, int mtu, byte[] data) {
    if (family == IpFamily.IPV4) {
      assertFragmentsWithin4(onWire, mtu, data);
      return;
    }
    assertFalse(onWire.isEmpty(), "nothing of the datagram was captured on the wire");
    long id = Packets6.identification(onWire.get(0));
    for (byte[] f : onWire) {
      assertTrue(f.length <= mtu, "a packet exceeds the MTU of " + mtu + ": " + describe(f));
      assertEquals(id, Packets6.identification(f), "one Identification: " + describe(f));
    }
    byte[] upper = Packets6.reassembledUpper(onWire);
    assertTrue(upper != null, "the fragments do not cover the datagram: " + onWire.size());
    byte[] got = java.util.Arrays.copyOfRange(upper, Math.min(8, upper.length), upper.length);
    assertArrayEquals(data, got, "the fragments on the wire do not reassemble into the datagram");
  }

  private static void assertFragmentsWithin4(List<byte[]> onWire, int mtu, byte[] data) {
    assertFalse(onWire.isEmpty(), "nothing of the datagram was captured on the wire");
    for (byte[] f : onWire) {
      assertTrue(
          f.length <= mtu,
          "a packet on the wire exceeds the MTU of " + mtu + ": " + Packets.describe(f));
      assertTrue(Packets.headerChecksumValid(f), "bad header checksum on " + Packets.describe(f));
    }
    assertArrayEquals(
        data,
        Packets.udpData(Packets.reassemble(onWire)),
        "the fragments on the wire do not reassemble into the datagram");
  }

  private static String describe(byte[] p) {
    return Probe.describe(p);
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
