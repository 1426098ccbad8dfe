package org.divert4j.tck;

import static org.divert4j.tck.Packets.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import org.divert4j.BufferTooSmallException;
import org.divert4j.Capability;
import org.divert4j.Chain;
import org.divert4j.Direction;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.InstalledRule;
import org.divert4j.Ipv4;
import org.divert4j.NetInterface;
import org.divert4j.tck.Probe.Received;
import org.divert4j.testbed.PacketCapture;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestNode;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.Test;

/**
 * Area B of SEMANTICS.md: delivery to a bound socket (S6, S8, S9; the socket's queue, S15 and S52,
 * is {@link QueueVerification}'s; S14 is in L). Runs once per address family (SEMANTICS.md K: S55
 * reads S6 and S8 for IPv6).
 */
@SpecArea(id = "B", title = "Delivery")
public class DeliveryVerification extends FamilyVerification {
  /** For the JUnit engine and subclasses. */
  public DeliveryVerification() {}

  /**
   * <b>S6</b>: a packet diverted on input carries its divert address: the port, chain INPUT,
   * direction INBOUND, the receiving interface's name, index and first IPv4 address (as the test
   * bed built the host's interface, not as the backend under test reports it; the backend's {@code
   * interfaces()} must agree), and the id of the rule that diverted it.
   *
   * <p>If it fails: compare the address fields with {@code host.interfaces()}; the kernel backend
   * takes them from NFQA_IFINDEX_INDEV and the interface's first address.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S6")
  public void S6_inboundPacketCarriesTheReceivingInterface(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      InstalledRule installed =
          bed.host().addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      try (DivertSocket socket = bed.host().bind(PORT)) {
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(100, 1));
        Received r = p.receive(socket, "the inbound datagram");
        NetInterface iface = p.bedInterface(p.host());
        NetInterface reported = p.hostInterface(p.host());
        InetAddress first = Deliveries.firstAddress(iface, p);
        assertEquals(
            List.of(iface.name(), iface.index(), first),
            List.of(reported.name(), reported.index(), Deliveries.firstAddress(reported, p)),
            "the backend's interfaces() must agree with the test bed's: " + reported);
        Deliveries.assertPortChainAndDirection(r, Chain.INPUT, Direction.INBOUND);
        assertEquals(
            iface.name(), r.address().interfaceName(), "interface name, host has " + iface);
        assertEquals(iface.index(), r.address().interfaceIndex(), "interface index, " + iface);
        assertEquals(first, r.address().interfaceAddress(), "interface address, " + iface);
        assertEquals(installed.id(), r.address().ruleId(), "rule id of " + r.address());
      }
    }
  }

  /**
   * <b>S6</b>: a packet diverted on output carries chain OUTPUT, direction OUTBOUND and no
   * interface address (0.0.0.0).
   *
   * <p>If it fails: outbound packets must not report an interface address; writing back with a
   * non-zero address would inject inbound (S33).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S6")
  public void S6_outboundPacketCarriesNoInterfaceAddress(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      InstalledRule installed =
          bed.host().addRule(rule("output -p udp --dport 7000 -j DIVERT " + PORT));
      try (DivertSocket socket = bed.host().bind(PORT)) {
        bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, pattern(100, 1));
        Received r = p.receive(socket, "the outbound datagram");
        Deliveries.assertPortChainAndDirection(r, Chain.OUTPUT, Direction.OUTBOUND);
        assertEquals(Ipv4.ANY, r.address().interfaceAddress(), "outbound: 0.0.0.0 expected");
        assertEquals(0, r.address().interfaceAddressBits(), "outbound: 0.0.0.0 expected");
        assertEquals(null, r.address().interfaceAddress6(), "outbound: no IPv6 address expected");
        assertEquals(installed.id(), r.address().ruleId(), "rule id of " + r.address());
      }
    }
  }

  /**
   * <b>S6</b> [cap: FORWARD]: a packet diverted on forward is inbound and carries the interface it
   * arrived on (the one facing the peer, not the far peer).
   *
   * <p>If it fails: the forward chain must report the ingress interface (NFQA_IFINDEX_INDEV), so
   * that writing the packet back re-routes it inbound.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S6", capabilities = Capability.FORWARD)
  public void S6_forwardedPacketCarriesItsIngressInterface(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed(options().farPeer(true).build())) {
      Probe p = probe(bed, tck);
      TestNode far = p.far();
      try (DivertSocket socket = divert(bed, PORT, "forward -p udp --dport 7000")) {
        bed.peer().sendUdp(p.farAddress(), SRC_PORT, UDP_PORT, pattern(100, 1));
        Received r = p.receive(socket, "the forwarded datagram");
        NetInterface iface = p.bedInterface(p.host());
        assertEquals(Chain.FORWARD, r.address().chain().orElse(null), "chain of " + r.address());
        assertEquals(Direction.INBOUND, r.address().direction(), "direction of " + r.address());
        assertEquals(iface.name(), r.address().interfaceName(), "ingress interface " + iface);
        assertEquals(iface.index(), r.address().interfaceIndex(), "ingress index " + iface);
        assertEquals(
            Deliveries.firstAddress(iface, p),
            r.address().interfaceAddress(),
            "ingress address " + iface);
      }
    }
  }

  /**
   * <b>S8</b>: a received packet is one whole IP packet, starting at the IP header and
   * byte-identical to what was on the wire. The peer sends a crafted datagram (known bytes, valid
   * checksums); the divert socket on input receives exactly those bytes, with a valid header
   * checksum and a total length equal to its size.
   *
   * <p>If it fails: the backend adds or strips a header (link layer, netlink), receives into a
   * truncated buffer, or changes fields (TTL, checksum) before the divert point.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S8")
  public void S8_inboundPacketIsReceivedByteIdentical(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp --dport 7000")) {
        byte[] sent = Deliveries.crafted(p);
        bed.peer().sendRaw(ByteBuffer.wrap(sent));
        Received r = p.receive(socket, "the crafted datagram");
        Wire.assertWhole(p.family(), r.bytes(), r.toString());
        assertArrayEquals(
            sent,
            r.bytes(),
            "received bytes differ from the wire: sent "
                + Probe.describe(sent)
                + ", received "
                + r);
      }
    }
  }

  /**
   * <b>S8</b>: on output, the received packet is what goes on the wire: the host's datagram,
   * diverted on output and written back unchanged, arrives at the peer with exactly the bytes the
   * program received, and those bytes have a valid header checksum.
   *
   * <p>If it fails: the backend hands out the packet before the stack completed it (checksum, ID,
   * length), or changes it on reinjection.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S8")
  public void S8_outboundPacketIsReceivedAsItGoesOnTheWire(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        PacketCapture wire = bed.peer().capture()) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "output -p udp --dport 7000")) {
        byte[] data = pattern(222, 9);
        bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, data);
        Received r = p.receive(socket, "the outbound datagram");
        Wire.assertWhole(p.family(), r.bytes(), r.toString());
        assertArrayEquals(data, Wire.udpData(r.bytes()), "UDP payload of " + r);
        p.writeBack(socket, r);
        byte[] onWire = p.await(wire, Probe.udpTo(UDP_PORT), 1, "the datagram at the peer").get(0);
        assertArrayEquals(
            r.bytes(),
            onWire,
            "what went on the wire ("
                + Probe.describe(onWire)
                + ") differs from what the program received ("
                + r
                + ")");
      }
    }
  }

  /**
   * <b>S8</b>: a packet is taken out of the stack, not copied. A diverted datagram that the program
   * holds does not reach the host's endpoint; once written back, it arrives exactly once.
   *
   * <p>If it fails: the backend copies packets (like pcap or a raw socket) instead of holding them
   * until a verdict, or it reinjects a second copy.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S8")
  public void S8_packetIsTakenOutOfTheStackNotCopied(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp --dport 7000")) {
        byte[] data = pattern(100, 1);
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, data);
        Received r = p.receive(socket, "the diverted datagram");
        p.expectNoDatagram(endpoint, "the program holds the packet");
        p.writeBack(socket, r);
        p.datagram(endpoint, data, "the datagram once written back");
        p.expectNoDatagram(endpoint, "it must arrive once");
      }
    }
  }

  /**
   * <b>S8</b>: receive never truncates. On a link with MTU 65535 the peer sends a datagram of the
   * largest size, 65535 bytes. A receive into a buffer that is too small fails with {@link
   * BufferTooSmallException} (saying 65535 bytes are needed) and leaves the packet queued; a
   * receive into a 65535-byte buffer then returns it whole.
   *
   * <p>If it fails: look for a fixed receive buffer or copy range below 65535 (NFQUEUE copy range,
   * netlink buffer) or a silent truncation.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S8")
  public void S8_receiveNeverTruncatesTheLargestPacket(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed(options().peerMtu(65535).build())) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp --dport 7000")) {
        byte[] data = pattern(65535 - Wire.udpOverhead(p.family()), 11);
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, data);
        ByteBuffer small = ByteBuffer.allocate(1500);
        Duration wait = tck.timeout();
        BufferTooSmallException e =
            assertThrows(
                BufferTooSmallException.class,
                () -> socket.receive(small, wait),
                "a receive into a 1500-byte buffer must not truncate a 65535-byte packet");
        assertEquals(65535, e.required(), "the error must say how much room is needed");
        Received r = p.receive(socket, "the 65535-byte datagram after the failed receive");
        Deliveries.assertWhole(p, 65535, data, r);
      }
    }
  }

  /**
   * <b>S8</b>: receive never truncates on the output chain either. Over a link with MTU 65535 the
   * host sends datagrams of 65531 bytes (the largest a netlink attribute can copy), 65532 (the
   * first it cannot) and 65535 (the largest); the output socket receives each whole and
   * byte-identical in payload, and written back unchanged each reaches the peer whole and once.
   *
   * <p>A backend that does not declare {@link Capability#WHOLE_LOCAL_OUTPUT} must instead drop the
   * 65532- and 65535-byte datagrams and count each as NO_BUFFER: neither delivered truncated nor
   * let through.
   *
   * <p>If it fails: the backend's copy of a locally generated packet is limited below 65535 bytes
   * (NFQUEUE's 16-bit attribute length caps a copy at 65531 bytes, {@code NFQNL_MAX_COPY_RANGE};
   * the input chain can be completed from a tap, the output chain cannot) and it does not say so.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S8")
  public void S8_receiveNeverTruncatesTheLargestPacketOnOutput(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed(options().peerMtu(65535).build());
        UdpEndpoint atPeer = bed.peer().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "output -p udp --dport 7000")) {
        boolean whole = bed.host().capabilities().contains(Capability.WHOLE_LOCAL_OUTPUT);
        int refused = 0;
        for (int size : LARGEST_SIZES) {
          byte[] data = pattern(size - Wire.udpOverhead(p.family()), size);
          bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, data);
          if (size > 65531 && !whole) {
            // the documented limit: dropped and counted, never delivered truncated or let through
            p.expectNothing(
                socket, "the " + size + "-byte datagram (backend without WHOLE_LOCAL_OUTPUT)");
            p.expectNoDatagram(atPeer, "the " + size + "-byte datagram is taken out of the stack");
            refused++;
            assertEquals(
                refused,
                socket.stats().dropped(DropReason.NO_BUFFER),
                "each refused datagram is counted as NO_BUFFER: " + socket.stats());
            continue;
          }
          Received r = p.receive(socket, "the " + size + "-byte datagram on output");
          Deliveries.assertWhole(p, size, data, r);
          p.writeBack(socket, r);
          p.datagram(atPeer, data, "the " + size + "-byte datagram written back");
        }
        p.expectNothing(socket, "one delivery per datagram");
        assertEquals(
            LARGEST_SIZES.length - refused,
            socket.stats().received(),
            "deliveries: " + socket.stats());
        assertEquals(refused, socket.stats().droppedTotal(), "no other drops: " + socket.stats());
      }
    }
  }

  /**
   * <b>S8</b> [cap: FORWARD]: and on the forward chain: the peer sends 65531-, 65532- and
   * 65535-byte datagrams to the far peer over links with MTU 65535; the forward socket receives
   * each whole, and written back each reaches the far peer.
   *
   * <p>If it fails: as on output, a copy limit below 65535 bytes on the forward path.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S8", capabilities = Capability.FORWARD)
  public void S8_receiveNeverTruncatesTheLargestPacketOnForward(TckContext tck) throws Exception {
    try (TestBed bed =
        tck.testBed(options().peerMtu(65535).farPeer(true).farPeerMtu(65535).build())) {
      Probe p = probe(bed, tck);
      TestNode far = p.far();
      try (UdpEndpoint atFar = far.openUdp(UDP_PORT);
          DivertSocket socket =
              divert(bed, PORT, "forward -p udp -d " + p.farAddress().getHostAddress())) {
        for (int size : LARGEST_SIZES) {
          byte[] data = pattern(size - Wire.udpOverhead(p.family()), size + 1);
          bed.peer().sendUdp(p.farAddress(), SRC_PORT, UDP_PORT, data);
          Received r = p.receive(socket, "the " + size + "-byte datagram on forward");
          Deliveries.assertWhole(p, size, data, r);
          p.writeBack(socket, r);
          p.datagram(atFar, data, "the forwarded " + size + "-byte datagram written back");
        }
        p.expectNothing(socket, "one delivery per datagram");
        assertEquals(
            LARGEST_SIZES.length, socket.stats().received(), "deliveries: " + socket.stats());
      }
    }
  }

  /** The sizes around NFQUEUE's copy limit (65531) and the IPv4 maximum. */
  private static final int[] LARGEST_SIZES = {65531, 65532, 65535};

