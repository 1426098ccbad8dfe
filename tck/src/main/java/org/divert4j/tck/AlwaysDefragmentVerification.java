package org.divert4j.tck;

import static org.divert4j.tck.Packets.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import org.divert4j.Capability;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.HostStats;
import org.divert4j.IpFamily;
import org.divert4j.tck.Probe.Received;
import org.divert4j.testbed.PacketCapture;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.TestNode;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.Test;

/**
 * Area E of SEMANTICS.md: always-defragment mode (S21-S25). Hosts are opened with {@code fragments
 * = ALWAYS_DEFRAGMENT}. Runs once per address family (S58 reads S21-S25 for IPv6: the program
 * receives the datagram without a Fragment header, with the full payload length; refragmented
 * packets carry a Fragment header of one Identification). S24's counts (datagrams reassembled,
 * discards for overlap and memory) are checked in the IPv6 run only where the backend declares
 * {@link Capability#IPV6_REASSEMBLY_COUNTERS}; what is delivered, and timeouts, are checked always.
 */
@SpecArea(id = "E", title = "Always-defragment mode")
public class AlwaysDefragmentVerification extends FamilyVerification {
  /** For the JUnit engine and subclasses. */
  public AlwaysDefragmentVerification() {}

  private static HostOptions.Builder defrag() {
    return host().fragments(FragmentMode.ALWAYS_DEFRAGMENT);
  }

