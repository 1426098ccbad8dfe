package org.divert4j.tck;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.divert4j.DivertAddress;
import org.divert4j.DivertException;
import org.divert4j.DivertSocket;
import org.divert4j.IpFamily;
import org.divert4j.IpPrefix;
import org.divert4j.Ipv4;
import org.divert4j.NetInterface;
import org.divert4j.testbed.Datagram;
import org.divert4j.testbed.PacketCapture;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestNode;
import org.divert4j.testbed.UdpEndpoint;

/**
 * Observes a test bed for a test: waits for packets and datagrams that must come (up to the TCK
 * timeout) and checks that others do not (for the test bed's settle time), with failure messages
 * that say what was expected. Used by one test thread.
 */
final class Probe {
  /** A packet received from a divert socket. */
  record Received(byte[] bytes, DivertAddress address) {
    ByteBuffer buffer() {
      return ByteBuffer.wrap(bytes);
    }

    @Override
    public String toString() {
      return describe(bytes) + " from " + address;
    }
  }

  /** Upper bound on packets read while draining, so a looping backend cannot hang a test. */
  static final int DRAIN_LIMIT = 256;

  final TestBed bed;
  final Duration timeout;
  final Duration settle;
  private final IpFamily family;
  private final ByteBuffer buffer = ByteBuffer.allocateDirect(65535);

  Probe(TestBed bed, Duration timeout) {
    this(bed, timeout, IpFamily.IPV4);
  }

  Probe(TestBed bed, Duration timeout, IpFamily family) {
    this.family = family;
    this.bed = bed;
    this.timeout = timeout;
    this.settle = bed.settleTime();
  }

  // ---- addresses ----

  /**
   * @return the address family of the test's run: the peer's, host's and far peer's addresses below
   *     are of this family
   */
  IpFamily family() {
    return family;
  }

  /** The node's address of the run's family (the test beds give {@code fd00:L::N} for IPv6). */
  InetAddress addressOf(TestNode node) {
    return node.address(family)
        .orElseThrow(
            () ->
                new AssertionError(
                    "test bed node "
                        + node.name()
                        + " has no "
                        + family
                        + " address, though the backend declares "
                        + (family == IpFamily.IPV6 ? "IPV6" : "IPv4")
                        + ": "
                        + node.interfaces()));
  }

  InetAddress peer() {
    return addressOf(bed.peer());
  }

  InetAddress host() {
    return addressOf(bed.hostNode());
  }

  TestNode far() {
    return bed.farPeer()
        .orElseThrow(
            () ->
                new AssertionError(
                    "the test bed has no far peer although one was asked for and the backend"
                        + " declares FORWARD"));
  }

  /** The far peer's address of the run's family. */
  InetAddress farAddress() {
    return addressOf(far());
  }

  /**
   * The host's interface with this address as the test bed built it (its own view of the OS, not
   * the backend's {@code interfaces()}), so that S6's expected values do not come from the backend
   * under test.
   */
  NetInterface bedInterface(InetAddress address) {
    for (NetInterface i : bed.hostNode().interfaces()) {
      if (i.hasAddress(address)) {
        return i;
      }
    }
    throw new AssertionError(
        "the test bed's host node has no interface with address "
            + address.getHostAddress()
            + ": "
            + bed.hostNode().interfaces());
  }

  /** The host's interface that has this address (from the divert host's own list). */
  NetInterface hostInterface(InetAddress address) throws DivertException {
    for (NetInterface i : bed.host().interfaces()) {
      if (i.hasAddress(address)) {
        return i;
      }
    }
    throw new AssertionError(
        "the host has no interface with address "
            + address.getHostAddress()
            + ": "
            + bed.host().interfaces());
  }

  /** The host's address, of the run's family, on the far peer's link. */
  InetAddress hostFarAddress() throws DivertException {
    InetAddress farAddr = farAddress();
    InetAddress near = host();
    for (NetInterface i : bed.host().interfaces()) {
      for (IpPrefix prefix : i.addresses()) {
        if (prefix.family() == family
            && prefix.contains(farAddr)
            && !prefix.address().equals(near)) {
          return prefix.address();
        }
      }
    }
    throw new AssertionError(
        "the host has no interface on the far peer's network "
            + farAddr.getHostAddress()
            + ": "
            + bed.host().interfaces());
  }

  /**
   * A whole UDP datagram of the run's family with a correct checksum, built as input for {@code
   * sendRaw} or an injection.
   */
  byte[] udpPacket(InetAddress src, InetAddress dst, int sport, int dport, byte[] data) {
    if (family == IpFamily.IPV6) {
      return Packets6.udp(src, dst, sport, dport, data);
    }
    return Packets.udp((Inet4Address) src, (Inet4Address) dst, sport, dport, data).build();
  }

