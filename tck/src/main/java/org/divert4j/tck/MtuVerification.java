package org.divert4j.tck;

import static org.divert4j.tck.Packets.pattern;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.Capability;
import org.divert4j.DivertAddress;
import org.divert4j.DivertSocket;
import org.divert4j.FragmentMode;
import org.divert4j.IpFamily;
import org.divert4j.PacketTooLargeException;
import org.divert4j.tck.Probe.Received;
import org.divert4j.testbed.PacketCapture;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.TestNode;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.Test;

/**
 * Area F of SEMANTICS.md: the MTU limit on injection (S27-S31, S53). Runs once per address family
 * (S59: IPv6 packets longer than the egress MTU are refused in per-fragment mode, inbound injection
 * is limited only by S31, always-defragment mode fragments them as S58); the Don't Fragment test of
 * S29 and the 65535-byte limit of S31 are IPv4's.
 */
@SpecArea(id = "F", title = "MTU limit on injection")
public class MtuVerification extends FamilyVerification {
  /** For the JUnit engine and subclasses. */
  public MtuVerification() {}

  /** A UDP packet of exactly {@code size} bytes (IP header included), of the addresses' family. */
  static byte[] udpOfSize(InetAddress src, InetAddress dst, int dport, int size, int seed) {
    if (src instanceof java.net.Inet6Address) {
      return Packets6.udp(src, dst, SRC_PORT, dport, pattern(size - 48, seed));
    }
    return Packets.udp(src, dst, SRC_PORT, dport, pattern(size - 28, seed)).build();
  }

  static final String S29_DF =
      "IPv6 has no Don't Fragment flag (S59); S58 fragments IPv6 injections";

  static final String S31_MAX =
      "IPv6's largest packet is bounded by its 16-bit payload length, and jumbograms are refused"
          + " by S59 in area K";