  /**
   * <b>S21</b>: fragments are reassembled before the rules see them. A 4000-byte payload sent over
   * MTU 1500 is delivered exactly once, as one 4028-byte datagram with MF clear, offset 0, total
   * length 4028 and a valid header checksum (IPv6, S58: 4048 bytes, payload length 4008, no
   * Fragment header).
   *
   * <p>If it fails: several deliveries mean no reassembly (Linux: nf_defrag_ipv4 not enabled in the
   * namespace, or the hook runs before -400); a bad checksum or length means the reassembled header
   * was not rebuilt.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S21")
  public void S21_fragmentedDatagramIsDeliveredWholeExactlyOnce(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed(defragment())) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp")) {
        byte[] data = pattern(LARGE, 21);
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, data);
        Received r = p.receiveExactly(socket, 1, "reassembled datagram").get(0);
        byte[] b = r.bytes();
        assertEquals(LARGE + Wire.udpOverhead(p.family()), b.length, "length of " + r);
        Wire.assertWhole(p.family(), b, r.toString());
        assertFalse(Wire.moreFragments(b), "MF must be clear: " + r);
        assertEquals(0, Wire.fragmentOffset(b), "offset must be 0: " + r);
        if (p.family() == IpFamily.IPV6) {
          assertFalse(Packets6.hasFragmentHeader(b), "no Fragment header (S58): " + r);
        }
        assertArrayEquals(data, Wire.udpData(b), "payload of " + r);
      }
    }
  }

  /**
   * <b>S22</b>: rules see the whole datagram, so a port rule diverts the whole fragmented datagram:
   * "UDP to 7000" gets one whole datagram and no fragment reaches the host's endpoint on its own.
   * Written back (inbound, with its address) it reaches the endpoint.
   *
   * <p>If it fails: the rule was matched per fragment (as in S7) although the mode is
   * ALWAYS_DEFRAGMENT, or the reassembled datagram cannot be reinjected inbound (S53).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S22")
  public void S22_portRuleDivertsTheWholeFragmentedDatagram(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed(defragment());
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp --dport 7000")) {
        byte[] data = pattern(LARGE, 22);
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, data);
        Received r = p.receiveExactly(socket, 1, "whole datagram").get(0);
        assertEquals(
            LARGE + Wire.udpOverhead(p.family()),
            r.bytes().length,
            "the port rule must divert it whole: " + r);
        p.expectNoDatagram(endpoint, "the whole datagram is held by the program");
        p.writeBack(socket, r);
        p.datagram(endpoint, data, "the reassembled datagram written back inbound");
      }
    }
  }

  /**
   * <b>S23</b>: a datagram larger than the egress MTU, seen whole on output and written back, is
   * fragmented again: over a 1280-byte link every fragment on the wire is at most 1280 bytes and
   * the peer receives the 4000-byte payload intact.
   *
   * <p>If it fails: the backend sends the reassembled datagram as one oversize frame, or refuses it
   * as in S27 (that is the PER_FRAGMENT behaviour), or fragments to a stale size.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S23")
  public void S23_wholeDatagramWrittenBackOutboundIsFragmentedToTheMtu(TckContext tck)
      throws Exception {
    try (TestBed bed = tck.testBed(options().peerMtu(1280).host(defrag().build()).build());
        UdpEndpoint endpoint = bed.peer().openUdp(UDP_PORT);
        PacketCapture wire = bed.peer().capture()) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "output -p udp")) {
        byte[] data = pattern(LARGE, 23);
        bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, data);
        Received r = p.receiveExactly(socket, 1, "whole outbound datagram").get(0);
        assertEquals(
            LARGE + Wire.udpOverhead(p.family()),
            r.bytes().length,
            "output must see the whole datagram: " + r);
        p.writeBack(socket, r);
        p.datagram(endpoint, data, "the datagram at the peer");
        Wire.assertFragmentsWithin(
            p.family(), p.settled(wire, Probe.udpBetween(p.host(), p.peer())), 1280, data);
      }
    }
  }

  /**
   * <b>S23</b> [cap: FORWARD]: a forwarded datagram, reassembled on input and written back, is
   * fragmented to the egress MTU of the far link (1280, smaller than the 1500 it arrived over), and
   * the far peer receives it intact.
   *
   * <p>If it fails: the backend refragments to the original fragment sizes (Linux frag_max_size)
   * instead of the egress MTU, or forwards one oversize frame.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S23", capabilities = Capability.FORWARD)
  public void S23_forwardedDatagramIsRefragmentedToTheEgressMtu(TckContext tck) throws Exception {
    TestBedOptions o = options().farPeer(true).farPeerMtu(1280).host(defrag().build()).build();
    try (TestBed bed = tck.testBed(o)) {
      Probe p = probe(bed, tck);
      TestNode far = p.far();
      InetAddress farAddress = p.farAddress();
      bed.host()
          .addRule(rule("input -p udp -d " + farAddress.getHostAddress() + " -j DIVERT " + PORT));
      try (UdpEndpoint endpoint = far.openUdp(UDP_PORT);
          PacketCapture wire = far.capture();
          DivertSocket socket = bed.host().bind(PORT)) {
        byte[] data = pattern(LARGE, 24);
        bed.peer().sendUdp(farAddress, SRC_PORT, UDP_PORT, data);
        Received r = p.receiveExactly(socket, 1, "reassembled forwarded datagram").get(0);
        p.writeBack(socket, r);
        p.datagram(endpoint, data, "the datagram at the far peer");
        Wire.assertFragmentsWithin(
            p.family(), p.settled(wire, Probe.udpBetween(p.peer(), farAddress)), 1280, data);
      }
    }
  }

  /**
   * <b>S24</b>: an incomplete datagram is never delivered: the first and last of three fragments
   * arrive, the middle one never does; nothing is delivered, before or after the reassembly timeout
   * (2 s here), nothing reaches the endpoint, and the host counts the discard as {@code
   * REASSEMBLY_TIMEOUT} (once for the datagram, as Linux's {@code ReasmTimeout}, or once per
   * fragment held, as the user-space reassembler: 1 or 2) and nothing else.
   *
   * <p>If it fails: the backend delivers partial datagrams or lone fragments in this mode; or it
   * keeps the fragments past the timeout, or discards them silently.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S24")
  public void S24_incompleteDatagramIsNeverDelivered(TckContext tck) throws Exception {
    ReassemblyDiscards.assertNeverDelivered(
        tck,
        p -> {
          List<byte[]> frags = ReassemblyDiscards.fragments(p, 0x2401, 25);
          return List.of(frags.get(0), frags.get(2));
        },
        DropReason.REASSEMBLY_TIMEOUT,
        "the middle fragment never arrived",
        "the datagram timed out incomplete",
        "the datagram is incomplete");
  }

  /**
   * <b>S24</b>: fragments are discarded after the reassembly timeout, and not before. Two datagrams
   * lose their middle fragment; with a 2 s timeout, the first one's middle fragment arrives after 1
   * s and it is delivered whole; the second one's arrives after 3 s, when its other fragments are
   * gone, and it is never delivered. The host counts one datagram reassembled and the second one's
   * discard as {@code REASSEMBLY_TIMEOUT} (1 or 2, see the incomplete datagram's test).
   *
   * <p>If it fails: the timeout is not applied (fragments kept forever), not configurable (the
   * default 30 s used instead of {@code reassemblyTimeout}), or applied too early.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S24")
  public void S24_fragmentsAreDiscardedAfterTheReassemblyTimeout(TckContext tck) throws Exception {
    ReassemblyDiscards.assertReassemblyTimeout(
        tck,
        ReassemblyDiscards.reassemblyTimeoutOfTwoSeconds(),
        0x2411,
        26,
        seconds(1),
        "the datagram completed within the timeout",
        "the other fragments were discarded at the timeout");
  }

  /**
   * <b>S24</b> [cap: VIRTUAL_TIME]: the default reassembly timeout is 30 s. With default options, a
   * datagram whose middle fragment comes after 29 s is delivered; one whose middle fragment comes
   * after 31 s is not. Needs a virtual clock only so that the test does not wait a minute.
   *
   * <p>If it fails: the default differs from Linux {@code ipfrag_time} (30 s), which {@link
   * HostOptions#DEFAULT_REASSEMBLY_TIMEOUT} promises.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S24", capabilities = Capability.VIRTUAL_TIME)
  public void S24_defaultReassemblyTimeoutIsThirtySeconds(TckContext tck) throws Exception {
    ReassemblyDiscards.assertReassemblyTimeout(
        tck,
        defragment(),
        0x2431,
        34,
        seconds(29),
        "the datagram completed after 29 s",
        "the other fragments were discarded at 30 s");
  }

  /**
   * <b>S24</b>: a datagram with overlapping fragments is discarded: two fragments that together
   * cover the whole datagram but overlap by 8 bytes are never delivered, and the discard is counted
   * as {@code REASSEMBLY_OVERLAP} (once, as Linux's {@code ReasmOverlaps}, or once per fragment: 1
   * or 2) and nothing else: the discarded datagram does not also time out.
   *
   * <p>If it fails: the reassembler accepts overlaps (CVE-2018-5391; Linux discards such datagrams
   * since the fix), or keeps the first fragment until the timeout instead of discarding it.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S24")
  public void S24_overlappingFragmentsDiscardTheDatagram(TckContext tck) throws Exception {
    ReassemblyDiscards.assertNeverDelivered(
        tck,
        ReassemblyDiscards::overlapping,
        DropReason.REASSEMBLY_OVERLAP,
        "its fragments overlap",
        "its fragments overlap",
        "its fragments overlap");
  }

  /**
   * <b>S24</b>: reassembly memory is bounded and discards are counted. With the smallest bound
   * (65535 bytes), the first fragments of 100 datagrams (148 kB) cannot all be held: the host
   * counts {@code REASSEMBLY_MEMORY} drops, nothing is delivered, an unfragmented datagram still
   * is, and once the timeout has freed the memory every fragment of the flood has been counted once
   * ({@code REASSEMBLY_MEMORY} or {@code REASSEMBLY_TIMEOUT}) and a new fragmented datagram is
   * reassembled and delivered.
   *
   * <p>If it fails: no counter means memory grows with the flood (or drops are silent); no delivery
   * afterwards means memory is never released.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S24")
  public void S24_reassemblyMemoryIsBoundedAndDiscardsAreCounted(TckContext tck) throws Exception {
    HostOptions o =
        defrag().reassemblyMemory(65535).reassemblyTimeout(Duration.ofSeconds(2)).build();
    try (TestBed bed = tck.testBed(hostOptions(o))) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp")) {
        for (int i = 0; i < 100; i++) {
          bed.peer()
              .sendRaw(ByteBuffer.wrap(ReassemblyDiscards.fragments(p, 0x3000 + i, i).get(0)));
        }
        bed.advance(p.settle);
        // 100 first fragments of 1480 payload bytes (IPv6: 1448) are 148,000 bytes: more than
        // twice the bound, so whatever a backend counts per fragment, at least 100 - 65535 / 1480
        // = 56 of them (IPv6: 55) cannot have been kept, and each one discarded is counted.
        int least = 100 - 65535 / Wire.fragmentStep(p.family(), 1500);
        long discarded = bed.host().stats().dropped(DropReason.REASSEMBLY_MEMORY);
        assertTrue(
            !ReassemblyDiscards.counted(tck, p) || (discarded >= least && discarded <= 100),
            "fragments beyond the reassembly memory must each be counted once ("
                + least
                + "..100): "
                + bed.host().stats());
        java.util.OptionalLong held = bed.reassemblyBytesHeld();
        if (held.isPresent()) {
          assertTrue(
              held.getAsLong() > 0 && held.getAsLong() <= 65535,
              "reassembly memory in use after the flood must be within the bound: " + held);
        }
        p.expectNothing(socket, "every datagram is incomplete");
        byte[] small = pattern(100, 35);
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, small);
        Received during = p.receive(socket, "an unfragmented datagram while memory is full");
        assertArrayEquals(small, Wire.udpData(during.bytes()), "payload of " + during);
        bed.advance(Duration.ofSeconds(3));
        // each first fragment was either refused for memory or held until the timeout, and each
        // held one is a datagram of its own: per datagram or per fragment, the two counts add up
        // to the 100 sent
        HostStats after = bed.host().stats();
        if (ReassemblyDiscards.counted(tck, p)) {
          assertEquals(
              100,
              after.dropped(DropReason.REASSEMBLY_MEMORY)
                  + after.dropped(DropReason.REASSEMBLY_TIMEOUT),
              "every fragment of the flood is counted once, refused for memory or timed out: "
                  + after);
        }
        assertTrue(
            after.dropped(DropReason.REASSEMBLY_TIMEOUT) >= 1,
            "the fragments held within the bound time out: " + after);
        if (held.isPresent()) {
          assertEquals(
              0,
              bed.reassemblyBytesHeld().getAsLong(),
              "the timeout frees the memory of every incomplete datagram");
        }
        byte[] data = pattern(LARGE, 29);
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, data);
        Received r = p.receive(socket, "a complete datagram after the flood timed out");
        assertArrayEquals(data, Wire.udpData(r.bytes()), "payload of " + r);
      }
    }
  }

  /**
   * <b>S25</b>: the program may enlarge a whole datagram: the host's 4000-byte payload, seen whole
   * on output, is rebuilt with a 6000-byte payload and written back with its address; the peer
   * receives the 6000 bytes, in fragments of at most 1500 bytes.
   *
   * <p>If it fails: the backend refuses a changed size, keeps the old total length (S40), or does
   * not fragment the larger datagram.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S25")
  public void S25_enlargedDatagramIsFragmentedToTheMtu(TckContext tck) throws Exception {
    byte[] bigger = pattern(6000, 31);
    List<byte[]> onWire =
        rebuildWholeOutbound(tck, 30, bigger, "the enlarged datagram at the peer");
    Wire.assertFragmentsWithin(family(), onWire, 1500, bigger);
  }

  /**
   * <b>S25</b>: the program may shrink a whole datagram: the 4000-byte payload rebuilt with 1000
   * bytes is written back and crosses the link as one unfragmented packet.
   *
   * <p>If it fails: the backend keeps the original size or fragment layout.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S25")
  public void S25_shrunkDatagramIsSentUnfragmented(TckContext tck) throws Exception {
    byte[] smaller = pattern(1000, 33);
    List<byte[]> onWire = rebuildWholeOutbound(tck, 32, smaller, "the shrunk datagram at the peer");
    assertEquals(1, onWire.size(), "one packet on the wire: " + Probe.describeAll(onWire));
    assertFalse(Wire.isFragment(onWire.get(0)), "not a fragment: " + onWire);
  }

  /**
   * The host sends a 4000-byte payload (pattern {@code seed}), seen whole on output; the program
   * writes it back rebuilt around {@code payload}, with the same IP ID (IPv4) and its address, and
   * the peer must receive {@code payload} ({@code what}).
   *
   * @return the packets of the datagram that crossed the wire (captured packets are the caller's)
   */
  private static List<byte[]> rebuildWholeOutbound(
      TckContext tck, int seed, byte[] payload, String what) throws Exception {
    try (TestBed bed = tck.testBed(defragment());
        UdpEndpoint endpoint = bed.peer().openUdp(UDP_PORT);
        PacketCapture wire = bed.peer().capture()) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "output -p udp")) {
        bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, pattern(LARGE, seed));
        Received r = p.receiveExactly(socket, 1, "whole outbound datagram").get(0);
        byte[] rebuilt =
            p.family() == IpFamily.IPV6
                ? Packets6.udp(p.host(), p.peer(), SRC_PORT, UDP_PORT, payload)
                : Packets.udp(p.host(), p.peer(), SRC_PORT, UDP_PORT, payload)
                    .id(Packets.id(r.bytes()))
                    .build();
        socket.send(ByteBuffer.wrap(rebuilt), r.address());
        p.datagram(endpoint, payload, what);
        return p.settled(wire, Probe.udpBetween(p.host(), p.peer()));
      }
    }
  }
}
