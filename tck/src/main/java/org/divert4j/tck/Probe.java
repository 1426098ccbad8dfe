package org.divert4j.tck;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.Inet4Address;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.divert4j.DivertAddress;
import org.divert4j.DivertException;
import org.divert4j.DivertSocket;
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
      return Packets.describe(bytes) + " from " + address;
    }
  }

  /** Upper bound on packets read while draining, so a looping backend cannot hang a test. */
  static final int DRAIN_LIMIT = 256;

  final TestBed bed;
  final Duration timeout;
  final Duration settle;
  private final ByteBuffer buffer = ByteBuffer.allocateDirect(65535);

  Probe(TestBed bed, Duration timeout) {
    this.bed = bed;
    this.timeout = timeout;
    this.settle = bed.settleTime();
  }

  // ---- addresses ----

  Inet4Address peer() {
    return bed.peer().address();
  }

  Inet4Address host() {
    return bed.hostNode().address();
  }

  TestNode far() {
    return bed.farPeer()
        .orElseThrow(
            () ->
                new AssertionError(
                    "the test bed has no far peer although one was asked for and the backend"
                        + " declares FORWARD"));
  }

  /** The host's interface that has this address (from the divert host's own list). */
  /**
   * The host's interface with this address as the test bed built it (its own view of the OS, not
   * the backend's {@code interfaces()}), so that S6's expected values do not come from the backend
   * under test.
   */
  NetInterface bedInterface(Inet4Address address) {
    for (NetInterface i : bed.hostNode().interfaces()) {
      if (i.address().equals(address)) {
        return i;
      }
    }
    throw new AssertionError(
        "the test bed's host node has no interface with address "
            + address.getHostAddress()
            + ": "
            + bed.hostNode().interfaces());
  }

  NetInterface hostInterface(Inet4Address address) throws DivertException {
    for (NetInterface i : bed.host().interfaces()) {
      if (i.address().equals(address)) {
        return i;
      }
    }
    throw new AssertionError(
        "the host has no interface with address "
            + address.getHostAddress()
            + ": "
            + bed.host().interfaces());
  }

  /** The host's address on the far peer's link. */
  Inet4Address hostFarAddress() throws DivertException {
    Inet4Address farAddr = far().address();
    for (NetInterface i : bed.host().interfaces()) {
      int mask = i.prefixLength() == 0 ? 0 : -1 << (32 - i.prefixLength());
      if ((i.addressBits() & mask) == (org.divert4j.Ipv4.toInt(farAddr) & mask)
          && !i.address().equals(host())) {
        return i.address();
      }
    }
    throw new AssertionError(
        "the host has no interface on the far peer's network "
            + farAddr.getHostAddress()
            + ": "
            + bed.host().interfaces());
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
              + Packets.describeAll(capture.packets()));
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
      fail("expected nothing on the wire (" + why + "), captured " + Packets.describeAll(got));
    }
  }

  // ---- filters ----

  static Predicate<byte[]> udpTo(int port) {
    return p -> Packets.udpDestinationPort(p) == port;
  }

  /** UDP packets (whole or any fragment) between two addresses. */
  static Predicate<byte[]> udpBetween(Inet4Address src, Inet4Address dst) {
    int s = org.divert4j.Ipv4.toInt(src);
    int d = org.divert4j.Ipv4.toInt(dst);
    return p ->
        p.length >= 20
            && Packets.protocol(p) == Packets.UDP
            && Packets.source(p) == s
            && Packets.destination(p) == d;
  }

  static Predicate<byte[]> icmpFrom(Inet4Address src, int type) {
    int s = org.divert4j.Ipv4.toInt(src);
    return p -> p.length >= 20 && Packets.source(p) == s && Packets.icmpType(p) == type;
  }

  static Predicate<byte[]> anyIcmpFrom(Inet4Address src) {
    int s = org.divert4j.Ipv4.toInt(src);
    return p -> p.length >= 20 && Packets.source(p) == s && Packets.protocol(p) == Packets.ICMP;
  }
}
