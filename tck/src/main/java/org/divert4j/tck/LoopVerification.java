package org.divert4j.tck;

import static org.divert4j.tck.Packets.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.Capability;
import org.divert4j.Chain;
import org.divert4j.DivertAddress;
import org.divert4j.DivertSocket;
import org.divert4j.InstalledRule;
import org.divert4j.PacketBatch;
import org.divert4j.tck.Probe.Received;
import org.divert4j.testbed.PacketCapture;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestNode;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.Test;

/**
 * Area I of SEMANTICS.md: loops and re-entry (S43, S44, S45). Runs once per address family (S63:
 * section I holds for IPv6 unchanged).
 */
@SpecArea(id = "I", title = "Loops and re-entry")
public class LoopVerification extends FamilyVerification {
  /** For the JUnit engine and subclasses. */
  public LoopVerification() {}

  /**
   * <b>S43</b>: a program that writes back everything it receives sees each packet once and the
   * traffic flows. Five datagrams each way (output rule for the host's, input rule for the peer's)
   * are each received once; all ten arrive; the wire carries each outbound one once.
   *
   * <p>If it fails: reinjected packets re-enter the chain from the top and match the same rule
   * again (Linux raw-socket injections do; mark them with SO_MARK and exclude the mark from the
   * port's rules, or use NF_ACCEPT which resumes at the next hook entry).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S43")
  public void S43_programThatWritesBackEverythingSeesEachPacketOnce(TckContext tck)
      throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint atPeer = bed.peer().openUdp(UDP_PORT);
        UdpEndpoint atHost = bed.hostNode().openUdp(UDP_PORT);
        PacketCapture wire = bed.peer().capture()) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "output -p udp", "input -p udp")) {
        for (int i = 0; i < 5; i++) {
          bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, pattern(100, i));
          bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(100, 10 + i));
        }
        int seen = reflect(p, socket, 10);
        assertEquals(10, seen, "each of the 10 datagrams must be received exactly once");
        for (int i = 0; i < 5; i++) {
          p.datagram(atPeer, pattern(100, i), "datagram " + i + " at the peer");
          p.datagram(atHost, pattern(100, 10 + i), "datagram " + i + " at the host");
        }
        assertEquals(
            5,
            p.settled(wire, Probe.udpTo(UDP_PORT)).size(),
            "each outbound datagram must cross the wire once");
      }
    }
  }

  /**
   * <b>S43</b>: the same with batches, the way fast programs work: a program that receives with
   * {@code receive(PacketBatch, ...)} and writes each batch back whole with {@code
   * send(PacketBatch)} sees each of 20 datagrams once, and all 20 arrive.
   *
   * <p>If it fails: the batch paths differ from the single-packet ones (e.g. a batched verdict that
   * does not carry the per-packet re-entry point, or a batch send that injects instead of writing
   * back).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S43")
  public void S43_batchReflectorSeesEachPacketOnce(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint atPeer = bed.peer().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "output -p udp")) {
        for (int i = 0; i < 20; i++) {
          bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, pattern(64, i));
        }
        PacketBatch batch = PacketBatch.allocate(8);
        int seen = 0;
        int rounds = 0;
        while (seen < 20 * 4 && rounds++ < 20 * 4) {
          int n = socket.receive(batch, seen < 20 ? p.timeout : p.settle);
          if (n == 0) {
            break;
          }
          seen += n;
          assertEquals(n, socket.send(batch), "every slot of the batch is written back");
        }
        assertEquals(20, seen, "each of the 20 datagrams must be received exactly once");
        for (int i = 0; i < 20; i++) {
          p.datagram(atPeer, "datagram " + i + " of 20 at the peer");
        }
        p.expectNoDatagram(atPeer, "each datagram arrives once");
      }
    }
  }

  /**
   * Receives {@code expected} packets, writing each back, then keeps reflecting whatever comes back
   * (up to a bound, so a looping backend cannot hang the test); returns how many it saw.
   */
  static int reflect(Probe p, DivertSocket socket, int expected) throws Exception {
    int seen = 0;
    for (int i = 0; i < expected; i++) {
      Received r = p.receive(socket, p.timeout);
      if (r == null) {
        fail("expected " + expected + " packets on port " + socket.port() + ", got " + seen);
      }
      seen++;
      p.writeBack(socket, r);
    }
    Received r;
    while (seen < expected * 4 && (r = p.poll(socket)) != null) {
      seen++;
      p.writeBack(socket, r);
    }
    return seen;
  }

