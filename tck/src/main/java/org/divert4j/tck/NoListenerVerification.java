package org.divert4j.tck;

import static org.divert4j.tck.Packets.pattern;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import org.divert4j.Capability;
import org.divert4j.DivertException;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.HostStats;
import org.divert4j.NoListenerPolicy;
import org.divert4j.tck.Probe.Received;
import org.divert4j.testbed.PacketCapture;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.TestNode;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.Test;

/**
 * Area C of SEMANTICS.md: what a DIVERT rule does when its port has no socket (S11, S12, S13). Runs
 * once per address family (S63: section C holds for IPv6 unchanged); the IPv6 run sends ICMPv6 echo
 * requests where the IPv4 run sends ICMP ones.
 */
@SpecArea(id = "C", title = "No listener: drop or pass through")
public class NoListenerVerification extends FamilyVerification {
  /** For the JUnit engine and subclasses. */
  public NoListenerVerification() {}

  /**
   * <b>S11</b>: with {@code noListener = DROP} (the default), a packet that matches a rule whose
   * port has no socket is silently dropped: a UDP datagram and an ICMP echo request from the peer
   * do not reach the host's stack (no datagram, no echo reply), and the peer sees no ICMP error.
   *
   * <p>If it fails: a delivered datagram or an echo reply means the rule acts as pass-through (the
   * kernel backend must not use {@code --queue-bypass} under DROP); an ICMP error means it acts as
   * REJECT rather than DENY.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S11")
  public void S11_noListenerDropsInboundPacketsSilently(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT);
        PacketCapture atPeer = bed.peer().capture()) {
      Probe p = probe(bed, tck);
      bed.host().addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      bed.host().addRule(rule("input -p " + p.icmp() + " -j DIVERT " + PORT2));
      long before = noListenerDrops(bed);
      bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(100, 1));
      byte[] echo = p.echoRequest(p.peer(), p.host(), 0x77, 1, pattern(56, 2));
      bed.peer().sendRaw(ByteBuffer.wrap(echo));
      p.expectNoDatagram(endpoint, "the rule's port has no socket and the policy is DROP");
      p.expectNotCaptured(
          atPeer,
          Probe.anyIcmpFrom(p.host()),
          "a packet dropped for want of a listener gets no echo reply and no ICMP error");
      assertNoListenerDrops(bed, before, 2, "the datagram and the echo request");
    }
  }

  private static long noListenerDrops(TestBed bed) throws DivertException {
    return bed.host().stats().dropped(DropReason.NO_LISTENER);
  }

  /**
   * The host counts each packet dropped for want of a listener exactly once (S11 drops are counted,
   * S50), and passes none through.
   */
  private static void assertNoListenerDrops(TestBed bed, long before, long expected, String what)
      throws DivertException {
    HostStats stats = bed.host().stats();
    assertEquals(
        expected,
        stats.dropped(DropReason.NO_LISTENER) - before,
        "NO_LISTENER drops counted for " + what + ": " + stats);
    assertEquals(0, stats.passedNoListener(), "nothing passes through with DROP: " + stats);
  }

