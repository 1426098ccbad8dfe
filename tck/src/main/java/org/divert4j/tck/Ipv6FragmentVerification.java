package org.divert4j.tck;

import static org.divert4j.tck.Ipv6Verification.BIG;
import static org.divert4j.tck.Ipv6Verification.probe4;
import static org.divert4j.tck.Ipv6Verification.probe6;
import static org.divert4j.tck.Packets.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.Capability;
import org.divert4j.DivertAddress;
import org.divert4j.DivertSocket;
import org.divert4j.packet.Ipv6Builder;
import org.divert4j.tck.Probe.Received;
import org.divert4j.testbed.PacketCapture;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.Test;

/**
 * Area K of SEMANTICS.md: IPv6 fragments in both fragment modes (S57, S58) and the two families'
 * separate reassembly (S63). Every test needs {@link Capability#IPV6}; a backend that does not
 * declare it has them skipped with the reason.
 */
@SpecArea(id = "K", title = "IPv6")
public class Ipv6FragmentVerification extends TckVerification {
  /** For the JUnit engine and subclasses. */
  public Ipv6FragmentVerification() {}

  /** The two lists hold the same packets, in any order. */
  static void assertSameFragments(List<byte[]> expected, List<byte[]> got) {
    assertEquals(expected.size(), got.size(), "fragments: " + Probe.describeAll(got));
    List<byte[]> left = new ArrayList<>(got);
    for (byte[] e : expected) {
      boolean found = left.removeIf(g -> java.util.Arrays.equals(e, g));
      assertTrue(
          found,
          "fragment "
              + Packets6.describe(e)
              + " not received unchanged; got "
              + Probe.describeAll(got));
    }
  }

  /**
   * <b>S57</b>: per-fragment mode: each IPv6 fragment, with its Fragment header, is delivered on
   * its own and unchanged (three fragments of a 3000-byte datagram, exactly three deliveries,
   * byte-identical); written back unchanged the datagram arrives whole; dropping one fragment of a
   * second datagram loses it.
   *
   * <p>If it fails: the backend reassembles (nf_defrag_ipv6 loaded by connection tracking in the
   * namespace), or strips the Fragment header.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S57", capabilities = Capability.IPV6)
  public void S57_inboundFragmentsAreDeliveredOneByOneAndUnchanged(TckContext tck)
      throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe6(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp")) {
        byte[] data = pattern(BIG, 8);
        List<byte[]> frags =
            Packets6.fragment(
                p.udpPacket(p.peer(), p.host(), SRC_PORT, UDP_PORT, data), 1500, 0x5701);
        for (byte[] f : frags) {
          bed.peer().sendRaw(ByteBuffer.wrap(f));
        }
        List<Received> got = p.receiveExactly(socket, 3, "IPv6 fragment");
        List<byte[]> bytes = new ArrayList<>();
        for (Received r : got) {
          bytes.add(r.bytes());
        }
        assertSameFragments(frags, bytes);
        for (Received r : got) {
          p.writeBack(socket, r);
        }
        p.datagram(endpoint, data, "the datagram from its fragments written back");

        byte[] lost = pattern(BIG, 9);
        for (byte[] f :
            Packets6.fragment(
                p.udpPacket(p.peer(), p.host(), SRC_PORT, UDP_PORT, lost), 1500, 0x5702)) {
          bed.peer().sendRaw(ByteBuffer.wrap(f));
        }
        List<Received> second = p.receiveExactly(socket, 3, "fragment of the second datagram");
        for (Received r : second) {
          if (Packets6.fragmentOffset(r.bytes()) == 1448) {
            socket.drop(r.address());
          } else {
            p.writeBack(socket, r);
          }
        }
        p.expectNoDatagram(endpoint, "one fragment was dropped, so the datagram is lost");
      }
    }
  }

  /**
   * <b>S57</b>: outbound, the output port sees what goes on the wire: a 3000-byte datagram the host
   * sends over a 1500-byte link arrives as the fragments the host made, each at most 1500 bytes,
   * each with a Fragment header and one Identification shared by all, their offsets covering the
   * 3008-byte payload without gap or overlap and only the last without M; written back they reach
   * the peer as the datagram.
   *
   * <p>If it fails: the backend diverts the whole datagram before the host fragments it (a
   * user-space stack must fragment first), or hides fragments after the first.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S57", capabilities = Capability.IPV6)
  public void S57_outputPortSeesTheFragmentsTheHostMade(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint atPeer = bed.peer().openUdp(UDP_PORT)) {
      Probe p = probe6(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "output -p udp")) {
        byte[] data = pattern(BIG, 10);
        bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, data);
        List<Received> got = new ArrayList<>();
        Received r;
        while (got.size() < Probe.DRAIN_LIMIT && (r = p.receive(socket, p.timeout)) != null) {
          got.add(r);
          if (coversPayload(got, BIG + 8)) {
            break;
          }
        }
        assertTrue(coversPayload(got, BIG + 8), "fragments covering 3008 bytes: " + got);
        p.expectNothing(socket, "no more than the fragments of one datagram");
        long id = Packets6.identification(got.get(0).bytes());
        for (Received f : got) {
          assertTrue(f.bytes().length <= 1500, "fragment above the 1500 MTU: " + f);
          assertTrue(Packets6.hasFragmentHeader(f.bytes()), "a fragment: " + f);
          assertEquals(id, Packets6.identification(f.bytes()), "one Identification: " + got);
        }
        assertTrue(got.size() >= 3, "3008 bytes over MTU 1500 make three fragments at least");
        for (Received f : got) {
          p.writeBack(socket, f);
        }
        p.datagram(atPeer, data, "the datagram from its fragments written back");
      }
    }
  }

  /** True if the fragments' payloads cover {@code [0, total)} with no gap or overlap. */
  static boolean coversPayload(List<Received> fragments, int total) {
    List<byte[]> bytes = new ArrayList<>();
    for (Received r : fragments) {
      bytes.add(r.bytes());
    }
    return coversPayloadBytes(bytes, total);
  }