  /**
   * <b>S44</b>: a reinjected packet continues after the rule that diverted it: with "UDP to 7000 to
   * 4100" and then "all UDP to 4200" on input, the datagram goes to 4100, then (written back) to
   * 4200, then (written back) to the host's endpoint; each port sees it once.
   *
   * <p>If it fails: nothing at 4200 means a reinjected packet skips the rest of the chain (Linux
   * NF_ACCEPT skips the rest of the table; use NF_REPEAT with per-rule marks); a second delivery to
   * 4100 means it restarts at the top (S43).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S44")
  public void S44_reinjectedPacketContinuesAfterTheRuleThatDivertedIt(TckContext tck)
      throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      bed.host().addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      bed.host().addRule(rule("input -p udp -j DIVERT " + PORT2));
      try (DivertSocket first = bed.host().bind(PORT);
          DivertSocket second = bed.host().bind(PORT2)) {
        byte[] data = pattern(100, 44);
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, data);
        p.writeBack(first, p.receive(first, "the datagram at the first rule"));
        p.writeBack(second, p.receive(second, "the datagram at the later rule"));
        p.datagram(endpoint, data, "the datagram after both rules");
        p.expectNothing(first, "the first rule diverted it already");
        p.expectNothing(second, "the later rule diverted it already");
      }
    }
  }

  /**
   * <b>S44</b>: the same, when the later rule diverts to the SAME port. With "UDP to 7000 to 4100"
   * and then "all UDP to 4100" on input, socket 4100 receives the datagram twice: first from the
   * first rule, then, written back, from the second (each delivery's address names its rule);
   * written back again it reaches the host's endpoint, and 4100 sees it no third time. This is the
   * case that tells "continue after the rule" from both wrong answers: a backend that skips the
   * rest of the chain delivers once, one that restarts the chain delivers forever.
   *
   * <p>If it fails: one delivery means the reinjection skipped the later rule (a per-port rather
   * than per-rule "already diverted" mark); a third means it restarted at the top (S43).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S44")
  public void S44_aLaterRuleToTheSamePortSeesTheReinjectedPacketOnceMore(TckContext tck)
      throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      InstalledRule firstRule =
          bed.host().addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      InstalledRule laterRule = bed.host().addRule(rule("input -p udp -j DIVERT " + PORT));
      try (DivertSocket socket = bed.host().bind(PORT)) {
        byte[] data = pattern(100, 46);
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, data);
        Received r1 = p.receive(socket, "the datagram at the first rule");
        assertEquals(firstRule.id(), r1.address().ruleId(), "first delivery's rule: " + r1);
        p.writeBack(socket, r1);
        Received r2 = p.receive(socket, "the written-back datagram at the later rule, same port");
        assertEquals(laterRule.id(), r2.address().ruleId(), "second delivery's rule: " + r2);
        assertArrayEquals(r1.bytes(), r2.bytes(), "the same packet, unchanged");
        p.writeBack(socket, r2);
        p.datagram(endpoint, data, "the datagram after both rules");
        p.expectNothing(socket, "both rules diverted it already");
        assertEquals(2, socket.stats().received(), "deliveries on the port: " + socket.stats());
        assertEquals(2, socket.stats().reinjected(), "write-backs on the port: " + socket.stats());
      }
    }
  }

  /**
   * <b>S44</b> [cap: FORWARD]: later chains may divert a reinjected packet again: a forwarded
   * datagram diverted on input and written back is diverted again on output, once each, and then
   * reaches the far peer.
   *
   * <p>If it fails: the backend marks reinjected packets so that no later chain sees them.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S44", capabilities = Capability.FORWARD)
  public void S44_laterChainsMayDivertAReinjectedPacketAgain(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed(options().farPeer(true).build())) {
      Probe p = probe(bed, tck);
      TestNode far = p.far();
      String dst = p.farAddress().getHostAddress();
      bed.host().addRule(rule("input -p udp -d " + dst + " -j DIVERT " + PORT));
      bed.host().addRule(rule("output -p udp -d " + dst + " -j DIVERT " + PORT2));
      try (UdpEndpoint atFar = far.openUdp(UDP_PORT);
          DivertSocket in = bed.host().bind(PORT);
          DivertSocket out = bed.host().bind(PORT2)) {
        byte[] data = pattern(100, 45);
        bed.peer().sendUdp(p.farAddress(), SRC_PORT, UDP_PORT, data);
        Received r1 = p.receive(in, "the forwarded datagram on input");
        assertEquals(Chain.INPUT, r1.address().chain().orElse(null), "first: " + r1);
        p.writeBack(in, r1);
        Received r2 = p.receive(out, "the forwarded datagram on output");
        assertEquals(Chain.OUTPUT, r2.address().chain().orElse(null), "second: " + r2);
        p.writeBack(out, r2);
        p.datagram(atFar, data, "the datagram at the far peer");
        p.expectNothing(in, "input diverted it once");
        p.expectNothing(out, "output diverted it once");
      }
    }
  }

  /**
   * <b>S45</b>: a packet injected without interception never comes back to the injecting socket's
   * port, in either direction, although its rule matches: an outbound injection crosses the wire
   * once, an inbound one reaches the host's endpoint once, and the injecting socket receives
   * neither.
   *
   * <p>If it fails: the injection re-enters the chains and matches the socket's own rule (the
   * kernel backend must exclude its own marked packets from the port's rules).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S45")
  public void S45_injectedPacketNeverComesBackToTheInjectingPort(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint atPeer = bed.peer().openUdp(UDP_PORT);
        UdpEndpoint atHost = bed.hostNode().openUdp(UDP_PORT);
        PacketCapture wire = bed.peer().capture()) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "output -p udp", "input -p udp")) {
        byte[] out = p.udpPacket(p.host(), p.peer(), SRC_PORT, UDP_PORT, pattern(90, 1));
        socket.send(ByteBuffer.wrap(out), DivertAddress.OUTBOUND);
        byte[] in = p.udpPacket(p.peer(), p.host(), SRC_PORT, UDP_PORT, pattern(90, 2));
        socket.send(ByteBuffer.wrap(in), DivertAddress.inbound(p.host()));
        List<Received> back = new ArrayList<>(p.drain(socket));
        if (!back.isEmpty()) {
          fail("injected packets came back to the injecting port: " + back);
        }
        p.datagram(atPeer, Wire.udpData(out), "the outbound injection at the peer");
        p.datagram(atHost, Wire.udpData(in), "the inbound injection at the host");
        assertEquals(1, p.settled(wire, Probe.udpTo(UDP_PORT)).size(), "one copy on the wire");
        p.expectNoDatagram(atPeer, "one copy arrives");
        p.expectNoDatagram(atHost, "one copy arrives");
      }
    }
  }

  /**
   * <b>S45</b>: other ports may receive an injected packet. With "all UDP" output rules to 4100 and
   * 4200, a packet injected by 4100 never reaches 4100; if 4200 receives it, it does so once, and
   * written back it reaches the peer; either way exactly one copy crosses the wire.
   *
   * <p>If it fails: the exclusion is too broad (it may cover other ports, but then the packet must
   * still flow) or too narrow (the injecting port got it).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S45")
  public void S45_otherPortsMayReceiveAnInjectedPacket(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint atPeer = bed.peer().openUdp(UDP_PORT);
        PacketCapture wire = bed.peer().capture()) {
      Probe p = probe(bed, tck);
      bed.host().addRule(rule("output -p udp -j DIVERT " + PORT));
      bed.host().addRule(rule("output -p udp -j DIVERT " + PORT2));
      try (DivertSocket injector = bed.host().bind(PORT);
          DivertSocket other = bed.host().bind(PORT2)) {
        byte[] out = p.udpPacket(p.host(), p.peer(), SRC_PORT, UDP_PORT, pattern(90, 3));
        injector.send(ByteBuffer.wrap(out), DivertAddress.OUTBOUND);
        // Waits the full timeout only on a backend that keeps injections from every port.
        Received atOther = p.receive(other, p.timeout);
        if (atOther != null) {
          p.writeBack(other, atOther);
          p.expectNothing(other, "the other port receives the injected packet at most once");
        }
        p.datagram(atPeer, Wire.udpData(out), "the injected packet at the peer");
        p.expectNothing(injector, "an injected packet never comes back to its port");
        assertEquals(1, p.settled(wire, Probe.udpTo(UDP_PORT)).size(), "one copy on the wire");
      }
    }
  }
}