  /**
   * <b>S11</b>: DROP applies on the output chain too: a datagram from the host that matches an
   * output rule with no socket never reaches the wire.
   *
   * <p>If it fails: the output chain's rule passes packets when nothing listens.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S11")
  public void S11_noListenerDropsOutboundPacketsSilently(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        PacketCapture wire = bed.peer().capture()) {
      Probe p = probe(bed, tck);
      bed.host().addRule(rule("output -p udp --dport 7000 -j DIVERT " + PORT));
      long before = noListenerDrops(bed);
      bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, pattern(100, 1));
      p.expectNotCaptured(wire, Probe.udpTo(UDP_PORT), "output rule with no socket, policy DROP");
      assertNoListenerDrops(bed, before, 1, "the outbound datagram");
    }
  }

  /**
   * <b>S11</b>: a drop for want of a listener is final, as by a DENY rule: a later DIVERT rule in
   * the same chain, whose port has a socket, does not get the packet.
   *
   * <p>If it fails: the no-listener rule is treated as "continue" instead of DENY.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S11")
  public void S11_droppedPacketReachesNoLaterRule(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      bed.host().addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      try (DivertSocket later = divert(bed, PORT2, "input -p udp")) {
        long before = noListenerDrops(bed);
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(100, 1));
        p.expectNothing(later, "the first rule's port has no socket, so DROP ends the packet");
        assertNoListenerDrops(bed, before, 1, "the datagram");
        assertEquals(0, later.stats().received(), "the later socket: " + later.stats());
      }
    }
  }

  /**
   * <b>S12</b>: with {@code noListener = PASS_THROUGH}, a packet that matches a rule whose port has
   * no socket continues as if the rule were absent: an inbound datagram reaches the host's endpoint
   * intact, and an outbound one reaches the peer.
   *
   * <p>If it fails: the pass-through option is not applied (the kernel backend uses {@code
   * --queue-bypass}).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S12")
  public void S12_passThroughPacketContinuesAsIfTheRuleWereAbsent(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed(passThrough());
        UdpEndpoint atHost = bed.hostNode().openUdp(UDP_PORT);
        UdpEndpoint atPeer = bed.peer().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      bed.host().addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      bed.host().addRule(rule("output -p udp --dport 7000 -j DIVERT " + PORT));
      byte[] in = pattern(300, 1);
      bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, in);
      p.datagram(atHost, in, "the inbound datagram passed through");
      byte[] out = pattern(300, 2);
      bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, out);
      p.datagram(atPeer, out, "the outbound datagram passed through");
    }
  }

  /**
   * <b>S12</b> [cap: FORWARD]: later chains still apply to a packet that passed through. A
   * forwarded datagram matches an input rule with no socket (passes) and an output rule with one:
   * the output socket gets it, and once written back it reaches the far peer.
   *
   * <p>If it fails: pass-through skips the rest of the traversal instead of the one rule.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S12", capabilities = Capability.FORWARD)
  public void S12_laterChainsStillApplyToAPassedThroughPacket(TckContext tck) throws Exception {
    TestBedOptions o =
        options()
            .farPeer(true)
            .host(host().noListener(NoListenerPolicy.PASS_THROUGH).build())
            .build();
    try (TestBed bed = tck.testBed(o)) {
      Probe p = probe(bed, tck);
      TestNode far = p.far();
      String dst = p.farAddress().getHostAddress();
      bed.host().addRule(rule("input -p udp -d " + dst + " -j DIVERT " + PORT));
      bed.host().addRule(rule("output -p udp -d " + dst + " -j DIVERT " + PORT2));
      try (UdpEndpoint atFar = far.openUdp(UDP_PORT);
          DivertSocket out = bed.host().bind(PORT2)) {
        byte[] data = pattern(120, 3);
        bed.peer().sendUdp(p.farAddress(), SRC_PORT, UDP_PORT, data);
        Received r = p.receive(out, "the forwarded datagram on output, after passing input");
        p.writeBack(out, r);
        p.datagram(atFar, data, "the forwarded datagram at the far peer");
      }
    }
  }

  /**
   * <b>S12</b> (SHOULD): later DIVERT rules in the same chain still apply to a packet that passed
   * through: with "UDP to 4100" (no socket) before "UDP to 4200" (bound), 4200 gets the datagram.
   *
   * <p>If it is not met: the backend passes the packet to the next hook rather than the next rule
   * (Linux {@code --queue-bypass} accepts for the current table; a backend can put each DIVERT rule
   * in its own chain to get the specified behaviour).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S12", level = Level.SHOULD)
  public void S12_laterDivertRulesInTheSameChainStillApply(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed(passThrough())) {
      Probe p = probe(bed, tck);
      bed.host().addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      try (DivertSocket later = divert(bed, PORT2, "input -p udp")) {
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(100, 1));
        p.receive(later, "the datagram, at the later rule's socket after passing the first rule");
      }
    }
  }

  /**
   * <b>S13</b>: with DROP, whether a listener exists is decided per packet: before bind a matching
   * datagram is dropped; right after bind the next one is diverted; right after close the next one
   * is dropped again; after binding again it is diverted again.
   *
   * <p>If it fails: the backend caches the no-listener decision (per rule, or until a refresh), or
   * binding/closing does not take effect before the call returns.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S13")
  public void S13_bindAndCloseTakeEffectAtOnceWithDrop(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      bed.host().addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(100, 1));
      p.expectNoDatagram(endpoint, "no socket yet, policy DROP");
      DivertSocket socket = bed.host().bind(PORT);
      byte[] d2 = pattern(100, 2);
      bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, d2);
      p.writeBack(socket, p.receive(socket, "the first datagram after bind"));
      p.datagram(endpoint, d2, "the datagram written back");
      socket.close();
      bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(100, 3));
      p.expectNoDatagram(endpoint, "the socket closed, so the port is back to DROP");
      try (DivertSocket again = bed.host().bind(PORT)) {
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(100, 4));
        p.receive(again, "the first datagram after binding again");
      }
    }
  }

  /**
   * <b>S13</b>: with PASS_THROUGH, before bind a matching datagram passes; right after bind the
   * next one is diverted (and does not pass); right after close the next one passes again.
   *
   * <p>If it fails: as for the DROP case; check also that a bound socket turns the bypass off at
   * once.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S13")
  public void S13_bindAndCloseTakeEffectAtOnceWithPassThrough(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed(passThrough());
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      bed.host().addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      byte[] d1 = pattern(100, 1);
      bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, d1);
      p.datagram(endpoint, d1, "the datagram before bind, passed through");
      DivertSocket socket = bed.host().bind(PORT);
      bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(100, 2));
      Received r = p.receive(socket, "the first datagram after bind");
      p.expectNoDatagram(endpoint, "a bound socket diverts; nothing passes");
      socket.drop(r.address());
      socket.close();
      byte[] d3 = pattern(100, 3);
      bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, d3);
      p.datagram(endpoint, d3, "the datagram after close, passed through");
    }
  }
}