  /**
   * <b>S27</b>: in PER_FRAGMENT mode a packet longer than the egress MTU is never transmitted: a
   * 1501-byte datagram, and a 1508-byte fragment, injected outbound over MTU 1500 each fail with
   * {@link PacketTooLargeException} carrying length and MTU 1500, and nothing reaches the peer.
   *
   * <p>If it fails: the backend fragments (that is ALWAYS_DEFRAGMENT behaviour, S29), drops
   * silently instead of throwing, or does not look up the egress MTU (Linux raw sockets answer
   * EMSGSIZE; the NFQUEUE path must check itself).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S27")
  public void S27_oversizeInjectionIsRefusedWithTheMtu(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        PacketCapture wire = bed.peer().capture();
        UdpEndpoint endpoint = bed.peer().openUdp(UDP_PORT);
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe(bed, tck);
      byte[] big = udpOfSize(p.host(), p.peer(), UDP_PORT, 1501, 27);
      PacketTooLargeException e =
          assertThrows(
              PacketTooLargeException.class,
              () -> socket.send(ByteBuffer.wrap(big), DivertAddress.OUTBOUND),
              "a 1501-byte packet over MTU 1500 must be refused");
      assertEquals(1500, e.mtu(), "the error must carry the MTU: " + e.getMessage());
      assertEquals(1501, e.length(), "the error must carry the length: " + e.getMessage());
      byte[] whole = udpOfSize(p.host(), p.peer(), UDP_PORT, 3000, 28);
      byte[] fragment =
          p.family() == IpFamily.IPV6
              ? Packets6.fragment(whole, 1512, 0x2727).get(0)
              : Packets.slice(whole, 0, 1488, true);
      PacketTooLargeException ef =
          assertThrows(
              PacketTooLargeException.class,
              () -> socket.send(ByteBuffer.wrap(fragment), DivertAddress.OUTBOUND),
              "a " + fragment.length + "-byte fragment over MTU 1500 must be refused");
      assertEquals(1500, ef.mtu(), "the error must carry the MTU: " + ef.getMessage());
      p.expectNotCaptured(wire, Probe.udpBetween(p.host(), p.peer()), "oversize packets refused");
      p.expectNoDatagram(endpoint, "oversize packets were refused");
    }
  }

  /**
   * <b>S27</b>: the limit applies to reinjection too: an outbound datagram diverted on output and
   * enlarged by the program to 1600 bytes is refused with the MTU when written back, and nothing
   * reaches the peer.
   *
   * <p>If it fails: the backend checks only new injections, not verdicts with a changed payload
   * (the NFQUEUE path must check the MTU itself).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S27")
  public void S27_enlargedReinjectionIsRefusedWithTheMtu(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        PacketCapture wire = bed.peer().capture()) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "output -p udp --dport 7000")) {
        bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, pattern(500, 1));
        Received r = p.receive(socket, "the outbound datagram");
        byte[] bigger = udpOfSize(p.host(), p.peer(), UDP_PORT, 1600, 2);
        PacketTooLargeException e =
            assertThrows(
                PacketTooLargeException.class,
                () -> socket.send(ByteBuffer.wrap(bigger), r.address()),
                "a reinjected packet enlarged to 1600 bytes must be refused over MTU 1500");
        assertEquals(1500, e.mtu(), "the error must carry the MTU: " + e.getMessage());
        p.expectNotCaptured(wire, Probe.udpTo(UDP_PORT), "the enlarged packet was refused");
      }
    }
  }

  /**
   * <b>S28</b>: a packet exactly as long as the MTU is sent (and arrives unfragmented); one byte
   * more is refused.
   *
   * <p>If it fails: an off-by-one in the MTU comparison ({@code length > mtu} is the refusal test),
   * or the link-layer header counted into the IP MTU.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S28")
  public void S28_packetOfExactlyTheMtuIsSentOneByteMoreIsRefused(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        PacketCapture wire = bed.peer().capture();
        UdpEndpoint endpoint = bed.peer().openUdp(UDP_PORT);
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe(bed, tck);
      byte[] exact = udpOfSize(p.host(), p.peer(), UDP_PORT, 1500, 1);
      socket.send(ByteBuffer.wrap(exact), DivertAddress.OUTBOUND);
      p.datagram(endpoint, Wire.udpData(exact), "the 1500-byte datagram");
      List<byte[]> onWire = p.settled(wire, Probe.udpBetween(p.host(), p.peer()));
      assertEquals(1, onWire.size(), "one unfragmented packet: " + Probe.describeAll(onWire));
      assertEquals(1500, onWire.get(0).length, "on the wire: " + Probe.describeAll(onWire));
      byte[] over = udpOfSize(p.host(), p.peer(), UDP_PORT, 1501, 2);
      PacketTooLargeException e =
          assertThrows(
              PacketTooLargeException.class,
              () -> socket.send(ByteBuffer.wrap(over), DivertAddress.OUTBOUND),
              "MTU + 1 must be refused");
      assertEquals(1500, e.mtu(), "the error must carry the MTU: " + e.getMessage());
    }
  }

  /**
   * <b>S29</b>: in ALWAYS_DEFRAGMENT mode an outbound packet larger than the MTU, DF clear, is
   * fragmented to the MTU and delivered intact: a 3000-byte injection arrives at the peer in
   * fragments of at most 1500 bytes.
   *
   * <p>If it fails: the backend applies the PER_FRAGMENT refusal in this mode, or does not fragment
   * injected packets (the kernel backend must fragment raw injections in user space).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S29")
  public void S29_alwaysDefragmentFragmentsAnOversizeInjection(TckContext tck) throws Exception {
    assertOversizeInjectionIsFragmented(tck, defragment(), 1500, 29);
  }

  /**
   * In ALWAYS_DEFRAGMENT mode a 3000-byte injection (pattern {@code seed}) reaches the peer intact,
   * in fragments of at most {@code mtu} bytes.
   */
  private static void assertOversizeInjectionIsFragmented(
      TckContext tck, TestBedOptions options, int mtu, int seed) throws Exception {
    try (TestBed bed = tck.testBed(options);
        PacketCapture wire = bed.peer().capture();
        UdpEndpoint endpoint = bed.peer().openUdp(UDP_PORT);
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe(bed, tck);
      byte[] big = udpOfSize(p.host(), p.peer(), UDP_PORT, 3000, seed);
      socket.send(ByteBuffer.wrap(big), DivertAddress.OUTBOUND);
      p.datagram(endpoint, Wire.udpData(big), "the 3000-byte datagram");
      Wire.assertFragmentsWithin(
          p.family(),
          p.settled(wire, Probe.udpBetween(p.host(), p.peer())),
          mtu,
          Wire.udpData(big));
    }
  }

