package org.divert4j.tck;

import static org.divert4j.tck.Packets.pattern;
import static org.divert4j.tck.TckVerification.LARGE;
import static org.divert4j.tck.TckVerification.PORT;
import static org.divert4j.tck.TckVerification.SRC_PORT;
import static org.divert4j.tck.TckVerification.UDP_PORT;
import static org.divert4j.tck.TckVerification.divert;
import static org.divert4j.tck.TckVerification.host;
import static org.divert4j.tck.TckVerification.hostOptions;
import static org.divert4j.tck.TckVerification.probe;
import static org.divert4j.tck.TckVerification.seconds;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.function.Function;
import org.divert4j.Capability;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.FragmentMode;
import org.divert4j.HostStats;
import org.divert4j.IpFamily;
import org.divert4j.tck.Probe.Received;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.UdpEndpoint;

/**
 * S24's discards, for {@link AlwaysDefragmentVerification}: crafts the fragments of datagrams that
 * cannot or can no longer be completed (missing, late or overlapping fragments), sends them on a
 * test bed in always-defragment mode, and checks that nothing is delivered and that the host counts
 * each discard under its one reassembly reason. Stateless.
 */
final class ReassemblyDiscards {
  private static final List<DropReason> REASSEMBLY_REASONS =
      List.of(
          DropReason.REASSEMBLY_TIMEOUT,
          DropReason.REASSEMBLY_OVERLAP,
          DropReason.REASSEMBLY_MEMORY,
          DropReason.REASSEMBLY_INVALID);

  private ReassemblyDiscards() {}

  static TestBedOptions reassemblyTimeoutOfTwoSeconds() {
    return hostOptions(
        host().fragments(FragmentMode.ALWAYS_DEFRAGMENT).reassemblyTimeout(seconds(2)).build());
  }

