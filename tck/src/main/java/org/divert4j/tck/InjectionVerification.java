package org.divert4j.tck;

import static org.divert4j.tck.Packets.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.util.List;
import org.divert4j.AddressNotAvailableException;
import org.divert4j.Capability;
import org.divert4j.Chain;
import org.divert4j.Direction;
import org.divert4j.DivertAddress;
import org.divert4j.DivertException;
import org.divert4j.DivertSocket;
import org.divert4j.NetInterface;
import org.divert4j.tck.Probe.Received;
import org.divert4j.testbed.Datagram;
import org.divert4j.testbed.PacketCapture;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.Test;

/**
 * Area G of SEMANTICS.md: injection direction (S32, S33, S35, S36, S42). Runs once per address
 * family (S60 reads G for IPv6: {@code ::} is the zero address); S42's tests compare IPv4 header
 * fix-ups and run for IPv4 only.
 */
@SpecArea(id = "G", title = "Injection direction")
public class InjectionVerification extends FamilyVerification {
  /** For the JUnit engine and subclasses. */
  public InjectionVerification() {}

  static final String S42_IPV4 =
      "the test compares IPv4 header fix-ups (checksum, ID, total length, TTL) and IPv4 refusals;"
          + " IPv6 fix-ups and refusals are S61 and S62 in area K";