  /**
   * <b>S29</b>: in ALWAYS_DEFRAGMENT mode a packet with Don't Fragment set is not fragmented: a
   * 3000-byte DF injection is refused with the same {@link PacketTooLargeException} as S27 and
   * nothing reaches the peer, while a DF packet of exactly the MTU is sent.
   *
   * <p>If it fails: the backend ignores DF when fragmenting (Linux would send ICMP frag-needed and
   * drop; divert4j makes it an error).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S29")
  @Ipv4Only(S29_DF)
  public void S29_dontFragmentOversizeIsRefusedInAlwaysDefragmentMode(TckContext tck)
      throws Exception {
    try (TestBed bed = tck.testBed(defragment());
        PacketCapture wire = bed.peer().capture();
        UdpEndpoint endpoint = bed.peer().openUdp(UDP_PORT);
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe(bed, tck);
      byte[] big =
          Packets.udp(p.host(), p.peer(), SRC_PORT, UDP_PORT, pattern(3000 - 28, 3))
              .flags(Packets.DF)
              .build();
      PacketTooLargeException e =
          assertThrows(
              PacketTooLargeException.class,
              () -> socket.send(ByteBuffer.wrap(big), DivertAddress.OUTBOUND),
              "a 3000-byte DF packet must be refused over MTU 1500");
      assertEquals(1500, e.mtu(), "the error must carry the MTU: " + e.getMessage());
      p.expectNotCaptured(wire, Probe.udpBetween(p.host(), p.peer()), "the DF packet was refused");
      byte[] exact =
          Packets.udp(p.host(), p.peer(), SRC_PORT, UDP_PORT, pattern(1500 - 28, 4))
              .flags(Packets.DF)
              .build();
      socket.send(ByteBuffer.wrap(exact), DivertAddress.OUTBOUND);
      p.datagram(endpoint, Wire.udpData(exact), "the 1500-byte DF datagram");
    }
  }

  /**
   * <b>S30</b>: the MTU is that of the egress interface: over a 1280-byte link, 1280 bytes are sent
   * and 1281 refused with MTU 1280 (not a default 1500) in PER_FRAGMENT mode; in ALWAYS_DEFRAGMENT
   * mode a 3000-byte injection is fragmented to 1280.
   *
   * <p>If it fails: the backend uses a fixed or default MTU instead of the route's egress device
   * (Linux: {@code rt->dst.dev->mtu}; the NFQUEUE path looks it up).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S30")
  public void S30_limitIsTheEgressInterfaceMtu(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed(options().peerMtu(1280).build());
        UdpEndpoint endpoint = bed.peer().openUdp(UDP_PORT);
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe(bed, tck);
      byte[] exact = udpOfSize(p.host(), p.peer(), UDP_PORT, 1280, 1);
      socket.send(ByteBuffer.wrap(exact), DivertAddress.OUTBOUND);
      p.datagram(endpoint, Wire.udpData(exact), "the 1280-byte datagram");
      byte[] over = udpOfSize(p.host(), p.peer(), UDP_PORT, 1281, 2);
      PacketTooLargeException e =
          assertThrows(
              PacketTooLargeException.class,
              () -> socket.send(ByteBuffer.wrap(over), DivertAddress.OUTBOUND),
              "1281 bytes must be refused over MTU 1280");
      assertEquals(1280, e.mtu(), "the error must carry the egress MTU: " + e.getMessage());
    }
    assertOversizeInjectionIsFragmented(tck, defragmentOverAPeerLinkOf1280(), 1280, 3);
  }

  /**
   * <b>S30</b> [caps: MULTIPLE_INTERFACES, FORWARD]: two interfaces with different MTUs give two
   * limits. With 1500 toward the peer and 1280 toward the far peer, 1281 bytes go to the peer but
   * are refused toward the far peer with MTU 1280; 1280 bytes reach the far peer.
   *
   * <p>If it fails: the backend applies one MTU for the whole host (the first interface's, or the
   * smallest).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(
      id = "S30",
      capabilities = {Capability.MULTIPLE_INTERFACES, Capability.FORWARD})
  public void S30_eachEgressInterfaceHasItsOwnLimit(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed(options().farPeer(true).farPeerMtu(1280).build())) {
      Probe p = probe(bed, tck);
      TestNode far = p.far();
      InetAddress hostB = p.hostFarAddress();
      try (UdpEndpoint atPeer = bed.peer().openUdp(UDP_PORT);
          UdpEndpoint atFar = far.openUdp(UDP_PORT);
          DivertSocket socket = bed.host().bind(PORT)) {
        byte[] toPeer = udpOfSize(p.host(), p.peer(), UDP_PORT, 1281, 1);
        socket.send(ByteBuffer.wrap(toPeer), DivertAddress.OUTBOUND);
        p.datagram(atPeer, Wire.udpData(toPeer), "1281 bytes over the 1500-byte link");
        byte[] toFar = udpOfSize(hostB, p.farAddress(), UDP_PORT, 1281, 2);
        PacketTooLargeException e =
            assertThrows(
                PacketTooLargeException.class,
                () -> socket.send(ByteBuffer.wrap(toFar), DivertAddress.OUTBOUND),
                "1281 bytes must be refused over the 1280-byte link");
        assertEquals(1280, e.mtu(), "the far link's MTU: " + e.getMessage());
        byte[] exact = udpOfSize(hostB, p.farAddress(), UDP_PORT, 1280, 3);
        socket.send(ByteBuffer.wrap(exact), DivertAddress.OUTBOUND);
        p.datagram(atFar, Wire.udpData(exact), "1280 bytes over the 1280-byte link");
      }
    }
  }

  /**
   * <b>S31</b>: nothing longer than 65535 bytes is accepted, in any mode or direction: a 65536-byte
   * packet is refused with {@link PacketTooLargeException} whose limit is 65535, both outbound and
   * inbound, in PER_FRAGMENT and in ALWAYS_DEFRAGMENT mode.
   *
   * <p>If it fails: the backend truncates the length to 16 bits, or checks only the MTU (inbound
   * injection has no MTU, S53, but still this limit).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S31")
  @Ipv4Only(S31_MAX)
  public void S31_nothingLongerThan65535BytesIsAccepted(TckContext tck) throws Exception {
    for (TestBedOptions o : List.of(options().peerMtu(65535).build(), defragment())) {
      try (TestBed bed = tck.testBed(o);
          DivertSocket socket = bed.host().bind(PORT)) {
        Probe p = probe(bed, tck);
        List<DivertAddress> ways =
            new ArrayList<>(List.of(DivertAddress.OUTBOUND, DivertAddress.inbound(p.host())));
        for (DivertAddress way : ways) {
          InetAddress src = way.isZero() ? p.host() : p.peer();
          InetAddress dst = way.isZero() ? p.peer() : p.host();
          Packets.Ip ip = Packets.udp(src, dst, SRC_PORT, UDP_PORT, new byte[0]);
          ip.payload = pattern(65536 - 20, 31);
          byte[] tooBig = ip.totalLength(0xffff).build();
          PacketTooLargeException e =
              assertThrows(
                  PacketTooLargeException.class,
                  () -> socket.send(ByteBuffer.wrap(tooBig), way),
                  "a 65536-byte packet must be refused ("
                      + way
                      + ", "
                      + o.host().fragments()
                      + ")");
          assertEquals(65536, e.length(), "the refused length (" + way + "): " + e.getMessage());
          // No other limit can refuse it first: the peer link's MTU is 65535 in PER_FRAGMENT
          // mode, ALWAYS_DEFRAGMENT fragments to the MTU (no DF here), and inbound injection has
          // no MTU (S53). So the limit named is exactly the IPv4 maximum.
          assertEquals(
              PacketTooLargeException.IPV4_MAX,
              e.mtu(),
              "the limit exceeded (" + way + ", " + o.host().fragments() + "): " + e.getMessage());
        }
      }
    }
  }

  /**
   * <b>S53</b>: inbound injection is not limited by the MTU. In PER_FRAGMENT mode over MTU 1500, a
   * 4028-byte datagram and a 65535-byte one injected inbound reach the host's endpoint.
   *
   * <p>If it fails: the backend applies the egress MTU check to inbound injections too.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S53")
  public void S53_inboundInjectionIsNotLimitedByTheMtu(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT);
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe(bed, tck);
      for (int size : new int[] {LARGE + Wire.udpOverhead(p.family()), 65535}) {
        byte[] packet = udpOfSize(p.peer(), p.host(), UDP_PORT, size, size);
        socket.send(ByteBuffer.wrap(packet), DivertAddress.inbound(p.host()));
        p.datagram(endpoint, Wire.udpData(packet), size + "-byte datagram injected inbound");
      }
    }
  }

  /**
   * <b>S53</b>: the same holds in ALWAYS_DEFRAGMENT mode, and whatever the link's MTU: over a
   * 1280-byte link, 4028 bytes injected inbound reach the host's endpoint (and are not fragmented
   * to the egress MTU on the way in).
   *
   * <p>If it fails: the backend routes inbound injections through its egress path.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S53")
  public void S53_inboundInjectionIsNotLimitedInAlwaysDefragmentModeEither(TckContext tck)
      throws Exception {
    try (TestBed bed = tck.testBed(defragmentOverAPeerLinkOf1280());
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT);
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe(bed, tck);
      byte[] packet =
          udpOfSize(p.peer(), p.host(), UDP_PORT, LARGE + Wire.udpOverhead(p.family()), 54);
      socket.send(ByteBuffer.wrap(packet), DivertAddress.inbound(p.host()));
      p.datagram(endpoint, Wire.udpData(packet), "the 4028-byte datagram injected inbound");
    }
  }

  private static TestBedOptions defragmentOverAPeerLinkOf1280() {
    return options()
        .peerMtu(1280)
        .host(host().fragments(FragmentMode.ALWAYS_DEFRAGMENT).build())
        .build();
  }
}