  /** As {@link #coversPayload}, for packets captured on the wire. */
  static boolean coversPayloadBytes(List<byte[]> fragments, int total) {
    List<int[]> spans = new ArrayList<>();
    int end = -1;
    for (byte[] b : fragments) {
      if (!Packets6.isIpv6(b) || !Packets6.hasFragmentHeader(b)) {
        return false;
      }
      Packets6.Walk w = Packets6.walk(b);
      int first = w.fragmentHeader() + 8;
      int length = 40 + Packets6.payloadLength(b) - first;
      spans.add(new int[] {Packets6.fragmentOffset(b), length});
      if (!Packets6.moreFragments(b)) {
        end = Packets6.fragmentOffset(b) + length;
      }
    }
    if (end != total) {
      return false;
    }
    spans.sort((a, b) -> Integer.compare(a[0], b[0]));
    int at = 0;
    for (int[] s : spans) {
      if (s[0] != at) {
        return false;
      }
      at += s[1];
    }
    return at == total;
  }

  /**
   * <b>S58</b>: always-defragment mode: the three fragments of a 3000-byte datagram are reassembled
   * before the rules, so {@code --dport 7000} takes the datagram, and the program receives exactly
   * one packet with no Fragment header, payload length 3008, the UDP data and a valid UDP checksum
   * (judged by the TCK's own sum); written back it reaches the host's endpoint.
   *
   * <p>If it fails: nf_defrag_ipv6 is not loaded in always-defragment mode, or the user-space
   * reassembly keeps the Fragment header or leaves the payload length of the first fragment.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S58", capabilities = Capability.IPV6)
  public void S58_fragmentsAreReassembledBeforeTheRules(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed(defragment());
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe6(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp --dport 7000")) {
        byte[] data = pattern(BIG, 11);
        for (byte[] f :
            Packets6.fragment(
                p.udpPacket(p.peer(), p.host(), SRC_PORT, UDP_PORT, data), 1500, 0x5801)) {
          bed.peer().sendRaw(ByteBuffer.wrap(f));
        }
        Received r = p.receiveExactly(socket, 1, "the reassembled datagram").get(0);
        byte[] b = r.bytes();
        assertFalse(Packets6.hasFragmentHeader(b), "no Fragment header after reassembly: " + r);
        assertEquals(BIG + 8, Packets6.payloadLength(b), "payload length of " + r);
        assertEquals(40 + BIG + 8, b.length, "length of " + r);
        assertArrayEquals(data, Packets6.udpData(b), "UDP data of " + r);
        assertTrue(Packets6.udpChecksumValid(b), "UDP checksum of " + r);
        p.writeBack(socket, r);
        p.datagram(endpoint, data, "the reassembled datagram written back");
      }
    }
  }

  /**
   * <b>S58</b>: overlapping fragments discard the datagram (RFC 5722): a first fragment, a second
   * that overlaps it by 8 bytes with other data, and the rest are never delivered.
   *
   * <p>If it fails: the reassembly lets a later fragment overwrite an earlier one (or the earlier
   * win), which RFC 5722 forbids.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S58", capabilities = Capability.IPV6)
  public void S58_overlappingFragmentsDiscardTheDatagram(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed(defragment())) {
      Probe p = probe6(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp")) {
        byte[] whole = p.udpPacket(p.peer(), p.host(), SRC_PORT, UDP_PORT, pattern(BIG, 12));
        List<byte[]> frags = Packets6.fragment(whole, 1500, 0x5802);
        byte[] overlap = frags.get(1).clone();
        // Move the second fragment 8 bytes back (offset 1448 -> 1440) over the first's last bytes.
        int f = Packets6.walk(overlap).fragmentHeader();
        Packets.put16(overlap, f + 2, (1440) | 1);
        for (int i = f + 8; i < overlap.length; i++) {
          overlap[i] ^= 0x5a;
        }
        bed.peer().sendRaw(ByteBuffer.wrap(frags.get(0)));
        bed.peer().sendRaw(ByteBuffer.wrap(overlap));
        bed.peer().sendRaw(ByteBuffer.wrap(frags.get(1)));
        bed.peer().sendRaw(ByteBuffer.wrap(frags.get(2)));
        p.expectNothing(socket, "overlapping fragments discard the datagram (RFC 5722)");
      }
    }
  }

  /**
   * <b>S58</b> [cap: INTACT_ATOMIC_FRAGMENTS]: in always-defragment mode an atomic fragment (offset
   * 0, M 0) is delivered as it is, Fragment header included (RFC 6946).
   *
   * <p>If it fails: the reassembly treats an atomic fragment as the start (and end) of a datagram
   * and strips its header.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(
      id = "S58",
      capabilities = {Capability.IPV6, Capability.INTACT_ATOMIC_FRAGMENTS})
  public void S58_atomicFragmentsPassAsTheyAre(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed(defragment())) {
      Probe p = probe6(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp")) {
        byte[] atomic =
            Packets6.bytes(
                Ipv6Builder.udp(SRC_PORT, UDP_PORT)
                    .source(p.peer().getAddress())
                    .destination(p.host().getAddress())
                    .fragmentHeader(0, false, 0x5803)
                    .payload(pattern(100, 13))
                    .build());
        bed.peer().sendRaw(ByteBuffer.wrap(atomic));
        Received r = p.receiveExactly(socket, 1, "the atomic fragment").get(0);
        assertArrayEquals(atomic, r.bytes(), "the atomic fragment as it was sent: " + r);
      }
    }
  }

  /**
   * <b>S58</b>: in always-defragment mode a whole datagram larger than the egress MTU, injected
   * outbound (3048 bytes over MTU 1500), is fragmented again: the peer's wire shows fragments of at
   * most 1500 bytes, each with a Fragment header carrying one and the same non-zero Identification,
   * covering the 3008-byte payload without gap or overlap; the peer receives the datagram intact.
   *
   * <p>If it fails: the backend refuses the injection as in per-fragment mode (S59 applies only
   * there), sends one oversize frame, or reuses Identification 0.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S58", capabilities = Capability.IPV6)
  public void S58_oversizeInjectionIsFragmentedWithANewIdentification(TckContext tck)
      throws Exception {
    try (TestBed bed = tck.testBed(defragment());
        PacketCapture wire = bed.peer().capture();
        UdpEndpoint endpoint = bed.peer().openUdp(UDP_PORT);
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe6(bed, tck);
      byte[] data = pattern(BIG, 58);
      byte[] whole = Packets6.udp(p.host(), p.peer(), SRC_PORT, UDP_PORT, data);
      socket.send(ByteBuffer.wrap(whole), DivertAddress.OUTBOUND);
      p.datagram(endpoint, data, "the 3048-byte datagram, fragmented");
      List<byte[]> frags = p.settled(wire, Probe.udpBetween(p.host(), p.peer()));
      assertTrue(
          coversPayloadBytes(frags, BIG + 8),
          "fragments covering 3008 bytes: " + Probe.describeAll(frags));
      long id = Packets6.identification(frags.get(0));
      assertNotEquals(0L, id, "a new non-zero Identification: " + Probe.describeAll(frags));
      for (byte[] f : frags) {
        assertTrue(f.length <= 1500, "fragment above the 1500 MTU: " + Packets6.describe(f));
        assertEquals(
            id, Packets6.identification(f), "one Identification: " + Probe.describeAll(frags));
      }
    }
  }

  /**
   * <b>S63</b>: the two families never share a reassembly buffer or an identification space. In
   * always-defragment mode the peer sends, interleaved, the fragments of an IPv4 datagram and of an
   * IPv6 datagram that carry the same Identification (0x6363), the same ports and different data:
   * the program receives exactly two whole datagrams, one per family, each with its own data.
   *
   * <p>If it fails: the reassembly keys fragments by identification (and ports) without the family,
   * so one family's fragments fill the other's datagram.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S63", capabilities = Capability.IPV6)
  public void S63_theFamiliesNeverShareAReassemblyBuffer(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed(defragment())) {
      Probe p4 = probe4(bed, tck);
      Probe p6 = probe6(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp --dport 7000")) {
        byte[] data4 = pattern(BIG, 63);
        byte[] data6 = pattern(BIG, 64);
        byte[] whole4 =
            Packets.udp(p4.peer(), p4.host(), SRC_PORT, UDP_PORT, data4).id(0x6363).build();
        List<byte[]> f4 = Packets.fragment(whole4, 1500);
        List<byte[]> f6 =
            Packets6.fragment(
                Packets6.udp(p6.peer(), p6.host(), SRC_PORT, UDP_PORT, data6), 1500, 0x6363);
        int n = Math.max(f4.size(), f6.size());
        for (int i = 0; i < n; i++) {
          if (i < f4.size()) {
            bed.peer().sendRaw(ByteBuffer.wrap(f4.get(i)));
          }
          if (i < f6.size()) {
            bed.peer().sendRaw(ByteBuffer.wrap(f6.get(i)));
          }
        }
        List<Received> got = p6.receiveExactly(socket, 2, "reassembled datagram");
        Received v4 = Packets.version(got.get(0).bytes()) == 4 ? got.get(0) : got.get(1);
        Received v6 = v4 == got.get(0) ? got.get(1) : got.get(0);
        assertEquals(4, Packets.version(v4.bytes()), "one IPv4 datagram: " + got);
        assertEquals(6, Packets.version(v6.bytes()), "one IPv6 datagram: " + got);
        assertFalse(Packets.isFragment(v4.bytes()), "the IPv4 datagram is whole: " + v4);
        assertArrayEquals(data4, Packets.udpData(v4.bytes()), "IPv4 data: " + v4);
        assertFalse(Packets6.hasFragmentHeader(v6.bytes()), "the IPv6 one is whole: " + v6);
        assertArrayEquals(data6, Packets6.udpData(v6.bytes()), "IPv6 data: " + v6);
      }
    }
  }
}