  /**
   * <b>S9</b>: a received packet that is dropped by the program is lost. Inbound, the host's
   * endpoint never gets it; outbound, nothing reaches the peer's wire.
   *
   * <p>If it fails: the drop verdict is not applied (a default ACCEPT verdict, or a fail-open
   * path).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S9")
  public void S9_packetDroppedByTheProgramIsLost(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT);
        PacketCapture wire = bed.peer().capture()) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket =
          divert(bed, PORT, "input -p udp --dport 7000", "output -p udp --dport 7000")) {
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(100, 1));
        socket.drop(p.receive(socket, "the inbound datagram").address());
        p.expectNoDatagram(endpoint, "the program dropped it");
        bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, pattern(100, 2));
        socket.drop(p.receive(socket, "the outbound datagram").address());
        p.expectNotCaptured(wire, Probe.udpTo(UDP_PORT), "the program dropped it");
      }
    }
  }

  /**
   * <b>S9</b>: a received packet that is never written back is lost: after the hold timeout (1 s
   * here) it has not reached the endpoint, and dropping it afterwards does nothing.
   *
   * <p>If it fails: the backend gives packets without a verdict a default ACCEPT (or reinjects them
   * when the hold expires).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S9")
  public void S9_packetNeverWrittenBackIsLost(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed(hostOptions(host().holdTimeout(Duration.ofSeconds(1)).build()));
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp --dport 7000")) {
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(100, 1));
        Received r = p.receive(socket, "the diverted datagram");
        bed.advance(Duration.ofSeconds(3));
        p.expectNoDatagram(endpoint, "the program never wrote it back");
        socket.drop(r.address());
        p.expectNoDatagram(endpoint, "the program never wrote it back");
      }
    }
  }
}