  /** An echo request of the run's family (ICMP or ICMPv6). */
  byte[] echoRequest(InetAddress src, InetAddress dst, int ident, int seq, byte[] data) {
    if (family == IpFamily.IPV6) {
      return Packets6.echoRequest(src, dst, ident, seq, data);
    }
    return Packets.icmpEcho(
            (Inet4Address) src, (Inet4Address) dst, Packets.ECHO_REQUEST, ident, seq, data)
        .build();
  }

  /** The echo request type of the run's family: ICMP 8 or ICMPv6 128. */
  int echoRequestType() {
    return family == IpFamily.IPV6 ? Packets6.ECHO_REQUEST : Packets.ECHO_REQUEST;
  }

  /** The echo reply type of the run's family: ICMP 0 or ICMPv6 129. */
  int echoReply() {
    return family == IpFamily.IPV6 ? Packets6.ECHO_REPLY : Packets.ECHO_REPLY;
  }

  /** An address of the run's family that no test bed host has: 192.0.2.77 or 2001:db8::77. */
  InetAddress notLocal() {
    return family == IpFamily.IPV6
        ? org.divert4j.Ipv6Addresses.parse("2001:db8::77")
        : TckVerification.NOT_LOCAL;
  }

  /** The ICMP (IPv4) or ICMPv6 type of a packet, or -1. */
  static int icmpType(byte[] p) {
    if (Packets6.isIpv6(p)) {
      return Packets6.icmpType(p);
    }
    return p.length >= 20 && Packets.version(p) == 4 ? Packets.icmpType(p) : -1;
  }

  /** The rule protocol of the run's echo messages: {@code icmp} or {@code icmpv6}. */
  String icmp() {
    return family == IpFamily.IPV6 ? "icmpv6" : "icmp";
  }

  // ---- divert sockets ----

  /** Waits up to the timeout for a packet that must arrive. */
  Received receive(DivertSocket socket, String what) throws DivertException {
    Received r = receive(socket, timeout);
    if (r == null) {
      fail(
          "expected "
              + what
              + " on divert port "
              + socket.port()
              + " within "
              + timeout.toMillis()
              + " ms, got nothing");
    }
    return r;
  }

  /** Waits up to {@code wait} for a packet; null if none came. */
  Received receive(DivertSocket socket, Duration wait) throws DivertException {
    buffer.clear();
    DivertAddress a = socket.receive(buffer, wait);
    if (a == null) {
      return null;
    }
    buffer.flip();
    byte[] b = new byte[buffer.remaining()];
    buffer.get(b);
    return new Received(b, a);
  }

  /** Returns a packet if one comes within the settle time, else null. */
  Received poll(DivertSocket socket) throws DivertException {
    return receive(socket, settle);
  }

  /** Fails if a packet comes within the settle time. */
  void expectNothing(DivertSocket socket, String why) throws DivertException {
    Received r = poll(socket);
    if (r != null) {
      fail("expected no packet on divert port " + socket.port() + " (" + why + "), got " + r);
    }
  }

