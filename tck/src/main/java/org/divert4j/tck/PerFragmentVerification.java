package org.divert4j.tck;

import static org.divert4j.tck.Packets.pattern;
import static org.divert4j.tck.Wire.fragmentOffset;
import static org.divert4j.tck.Wire.moreFragments;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.divert4j.DivertSocket;
import org.divert4j.IpFamily;
import org.divert4j.tck.Probe.Received;
import org.divert4j.testbed.PacketCapture;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.Test;

/**
 * Area D of SEMANTICS.md: per-fragment mode, the default (S16, S7, S17, S18, S19). A 4000-byte UDP
 * payload crosses a 1500-byte link as three fragments with offsets 0, 1480 and 2960 (IPv6: 0, 1448
 * and 2896, behind a Fragment header). Runs once per address family (S56 and S57 read S7 and
 * S16-S19 for IPv6); the test of fragments carrying Don't Fragment is IPv4's.
 */
@SpecArea(id = "D", title = "Per-fragment mode")
public class PerFragmentVerification extends FamilyVerification {
  /** For the JUnit engine and subclasses. */
  public PerFragmentVerification() {}

  /**
   * <b>S16</b>: inbound, each fragment is delivered on its own. The peer sends a 4000-byte payload
   * over MTU 1500; a protocol rule on input gets three packets with one IP ID, offsets 0, 1480,
   * 2960, MF set on all but the last, each at most 1500 bytes; together they reassemble into the
   * datagram.
   *
   * <p>If it fails: the backend reassembles before the divert point (Linux: the queue hook runs
   * after nf_defrag_ipv4 at priority -400, or conntrack is active in the namespace).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S16")
  public void S16_inboundFragmentsAreDeliveredOneByOne(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp")) {
        byte[] data = pattern(LARGE, 16);
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, data);
        List<byte[]> frags = bytes(p.receiveExactly(socket, 3, "fragment"));
        frags.sort(Comparator.comparingInt(Wire::fragmentOffset));
        int step = Wire.fragmentStep(p.family(), 1500);
        int[] offsets = {0, step, 2 * step};
        for (int i = 0; i < 3; i++) {
          byte[] f = frags.get(i);
          assertEquals(offsets[i], fragmentOffset(f), "offsets: " + Probe.describeAll(frags));
          assertEquals(i < 2, moreFragments(f), "MF flags: " + Probe.describeAll(frags));
          assertTrue(f.length <= 1500, "fragment above the MTU: " + Probe.describe(f));
          assertEquals(
              Wire.identification(frags.get(0)),
              Wire.identification(f),
              "one ID for all fragments");
        }
        assertArrayEquals(data, Wire.reassembledUdpData(frags), "reassembled data");
      }
    }
  }

  /**
   * <b>S16</b>: fragments are delivered unchanged: the peer sends four crafted fragments (ID
   * 0x5151, 976-byte pieces); each delivered packet is byte-identical to the fragment sent with the
   * same offset.
   *
   * <p>If it fails: the backend rewrites fragments (merges, re-fragments, clears flags or changes
   * the ID) before the program sees them.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S16")
  public void S16_fragmentsAreDeliveredUnchanged(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp")) {
        byte[] whole =
            p.family() == IpFamily.IPV6
                ? Packets6.udp(p.peer(), p.host(), SRC_PORT, UDP_PORT, pattern(3000, 17))
                : Packets.udp(p.peer(), p.host(), SRC_PORT, UDP_PORT, pattern(3000, 17))
                    .id(0x5151)
                    .build();
        List<byte[]> sent = Wire.fragment(whole, 1000, 0x5151);
        for (byte[] f : sent) {
          bed.peer().sendRaw(ByteBuffer.wrap(f));
        }
        List<byte[]> got = bytes(p.receiveExactly(socket, sent.size(), "crafted fragment"));
        got.sort(Comparator.comparingInt(Wire::fragmentOffset));
        for (int i = 0; i < sent.size(); i++) {
          assertArrayEquals(
              sent.get(i),
              got.get(i),
              "fragment at offset "
                  + fragmentOffset(sent.get(i))
                  + " changed: sent "
                  + Probe.describe(sent.get(i))
                  + ", received "
                  + Probe.describe(got.get(i)));
        }
      }
    }
  }

  /**
   * <b>S7</b>: a rule that tests a port matches only the first fragment; the non-first fragments
   * continue as if it were absent, so a later protocol-only rule gets them. With "UDP to 7000 to
   * 4100" then "all UDP to 4200", port 4100 gets the offset-0 fragment and 4200 the other two.
   *
   * <p>If it fails: the backend matches ports on non-first fragments (reading payload bytes as a
   * header), or tracks fragments to apply the first one's verdict to the rest.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S7")
  public void S7_portRuleMatchesOnlyTheFirstFragment(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      bed.host().addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      bed.host().addRule(rule("input -p udp -j DIVERT " + PORT2));
      try (DivertSocket byPort = bed.host().bind(PORT);
          DivertSocket byProtocol = bed.host().bind(PORT2)) {
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(LARGE, 7));
        Received first = p.receiveExactly(byPort, 1, "first fragment").get(0);
        assertEquals(0, fragmentOffset(first.bytes()), "the port rule took " + first);
        assertTrue(moreFragments(first.bytes()), "the port rule took " + first);
        List<Received> rest = p.receiveExactly(byProtocol, 2, "non-first fragment");
        for (Received r : rest) {
          assertTrue(fragmentOffset(r.bytes()) > 0, "the protocol rule got " + r);
        }
      }
    }
  }

  /**
   * <b>S7</b>: non-first fragments continue as if the port rule were absent: with only "UDP to 7000
   * to 4100", the program gets the first fragment; once it is written back the host's endpoint
   * receives the whole datagram (the other fragments went straight on).
   *
   * <p>If it fails: non-first fragments are held or dropped by a rule that cannot match them.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S7")
  public void S7_nonFirstFragmentsContinueAsIfThePortRuleWereAbsent(TckContext tck)
      throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp --dport 7000")) {
        byte[] data = pattern(LARGE, 8);
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, data);
        Received first = p.receiveExactly(socket, 1, "first fragment").get(0);
        assertEquals(0, fragmentOffset(first.bytes()), "the port rule took " + first);
        p.writeBack(socket, first);
        p.datagram(endpoint, data, "the datagram, reassembled by the host");
      }
    }
  }

  /**
   * <b>S7</b>: an ICMP type rule matches only the first fragment. A 3000-byte echo request crosses
   * the link as three crafted fragments: "ICMP type 8 to 4100" gets the first, a later "all ICMP to
   * 4200" gets the other two.
   *
   * <p>If it fails: as for the port rule; the ICMP type byte exists only in the first fragment.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S7")
  public void S7_icmpTypeRuleMatchesOnlyTheFirstFragment(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      p.resolveNeighbours();
      String icmp = p.icmp();
      bed.host()
          .addRule(
              rule(
                  "input -p "
                      + icmp
                      + " --"
                      + icmp
                      + "-type "
                      + p.echoRequestType()
                      + " -j DIVERT "
                      + PORT));
      bed.host().addRule(rule("input -p " + icmp + " -j DIVERT " + PORT2));
      try (DivertSocket byType = bed.host().bind(PORT);
          DivertSocket byProtocol = bed.host().bind(PORT2)) {
        byte[] echo = p.echoRequest(p.peer(), p.host(), 0x99, 1, pattern(3000, 5));
        for (byte[] f : Wire.fragment(echo, 1500, 0x99)) {
          bed.peer().sendRaw(ByteBuffer.wrap(f));
        }
        Received first = p.receiveExactly(byType, 1, "first fragment").get(0);
        assertEquals(0, fragmentOffset(first.bytes()), "the type rule took " + first);
        for (Received r : p.receiveExactly(byProtocol, 2, "non-first fragment")) {
          assertTrue(fragmentOffset(r.bytes()) > 0, "the protocol rule got " + r);
        }
      }
    }
  }

  /**
   * <b>S7</b>: a rule on addresses only diverts every fragment: "source = the peer" gets all three
   * fragments of a 4000-byte datagram.
   *
   * <p>If it fails: the backend treats every rule as if it tested transport fields.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S7")
  public void S7_addressRuleDivertsEveryFragment(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      // Source and destination: neighbour discovery (IPv6) goes to multicast addresses.
      String addresses = "-s " + p.peer().getHostAddress() + " -d " + p.host().getHostAddress();
      bed.host().addRule(rule("input " + addresses + " -j DIVERT " + PORT));
      try (DivertSocket socket = bed.host().bind(PORT)) {
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(LARGE, 9));
        for (Received r : p.receiveExactly(socket, 3, "fragment")) {
          assertTrue(Wire.isFragment(r.bytes()), "expected a fragment, got " + r);
        }
      }
    }
  }

  /**
   * <b>S17</b>: fragments written back unchanged work. The three inbound fragments, written back in
   * reverse order, give the host's endpoint the whole datagram.
   *
   * <p>If it fails: reinjected fragments are refused (MTU or validity checks that mistake a
   * fragment for a bad packet) or lose their flags.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S17")
  public void S17_inboundFragmentsWrittenBackAreReassembled(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp")) {
        byte[] data = pattern(LARGE, 10);
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, data);
        List<Received> frags = new ArrayList<>(p.receiveExactly(socket, 3, "fragment"));
        for (int i = frags.size() - 1; i >= 0; i--) {
          p.writeBack(socket, frags.get(i));
        }
        p.datagram(endpoint, data, "the datagram from fragments written back");
      }
    }
  }

  /**
   * <b>S17</b>: outbound fragments written back unchanged reach the peer, which reassembles the
   * datagram; the wire shows the same three fragments.
   *
   * <p>If it fails: see the inbound case; outbound fragments must not be refused by the MTU check
   * since none exceeds the MTU.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S17")
  public void S17_outboundFragmentsWrittenBackReachThePeer(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.peer().openUdp(UDP_PORT);
        PacketCapture wire = bed.peer().capture()) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "output -p udp")) {
        byte[] data = pattern(LARGE, 11);
        bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, data);
        for (Received r : p.receiveExactly(socket, 3, "outbound fragment")) {
          p.writeBack(socket, r);
        }
        p.datagram(endpoint, data, "the datagram at the peer");
        List<byte[]> onWire = p.settled(wire, Probe.udpBetween(p.host(), p.peer()));
        assertEquals(3, onWire.size(), "fragments on the wire: " + Probe.describeAll(onWire));
      }
    }
  }

  /**
   * <b>S17</b>: fragments as they come are written back unchanged, including fragments that carry
   * Don't Fragment: Linux emits such fragments when it refragments a reassembled DF datagram
   * ({@code IPSKB_FRAG_PMTU}), so they occur on real wires. The peer sends a datagram as three
   * fragments with DF set on each; the program writes each back; the host's endpoint receives the
   * datagram.
   *
   * <p>If it fails with a malformed-packet error: the backend treats DF on a fragment as a defect.
   * S47 calls malformed only what it lists (short, version, header length, a total length
   * inconsistent with the fragment flags), and S41 leaves flags and offset to the program.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S17")
  @Ipv4Only("IPv6 has no Don't Fragment flag (S59)")
  public void S17_fragmentsCarryingDontFragmentAreWrittenBackUnchanged(TckContext tck)
      throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp")) {
        byte[] data = pattern(LARGE, 13);
        byte[] whole =
            Packets.udp(p.peer(), p.host(), SRC_PORT, UDP_PORT, data)
                .id(0x1717)
                .flags(Packets.DF)
                .build();
        List<byte[]> sent = Packets.fragment(whole, 1500);
        for (byte[] f : sent) {
          bed.peer().sendRaw(ByteBuffer.wrap(f));
        }
        for (Received r : p.receiveExactly(socket, sent.size(), "DF fragment")) {
          assertTrue(Packets.dontFragment(r.bytes()), "DF as on the wire: " + r);
          p.writeBack(socket, r);
        }
        p.datagram(endpoint, data, "the datagram from DF fragments written back");
      }
    }
  }

  /**
   * <b>S18</b>: dropping one fragment loses the whole datagram. The middle fragment is dropped and
   * the others written back: the host's endpoint never receives the datagram.
   *
   * <p>If it fails: the backend reassembles behind the program's back, or reinjects a dropped
   * fragment.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S18")
  public void S18_droppingOneFragmentLosesTheDatagram(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp")) {
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(LARGE, 12));
        for (Received r : p.receiveExactly(socket, 3, "fragment")) {
          if (fragmentOffset(r.bytes()) == Wire.fragmentStep(p.family(), 1500)) {
            socket.drop(r.address());
          } else {
            p.writeBack(socket, r);
          }
        }
        p.expectNoDatagram(endpoint, "its middle fragment was dropped");
      }
    }
  }

  /**
   * <b>S19</b>: outbound, the output chain sees what goes on the wire. The host sends a 4000-byte
   * payload over MTU 1500: the output socket gets three fragments, each at most 1500 bytes, not one
   * 4028-byte datagram; they reassemble into the datagram.
   *
   * <p>If it fails: the backend diverts before the stack fragments (Linux POSTROUTING sees the
   * whole datagram; the kernel backend must fragment in user space and deliver each fragment).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S19")
  public void S19_outputChainSeesTheFragmentsOfALargeLocalDatagram(TckContext tck)
      throws Exception {
    byte[] data = pattern(LARGE, 19);
    List<byte[]> frags = outboundFragments(tck, TestBedOptions.defaults(), data, 3);
    for (byte[] f : frags) {
      assertTrue(f.length <= 1500, "fragment above the MTU: " + Probe.describe(f));
      assertTrue(Wire.isFragment(f), "expected a fragment, got " + Probe.describe(f));
    }
    assertArrayEquals(data, Wire.reassembledUdpData(frags), "reassembled data");
  }

  /**
   * <b>S19</b>: the fragments follow the egress MTU: over a 1280-byte link the 4000-byte payload
   * arrives at the output socket as four fragments of at most 1280 bytes.
   *
   * <p>If it fails: the backend fragments to a fixed size rather than the egress MTU.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S19")
  public void S19_outboundFragmentsFollowTheEgressMtu(TckContext tck) throws Exception {
    byte[] data = pattern(LARGE, 20);
    List<byte[]> frags = outboundFragments(tck, options().peerMtu(1280).build(), data, 4);
    for (byte[] f : frags) {
      assertTrue(f.length <= 1280, "fragment above the 1280 MTU: " + Probe.describe(f));
    }
    assertArrayEquals(data, Wire.reassembledUdpData(frags), "reassembled data");
  }

  /** The packets an all-UDP output rule diverts (exactly {@code count}) as the host sends data. */
  private static List<byte[]> outboundFragments(
      TckContext tck, TestBedOptions options, byte[] data, int count) throws Exception {
    try (TestBed bed = tck.testBed(options)) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "output -p udp")) {
        bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, data);
        return bytes(p.receiveExactly(socket, count, "outbound fragment"));
      }
    }
  }

  static List<byte[]> bytes(List<Received> received) {
    List<byte[]> out = new ArrayList<>();
    for (Received r : received) {
      out.add(r.bytes());
    }
    return out;
  }
}