  /**
   * Two datagrams (IDs {@code id} and {@code id + 1}) lose their middle fragment. The first one's
   * comes {@code early} and completes it; the second one's comes 2 s after that, when its other
   * fragments must have been discarded.
   */
  static void assertReassemblyTimeout(
      TckContext tck,
      TestBedOptions options,
      int id,
      int seed,
      Duration early,
      String completed,
      String discarded)
      throws Exception {
    try (TestBed bed = tck.testBed(options)) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp")) {
        List<byte[]> a = fragments(p, id, seed);
        List<byte[]> b = fragments(p, id + 1, seed + 1);
        for (List<byte[]> d : List.of(a, b)) {
          bed.peer().sendRaw(ByteBuffer.wrap(d.get(0)));
          bed.peer().sendRaw(ByteBuffer.wrap(d.get(2)));
        }
        bed.advance(early);
        bed.peer().sendRaw(ByteBuffer.wrap(a.get(1)));
        Received r = p.receive(socket, completed);
        assertArrayEquals(
            pattern(LARGE, seed), Wire.udpData(r.bytes()), "the completed datagram: " + r);
        bed.advance(seconds(2));
        bed.peer().sendRaw(ByteBuffer.wrap(b.get(1)));
        p.expectNothing(socket, discarded);
        // the second datagram's first and last fragments timed out; its late middle fragment
        // starts a datagram of its own, which has not timed out yet
        assertReassemblyDrops(bed, DropReason.REASSEMBLY_TIMEOUT, 2, discarded);
        if (counted(tck, p)) {
          assertEquals(
              1, bed.host().stats().reassembled(), "datagrams reassembled: " + bed.host().stats());
        }
      }
    }
  }

  /** Two fragments that together cover a datagram of the probe's family but overlap by 8 bytes. */
  static List<byte[]> overlapping(Probe p) {
    if (p.family() == IpFamily.IPV6) {
      return overlapping6(p);
    }
    byte[] whole =
        Packets.udp(p.peer(), p.host(), SRC_PORT, UDP_PORT, pattern(2000, 28)).id(0x2421).build();
    byte[] first = Packets.slice(whole, 0, 1480, true);
    byte[] second = Packets.slice(whole, 1472, Packets.totalLength(whole) - 20 - 1472, false);
    return List.of(first, second);
  }

  /**
   * IPv6's two fragments that cover a datagram and overlap by 8 bytes: the first of 1448 bytes, the
   * second starting at 1440 (each with the datagram's bytes at its offset).
   */
  private static List<byte[]> overlapping6(Probe p) {
    byte[] whole = Packets6.udp(p.peer(), p.host(), SRC_PORT, UDP_PORT, pattern(2000, 28));
    List<byte[]> frags = Packets6.fragment(whole, 1500, 0x2421);
    byte[] second = frags.get(1);
    int f = Packets6.walk(second).fragmentHeader();
    int from = Packets6.fragmentOffset(second);
    byte[] moved = new byte[second.length + 8];
    System.arraycopy(second, 0, moved, 0, f + 8);
    System.arraycopy(whole, 40 + from - 8, moved, f + 8, 8);
    System.arraycopy(second, f + 8, moved, f + 16, second.length - f - 8);
    Packets.put16(moved, 4, moved.length - 40);
    Packets.put16(moved, f + 2, (from - 8) | (Packets6.moreFragments(second) ? 1 : 0));
    return List.of(frags.get(0), moved);
  }

  /**
   * With a 2 s reassembly timeout, the peer sends {@code pieces} of a datagram that can never be
   * completed: nothing is delivered, before the timeout ({@code before}) or after it ({@code
   * after}), nothing reaches the host's endpoint ({@code atEndpoint}), and after the timeout the
   * host has counted the datagram under {@code reason} alone.
   */
  static void assertNeverDelivered(
      TckContext tck,
      Function<Probe, List<byte[]>> pieces,
      DropReason reason,
      String before,
      String after,
      String atEndpoint)
      throws Exception {
    try (TestBed bed = tck.testBed(reassemblyTimeoutOfTwoSeconds());
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp")) {
        List<byte[]> sent = pieces.apply(p);
        for (byte[] piece : sent) {
          bed.peer().sendRaw(ByteBuffer.wrap(piece));
        }
        p.expectNothing(socket, before);
        bed.advance(seconds(3));
        p.expectNothing(socket, after);
        p.expectNoDatagram(endpoint, atEndpoint);
        if (reason == DropReason.REASSEMBLY_TIMEOUT || counted(tck, p)) {
          assertReassemblyDrops(bed, reason, sent.size(), atEndpoint);
        }
      }
    }
  }

  /**
   * The host's reassembly drops are one datagram's, all under {@code reason}: counted once (per
   * datagram, as Linux's SNMP counters) or once per fragment it had ({@code fragments}, as the
   * user-space reassembler and the socket drop counters), and under no other reassembly reason.
   */
  private static void assertReassemblyDrops(
      TestBed bed, DropReason reason, int fragments, String why) throws Exception {
    HostStats s = bed.host().stats();
    long n = s.dropped(reason);
    assertTrue(
        n >= 1 && n <= fragments,
        "the discarded datagram ("
            + why
            + ") must be counted as "
            + reason
            + ", once or once per fragment (1.."
            + fragments
            + "): "
            + s);
    for (DropReason other : REASSEMBLY_REASONS) {
      if (other != reason) {
        assertEquals(0, s.dropped(other), "no " + other + " drop for " + why + ": " + s);
      }
    }
  }

  /**
   * Whether the run's reassembly counts everything S24 names: always for IPv4; for IPv6 where the
   * backend declares {@link Capability#IPV6_REASSEMBLY_COUNTERS} (timeouts are counted by all).
   */
  static boolean counted(TckContext tck, Probe p) {
    return p.family() == IpFamily.IPV4
        || tck.capabilities().contains(Capability.IPV6_REASSEMBLY_COUNTERS);
  }

  /** Three crafted fragments (MTU 1500) of a datagram of the probe's family, peer to host. */
  static List<byte[]> fragments(Probe p, int id, int seed) {
    if (p.family() == IpFamily.IPV6) {
      byte[] whole = p.udpPacket(p.peer(), p.host(), SRC_PORT, UDP_PORT, pattern(LARGE, seed));
      return Packets6.fragment(whole, 1500, id);
    }
    byte[] whole =
        Packets.udp(p.peer(), p.host(), SRC_PORT, UDP_PORT, pattern(LARGE, seed)).id(id).build();
    return Packets.fragment(whole, 1500);
  }
}