  /** Receives exactly {@code n} packets, then checks no more come. */
  List<Received> receiveExactly(DivertSocket socket, int n, String what) throws DivertException {
    List<Received> got = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Received r = receive(socket, timeout);
      if (r == null) {
        fail(
            "expected "
                + n
                + " x "
                + what
                + " on divert port "
                + socket.port()
                + ", got "
                + got.size()
                + ": "
                + got);
      }
      got.add(r);
    }
    Received extra = poll(socket);
    if (extra != null) {
      List<Received> more = new ArrayList<>(got);
      more.add(extra);
      fail(
          "expected exactly "
              + n
              + " x "
              + what
              + " on divert port "
              + socket.port()
              + ", got more: "
              + more);
    }
    return got;
  }

  /** Reads what comes within the settle time after each packet, up to {@link #DRAIN_LIMIT}. */
  List<Received> drain(DivertSocket socket) throws DivertException {
    List<Received> got = new ArrayList<>();
    Received r;
    while (got.size() < DRAIN_LIMIT && (r = poll(socket)) != null) {
      got.add(r);
    }
    return got;
  }

  /** Writes a received packet back unchanged, with the address it came with. */
  void writeBack(DivertSocket socket, Received r) throws DivertException {
    socket.send(ByteBuffer.wrap(r.bytes()), r.address());
  }

  // ---- UDP endpoints ----

  /** Waits for a datagram that must arrive. */
  Datagram datagram(UdpEndpoint endpoint, String what) throws IOException {
    Datagram d = endpoint.receive(timeout);
    if (d == null) {
      fail(
          "expected "
              + what
              + " at UDP port "
              + endpoint.port()
              + " within "
              + timeout.toMillis()
              + " ms, got nothing");
    }
    return d;
  }

  /** Waits for a datagram and checks its payload. */
  Datagram datagram(UdpEndpoint endpoint, byte[] payload, String what) throws IOException {
    Datagram d = datagram(endpoint, what);
    if (d.payload().length != payload.length) {
      fail(
          what
              + ": expected a "
              + payload.length
              + "-byte payload at UDP port "
              + endpoint.port()
              + ", got "
              + d.payload().length
              + " bytes");
    }
    assertArrayEquals(payload, d.payload(), what + ": payload differs");
    return d;
  }

  /** Fails if a datagram arrives within the settle time. */
  void expectNoDatagram(UdpEndpoint endpoint, String why) throws IOException {
    Datagram d = endpoint.receive(settle);
    if (d != null) {
      fail(
          "expected no datagram at UDP port "
              + endpoint.port()
              + " ("
              + why
              + "), got "
              + d.payload().length
              + " bytes from "
              + d.source().getHostAddress()
              + ":"
              + d.sourcePort());
    }
  }

  // ---- captures ----

  /** Waits until {@code count} captured packets match, and returns them (fails if fewer). */
  List<byte[]> await(PacketCapture capture, Predicate<byte[]> filter, int count, String what)
      throws InterruptedException {
    List<byte[]> got = capture.await(filter, count, timeout);
    if (got.size() < count) {
      fail(
          "expected "
              + count
              + " x "
              + what
              + " in the capture within "
              + timeout.toMillis()
              + " ms, got "
              + got.size()
              + "; captured: "
              + describeAll(capture.packets()));
    }
    return got;
  }

  /** The captured packets that match, after the settle time. */
  List<byte[]> settled(PacketCapture capture, Predicate<byte[]> filter)
      throws InterruptedException {
    bed.advance(settle);
    List<byte[]> out = new ArrayList<>();
    for (byte[] p : capture.packets()) {
      if (filter.test(p)) {
        out.add(p);
      }
    }
    return out;
  }

  /** Fails if a matching packet is captured within the settle time. */
  void expectNotCaptured(PacketCapture capture, Predicate<byte[]> filter, String why)
      throws InterruptedException {
    List<byte[]> got = settled(capture, filter);
    if (!got.isEmpty()) {
      fail("expected nothing on the wire (" + why + "), captured " + describeAll(got));
    }
  }

  /** One line about a packet of either family. */
  static String describe(byte[] p) {
    return Packets6.isIpv6(p) ? Packets6.describe(p) : Packets.describe(p);
  }

  static String describeAll(java.util.Collection<byte[]> packets) {
    List<String> s = new ArrayList<>();
    for (byte[] p : packets) {
      s.add(describe(p));
    }
    return s.toString();
  }

  // ---- filters (either family, by the version nibble) ----

  static Predicate<byte[]> udpTo(int port) {
    return p -> udpDestinationPort(p) == port;
  }

  /** The UDP destination port of a whole datagram or first fragment of either family, else -1. */
  static int udpDestinationPort(byte[] p) {
    if (Packets6.isIpv6(p)) {
      return Packets6.udpDestinationPort(p);
    }
    return p.length >= 20 && Packets.version(p) == 4 ? Packets.udpDestinationPort(p) : -1;
  }

  /** The source address of a packet of either family, or null if it is neither. */
  static InetAddress source(byte[] p) {
    if (Packets6.isIpv6(p)) {
      return Packets6.source(p);
    }
    return p.length >= 20 && Packets.version(p) == 4 ? Ipv4.fromInt(Packets.source(p)) : null;
  }

  /** The destination address of a packet of either family, or null if it is neither. */
  static InetAddress destination(byte[] p) {
    if (Packets6.isIpv6(p)) {
      return Packets6.destination(p);
    }
    return p.length >= 20 && Packets.version(p) == 4 ? Ipv4.fromInt(Packets.destination(p)) : null;
  }

  /** The upper-layer protocol of a packet of either family (through IPv6 extension headers). */
  static int protocol(byte[] p) {
    if (Packets6.isIpv6(p)) {
      return Packets6.walk(p).protocol();
    }
    return p.length >= 20 && Packets.version(p) == 4 ? Packets.protocol(p) : -1;
  }

  /** UDP packets (whole or any fragment) between two addresses. */
  static Predicate<byte[]> udpBetween(InetAddress src, InetAddress dst) {
    return p -> protocol(p) == Packets.UDP && src.equals(source(p)) && dst.equals(destination(p));
  }

  /** ICMP (IPv4) or ICMPv6 messages of a type from an address. */
  static Predicate<byte[]> icmpFrom(InetAddress src, int type) {
    return p -> src.equals(source(p)) && icmpType(p) == type;
  }

  /** Any ICMP (IPv4) or ICMPv6 message from an address. */
  static Predicate<byte[]> anyIcmpFrom(InetAddress src) {
    return p ->
        src.equals(source(p))
            && protocol(p) == (Packets6.isIpv6(p) ? Packets6.ICMPV6 : Packets.ICMP);
  }
}