  /**
   * <b>S32</b>: a packet sent with no address, with {@link DivertAddress#OUTBOUND}, or with the
   * zero address given to {@link DivertAddress#inbound} is injected outbound and routed by its
   * destination: three datagrams for the peer all arrive there.
   *
   * <p>If it fails: the backend does not route by the packet's destination (Linux raw sockets route
   * by the sockaddr, so the backend must pass the header's destination), or treats the zero address
   * as inbound.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S32")
  public void S32_zeroAddressInjectsOutboundRoutedByDestination(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.peer().openUdp(UDP_PORT);
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe(bed, tck);
      byte[] a = p.udpPacket(p.host(), p.peer(), SRC_PORT, UDP_PORT, pattern(100, 1));
      byte[] b = p.udpPacket(p.host(), p.peer(), SRC_PORT, UDP_PORT, pattern(100, 2));
      byte[] c = p.udpPacket(p.host(), p.peer(), SRC_PORT, UDP_PORT, pattern(100, 3));
      socket.send(ByteBuffer.wrap(a));
      p.datagram(endpoint, Wire.udpData(a), "the datagram sent with no address");
      socket.send(ByteBuffer.wrap(b), DivertAddress.OUTBOUND);
      p.datagram(endpoint, Wire.udpData(b), "the datagram sent with OUTBOUND");
      InetAddress zero = p.family().any();
      socket.send(ByteBuffer.wrap(c), DivertAddress.inbound(zero));
      p.datagram(endpoint, Wire.udpData(c), "the datagram sent with " + zero.getHostAddress());
    }
  }

  /**
   * <b>S32</b>: an ICMP echo request injected outbound to the peer is answered: the peer's echo
   * reply arrives at the host.
   *
   * <p>If it fails: the injected packet never left (check the peer's capture), or it left with a
   * broken header.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S32")
  public void S32_echoRequestInjectedOutboundIsAnswered(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        PacketCapture atHost = bed.hostNode().capture();
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe(bed, tck);
      byte[] echo = p.echoRequest(p.host(), p.peer(), 0x3232, 1, pattern(56, 1));
      socket.send(ByteBuffer.wrap(echo), DivertAddress.OUTBOUND);
      p.await(atHost, Probe.icmpFrom(p.peer(), p.echoReply()), 1, "the peer's echo reply");
    }
  }

  /**
   * <b>S33</b>: a packet sent with the address of a local interface is injected inbound, as if it
   * had arrived there: a datagram "from the peer" reaches the host's UDP endpoint with the peer's
   * address and port as its source, and nothing of it goes on the wire.
   *
   * <p>If it fails: the backend injects outbound whatever the address (raw sockets are outbound
   * only; inbound injection needs a TUN device or the like).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S33")
  public void S33_localInterfaceAddressInjectsInbound(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT);
        PacketCapture wire = bed.peer().capture();
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe(bed, tck);
      byte[] data = pattern(200, 33);
      byte[] packet = p.udpPacket(p.peer(), p.host(), SRC_PORT, UDP_PORT, data);
      socket.send(ByteBuffer.wrap(packet), DivertAddress.inbound(p.host()));
      Datagram d = p.datagram(endpoint, data, "the datagram injected inbound");
      assertEquals(p.peer(), d.source(), "source address of the injected datagram");
      assertEquals(SRC_PORT, d.sourcePort(), "source port of the injected datagram");
      p.expectNotCaptured(wire, Probe.udpTo(UDP_PORT), "an inbound injection never leaves");
    }
  }

  /**
   * <b>S33</b>: an ICMP echo request for the host, injected inbound, is answered by the host's
   * stack: the peer receives the echo reply.
   *
   * <p>If it fails: the packet did not reach the host's stack as an inbound packet.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S33")
  public void S33_echoRequestInjectedInboundIsAnsweredByTheHost(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        PacketCapture atPeer = bed.peer().capture();
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe(bed, tck);
      byte[] echo = p.echoRequest(p.peer(), p.host(), 0x3333, 7, pattern(56, 2));
      socket.send(ByteBuffer.wrap(echo), DivertAddress.inbound(p.host()));
      p.await(atPeer, Probe.icmpFrom(p.host(), p.echoReply()), 1, "the host's echo reply");
    }
  }

  /**
   * <b>S33</b> [cap: EXACT_INBOUND_INTERFACE]: the host sees an inbound injection as arriving on
   * exactly the interface with that address. An input rule for that interface only ({@code -i})
   * diverts the injected datagram to another port; written back, the datagram reaches the endpoint,
   * which (if the test bed can tell) saw it arrive on that interface. With a far peer (FORWARD),
   * the same holds for the second interface.
   *
   * <p>If it fails: the backend injects through a different device (a TUN device, loopback) and
   * must not declare EXACT_INBOUND_INTERFACE.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S33", capabilities = Capability.EXACT_INBOUND_INTERFACE)
  public void S33_inboundInjectionArrivesOnExactlyThatInterface(TckContext tck) throws Exception {
    boolean twoLinks = tck.capabilities().contains(Capability.FORWARD);
    try (TestBed bed = tck.testBed(options().farPeer(twoLinks).build());
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      List<InetAddress> addresses =
          twoLinks ? List.of(p.host(), p.hostFarAddress()) : List.of(p.host());
      try (DivertSocket injector = bed.host().bind(PORT)) {
        int port = PORT2;
        for (InetAddress local : addresses) {
          NetInterface iface = p.hostInterface(local);
          bed.host().addRule(rule("input -i " + iface.name() + " -p udp -j DIVERT " + port));
          try (DivertSocket observer = bed.host().bind(port)) {
            byte[] data = pattern(100, port);
            InetAddress from = local.equals(p.host()) ? p.peer() : p.farAddress();
            byte[] packet = p.udpPacket(from, p.host(), SRC_PORT, UDP_PORT, data);
            injector.send(ByteBuffer.wrap(packet), DivertAddress.inbound(local));
            // The observer's rule matches only packets arriving on this interface, so receiving
            // the packet there shows where the host saw it arrive (the address it carries is S6's
            // business, not checked here).
            Received r = p.receive(observer, "the injected datagram on input via " + iface);
            p.writeBack(observer, r);
            Datagram d = p.datagram(endpoint, data, "the injected datagram via " + iface);
            if (d.interfaceIndex() != 0) {
              assertEquals(iface.index(), d.interfaceIndex(), "the stack saw it arrive elsewhere");
            }
          }
          port++;
        }
      }
    }
  }

  /**
   * <b>S35</b>: writing a packet back with the address it was received with keeps its direction. An
   * echo request from the peer is diverted on input and written back: it reaches the host, which
   * answers; the echo reply is diverted on output and written back: it reaches the peer.
   *
   * <p>If it fails: the backend loses the direction in the address (e.g. reinjects everything
   * outbound, so the request would go back out to the peer).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S35")
  public void S35_writingBackKeepsTheDirection(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        PacketCapture atPeer = bed.peer().capture()) {
      Probe p = probe(bed, tck);
      bed.host().addRule(rule("input -p " + p.icmp() + " -j DIVERT " + PORT));
      bed.host().addRule(rule("output -p " + p.icmp() + " -j DIVERT " + PORT2));
      try (DivertSocket in = bed.host().bind(PORT);
          DivertSocket out = bed.host().bind(PORT2)) {
        byte[] echo = p.echoRequest(p.peer(), p.host(), 0x3535, 1, pattern(56, 3));
        bed.peer().sendRaw(ByteBuffer.wrap(echo));
        Received request = p.receive(in, "the echo request on input");
        assertEquals(Direction.INBOUND, request.address().direction(), "request: " + request);
        p.writeBack(in, request);
        Received reply = p.receive(out, "the host's echo reply on output");
        assertEquals(p.echoReply(), Probe.icmpType(reply.bytes()), "reply: " + reply);
        assertEquals(Direction.OUTBOUND, reply.address().direction(), "reply: " + reply);
        p.writeBack(out, reply);
        p.await(atPeer, Probe.icmpFrom(p.host(), p.echoReply()), 1, "the echo reply");
        List<byte[]> requests = p.settled(atPeer, Probe.icmpFrom(p.peer(), p.echoRequestType()));
        assertTrue(
            requests.isEmpty(),
            "the request, written back inbound, went out on the wire: "
                + Probe.describeAll(requests));
      }
    }
  }

  /**
   * <b>S36</b>: an injection address that is neither zero nor a local interface address (a TEST-NET
   * address, or the peer's own address) is refused with {@link AddressNotAvailableException} naming
   * it; nothing is delivered or sent, and the socket keeps working.
   *
   * <p>If it fails: the backend does not validate the address against the host's interfaces (raw
   * sockets would not; FreeBSD answers EADDRNOTAVAIL).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S36")
  public void S36_nonLocalInjectionAddressIsRefused(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT);
        PacketCapture wire = bed.peer().capture();
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe(bed, tck);
      byte[] packet = p.udpPacket(p.peer(), p.host(), SRC_PORT, UDP_PORT, pattern(100, 36));
      for (InetAddress bad : List.of(p.notLocal(), p.peer())) {
        AddressNotAvailableException e =
            assertThrows(
                AddressNotAvailableException.class,
                () -> socket.send(ByteBuffer.wrap(packet), DivertAddress.inbound(bad)),
                "injecting with " + bad.getHostAddress() + " must be refused");
        assertEquals(bad, e.address(), "the error must name the address: " + e.getMessage());
      }
      p.expectNoDatagram(endpoint, "the injections were refused");
      p.expectNotCaptured(wire, Probe.udpBetween(p.peer(), p.host()), "nothing was sent");
      socket.send(ByteBuffer.wrap(packet), DivertAddress.inbound(p.host()));
      p.datagram(endpoint, Wire.udpData(packet), "a valid injection after the refusals");
    }
  }

  /**
   * <b>S42</b>: packets the program builds itself get the same header fix-ups as reinjected ones.
   * One mangled header (checksum 0xBEEF, ID 0, total length 0, TTL 33) is sent twice: as the
   * rewrite of a packet diverted on output, and as a fresh injection. On the wire the two must
   * agree on every fix-up: checksum valid or not, ID replaced or not, total length set or not, TTL
   * kept or not. (Whether the fix-ups are right is for S38-S41; this rule is about sameness.)
   *
   * <p>If it fails: the backend fixes up only one of its two send paths (on Linux: the raw socket
   * for injections, the NFQUEUE verdict for reinjections).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S42")
  @Ipv4Only(S42_IPV4)
  public void S42_builtPacketsGetTheSameFixUpsAsReinjectedOnes(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        PacketCapture wire = bed.peer().capture()) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "output -p udp --dport 7000")) {
        bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, pattern(100, 1));
        Received r = p.receive(socket, "the outbound datagram");
        socket.send(ByteBuffer.wrap(mangled(p, UDP_PORT, 2)), r.address());
        socket.send(ByteBuffer.wrap(mangled(p, UDP_PORT2, 3)), DivertAddress.OUTBOUND);
        byte[] w1 = p.await(wire, Probe.udpTo(UDP_PORT), 1, "the rewritten packet").get(0);
        byte[] w2 = p.await(wire, Probe.udpTo(UDP_PORT2), 1, "the built packet").get(0);
        assertEquals(
            fixUps(w1),
            fixUps(w2),
            "the rewritten packet ("
                + Packets.describe(w1)
                + ") and the built one ("
                + Packets.describe(w2)
                + ") were treated differently");
        assertArrayEquals(pattern(150, 2), Packets.udpData(w1), "rewritten payload");
        assertArrayEquals(pattern(150, 3), Packets.udpData(w2), "built payload");
      }
    }
  }

  private static String fixUps(byte[] w) {
    return "checksum "
        + (Packets.headerChecksumValid(w) ? "recomputed" : "kept")
        + ", ID "
        + (Packets.id(w) == 0 ? "kept 0" : "filled")
        + ", total length "
        + (Packets.totalLength(w) == w.length ? "set" : "kept")
        + ", TTL "
        + (Packets.ttl(w) == 33 ? "kept" : "changed");
  }

  /**
   * <b>S42</b>: the errors are the same too. A diverted packet rewritten into a 19-byte packet, or
   * into a 1501-byte one over MTU 1500, gets the same outcome as the same bytes injected fresh
   * (whether refused or sent is for S47 and S27; this rule is about sameness).
   *
   * <p>If it fails: the reinjection path skips (or adds) validation the injection path does.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S42")
  @Ipv4Only(S42_IPV4)
  public void S42_rewrittenPacketsAreRefusedLikeBuiltOnes(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "output -p udp --dport 7000")) {
        byte[] tiny = new byte[19];
        tiny[0] = 0x45;
        byte[] big = MtuVerification.udpOfSize(p.host(), p.peer(), UDP_PORT2, 1501, 2);
        int seed = 10;
        for (byte[] bad : List.of(tiny, big)) {
          bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, pattern(100, seed++));
          Received r = p.receive(socket, "an outbound datagram to rewrite");
          assertEquals(Chain.OUTPUT, r.address().chain().orElse(null), "diverted on " + r);
          String rewritten = outcome(socket, bad, r.address());
          String built = outcome(socket, bad, DivertAddress.OUTBOUND);
          assertEquals(
              built,
              rewritten,
              "a " + bad.length + "-byte packet: rewritten and built packets were treated apart");
          socket.drop(r.address());
        }
      }
    }
  }

  private static String outcome(DivertSocket socket, byte[] packet, DivertAddress a) {
    try {
      socket.send(ByteBuffer.wrap(packet), a);
      return "sent";
    } catch (DivertException e) {
      return e.getClass().getSimpleName();
    }
  }

  static byte[] mangled(Probe p, int dport, int seed) {
    return Packets.udp(p.host(), p.peer(), SRC_PORT, dport, pattern(150, seed))
        .id(0)
        .ttl(33)
        .totalLength(0)
        .checksum(0xBEEF)
        .build();
  }
}
