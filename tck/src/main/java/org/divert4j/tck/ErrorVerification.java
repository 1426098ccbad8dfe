package org.divert4j.tck;

import static org.divert4j.tck.Packets.pattern;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.divert4j.DivertAddress;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.IpFamily;
import org.divert4j.Ipv6Addresses;
import org.divert4j.MalformedPacketException;
import org.divert4j.NoRouteException;
import org.divert4j.PermissionException;
import org.divert4j.packet.Defect;
import org.divert4j.spi.DivertProvider;
import org.divert4j.tck.Probe.Received;
import org.divert4j.testbed.PacketCapture;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.Test;

/**
 * Area J of SEMANTICS.md: errors and bad input (S46, S47, S49, S50; S51 is in L). Runs once per
 * address family (S63 keeps S50 for IPv6; S49's destination is 2001:db8:ffff::9 in the IPv6 run);
 * S47's defects are IPv4 header defects, and IPv6's are S62 in area K.
 */
@SpecArea(id = "J", title = "Errors and bad input")
public class ErrorVerification extends FamilyVerification {
  /** For the JUnit engine and subclasses. */
  public ErrorVerification() {}

  /**
   * <b>S46</b>: opening a backend without the privileges it needs fails with {@link
   * PermissionException} naming each missing privilege, never with a raw native error. The test bed
   * opens the host the way a program without any privilege would; {@code missing()} must name
   * exactly the privileges the backend declares it needs ({@link DivertProvider#privileges()}, for
   * the kernel backend CAP_NET_ADMIN and CAP_NET_RAW). Only a backend that declares it needs none
   * may open normally; one that declares privileges and opens anyway either did not check them or
   * its test bed did not drop them, and both fail.
   *
   * <p>If it fails: the backend lets EPERM escape as a generic error, names other privileges than
   * it declares, or the test bed's unprivileged open kept the privileges.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S46")
  public void S46_openingWithoutPrivilegesNamesWhatIsMissing(TckContext tck) throws Exception {
    List<String> needed = tck.provider().privileges();
    try (TestBed bed = tck.testBed()) {
      DivertHost host;
      try {
        host = bed.openUnprivileged(bed.options().host());
      } catch (PermissionException e) {
        assertFalse(
            needed.isEmpty(),
            "the backend declares it needs no privileges, yet an unprivileged open failed: "
                + e.getMessage());
        assertEquals(
            new java.util.TreeSet<>(needed),
            new java.util.TreeSet<>(e.missing()),
            "missing() must name exactly the privileges the backend declares it needs: "
                + e.getMessage());
        for (String privilege : e.missing()) {
          assertTrue(
              e.getMessage().contains(privilege),
              "the message must name " + privilege + ": " + e.getMessage());
        }
        return;
      } catch (DivertException e) {
        fail(
            "an unprivileged open must fail with PermissionException naming what is missing, not "
                + e.getClass().getName()
                + ": "
                + e.getMessage(),
            e);
        return;
      }
      try (DivertHost opened = host) {
        assertTrue(
            needed.isEmpty(),
            "the backend declares it needs "
                + needed
                + ", yet a host opened without them: the privileges were not dropped, or not"
                + " checked");
        assertTrue(opened.isOpen(), "a backend that needs no privileges opens normally");
      }
    }
  }

  /**
   * <b>S47</b>: a malformed packet is refused with {@link MalformedPacketException} naming the
   * defect, nothing is sent, and the socket keeps working. Checked outbound and inbound for: 19
   * bytes (TOO_SHORT), version 7 (BAD_VERSION; 6 would name IPv6, S54), IHL 4 (BAD_HEADER_LENGTH),
   * IHL 15 in a 40-byte packet (HEADER_PAST_END), and MF with a 13-byte payload
   * (FRAGMENT_FLAGS_INCONSISTENT).
   *
   * <p>If it fails: the backend passes the packet to the kernel unchecked (Linux answers EINVAL for
   * some defects and sends others), or reports another defect than the first one listed.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S47")
  @Ipv4Only("the defects are IPv4 header defects; IPv6's are S62 in area K")
  public void S47_malformedPacketIsRefusedNamingTheDefect(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        PacketCapture wire = bed.peer().capture();
        UdpEndpoint atHost = bed.hostNode().openUdp(UDP_PORT);
        UdpEndpoint atPeer = bed.peer().openUdp(UDP_PORT);
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe(bed, tck);
      for (DivertAddress way : List.of(DivertAddress.OUTBOUND, DivertAddress.inbound(p.host()))) {
        boolean out = way.isZero();
        InetAddress src = out ? p.host() : p.peer();
        InetAddress dst = out ? p.peer() : p.host();
        for (Map.Entry<Defect, byte[]> c : malformed(src, dst).entrySet()) {
          MalformedPacketException e =
              assertThrows(
                  MalformedPacketException.class,
                  () -> socket.send(ByteBuffer.wrap(c.getValue()), way),
                  c.getKey() + " must be refused (" + way + ")");
          assertEquals(c.getKey(), e.defect(), "the defect named (" + way + "): " + e.getMessage());
        }
        byte[] ok = Packets.udp(src, dst, SRC_PORT, UDP_PORT, pattern(64, 47)).build();
        socket.send(ByteBuffer.wrap(ok), way);
        p.datagram(out ? atPeer : atHost, Packets.udpData(ok), "a valid packet after the refusals");
      }
      List<byte[]> onWire = p.settled(wire, Probe.udpBetween(p.host(), p.peer()));
      assertEquals(
          1,
          onWire.size(),
          "only the valid packet may reach the wire: " + Packets.describeAll(onWire));
    }
  }

  private static Map<Defect, byte[]> malformed(InetAddress src, InetAddress dst) {
    Map<Defect, byte[]> m = new LinkedHashMap<>();
    byte[] valid = Packets.udp(src, dst, SRC_PORT, UDP_PORT, pattern(12, 1)).build();
    byte[] shortOne = new byte[19];
    System.arraycopy(valid, 0, shortOne, 0, 19);
    m.put(Defect.TOO_SHORT, shortOne);
    byte[] v7 = valid.clone();
    v7[0] = 0x75; // not 6: a dual-stack backend reads a version-6 packet as IPv6 (S54, S62)
    Packets.fixHeaderChecksum(v7);
    m.put(Defect.BAD_VERSION, v7);
    byte[] ihl4 = valid.clone();
    ihl4[0] = 0x44;
    m.put(Defect.BAD_HEADER_LENGTH, ihl4);
    byte[] ihl15 = valid.clone();
    ihl15[0] = 0x4f;
    m.put(Defect.HEADER_PAST_END, ihl15);
    byte[] oddFragment =
        Packets.udp(src, dst, SRC_PORT, UDP_PORT, pattern(5, 2)).flags(Packets.MF).build();
    m.put(Defect.FRAGMENT_FLAGS_INCONSISTENT, oddFragment);
    return m;
  }

  /**
   * <b>S49</b>: an outbound packet with no route to its destination (203.0.113.9; the test bed's
   * host has only its connected networks) is refused with {@link NoRouteException} naming the
   * destination; nothing is sent and the socket keeps working.
   *
   * <p>If it fails: the backend sends the packet somewhere anyway (a default route in the test bed
   * would also do that: test beds must not have one), or reports ENETUNREACH as a generic error.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S49")
  public void S49_outboundPacketWithNoRouteIsRefused(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        PacketCapture wire = bed.peer().capture();
        UdpEndpoint endpoint = bed.peer().openUdp(UDP_PORT);
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe(bed, tck);
      InetAddress unroutable =
          p.family() == IpFamily.IPV6 ? Ipv6Addresses.parse("2001:db8:ffff::9") : UNROUTABLE;
      byte[] lost = p.udpPacket(p.host(), unroutable, SRC_PORT, UDP_PORT, pattern(64, 1));
      NoRouteException e =
          assertThrows(
              NoRouteException.class,
              () -> socket.send(ByteBuffer.wrap(lost), DivertAddress.OUTBOUND),
              "a packet to " + unroutable.getHostAddress() + " has no route");
      assertEquals(unroutable, e.destination(), "the error must name the destination");
      p.expectNotCaptured(wire, w -> unroutable.equals(Probe.destination(w)), "no route");
      byte[] ok = p.udpPacket(p.host(), p.peer(), SRC_PORT, UDP_PORT, pattern(64, 2));
      socket.send(ByteBuffer.wrap(ok), DivertAddress.OUTBOUND);
      p.datagram(endpoint, Wire.udpData(ok), "a routable packet after the refusal");
    }
  }

  /**
   * <b>S50</b>: queue overflow is counted, not thrown: twenty datagrams at a socket with queue
   * length 4 that does not read cause no exception; receive returns the 4 queued ones; the socket
   * counts 16 {@code QUEUE_FULL} drops; after writing the 4 back the socket diverts the next
   * datagram normally.
   *
   * <p>If it fails: an exception from receive means overflow (ENOBUFS on the netlink socket) ends
   * the receive loop, which must never happen; a wrong count means drops are lost.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S50")
  public void S50_queueOverflowIsCountedNotThrown(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed(hostOptions(host().queueLength(4).build()));
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp --dport 7000")) {
        peerSends(p, 20, 64);
        bed.advance(p.settle);
        List<Received> queued = p.drain(socket);
        assertEquals(4, queued.size(), "the queue holds 4");
        assertEquals(
            16,
            socket.stats().dropped(DropReason.QUEUE_FULL),
            "overflow must be counted: " + socket.stats());
        for (Received r : queued) {
          p.writeBack(socket, r);
        }
        for (int i = 0; i < 4; i++) {
          p.datagram(endpoint, "queued datagram " + i + " written back");
        }
        byte[] data = pattern(64, 99);
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, data);
        p.writeBack(socket, p.receive(socket, "a datagram after the overflow"));
        p.datagram(endpoint, data, "the datagram after the overflow");
      }
    }
  }

  /**
   * <b>S50</b>: buffer exhaustion is counted, not thrown. The host is opened with the backend's own
   * options that make its buffers between the wire and the program hold fewer than a burst of 200
   * datagrams of 1400 bytes ({@link TestBed#scarceBuffers}: the kernel backend's netlink socket
   * buffer, the divert queue of a backend without one). The burst is sent unread; then every
   * datagram is either received (and arrives at its endpoint once written back) or counted as a
   * drop of the socket ({@code NO_BUFFER}, {@code QUEUE_FULL} or {@code CAPTURE}), exactly, at
   * least one is counted, no receive throws, and the socket diverts the next datagram normally.
   *
   * <p>If it fails: an exception means the receive loop ends on ENOBUFS; a sum short of the burst
   * means packets lost below the divert layer without a count; none counted means the options did
   * not shrink the buffer the backend claims to apply.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S50")
  public void S50_bufferExhaustionIsCountedNotThrown(TckContext tck) throws Exception {
    int burst = 200;
    int size = 1400;
    try (TestBed bed = tck.testBed(options().scarceBuffers(burst, size).build());
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp --dport " + UDP_PORT)) {
        peerSends(p, burst, size);
        bed.advance(p.settle);
        List<Received> got = p.drain(socket);
        long counted =
            socket.stats().dropped(DropReason.NO_BUFFER)
                + socket.stats().dropped(DropReason.QUEUE_FULL)
                + socket.stats().dropped(DropReason.CAPTURE);
        assertTrue(
            counted > 0,
            "a burst of "
                + burst
                + " unread datagrams must exhaust the buffers the options shrank: "
                + socket.stats());
        assertEquals(
            burst,
            got.size() + counted,
            "every datagram of the burst is received or counted: received "
                + got.size()
                + ", "
                + socket.stats());
        for (Received r : got) {
          p.writeBack(socket, r);
        }
        for (int i = 0; i < got.size(); i++) {
          p.datagram(endpoint, "received datagram " + i + " written back");
        }
        byte[] data = pattern(64, 77);
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, data);
        p.writeBack(socket, p.receive(socket, "a datagram after the exhaustion"));
        p.datagram(endpoint, data, "the datagram after the exhaustion");
      }
    }
  }
}
