package org.divert4j.tck;

import static org.divert4j.tck.Packets.pattern;
import static org.divert4j.tck.Probe.udpDestinationPort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import org.divert4j.Capability;
import org.divert4j.Chain;
import org.divert4j.Direction;
import org.divert4j.DivertHost;
import org.divert4j.DivertSocket;
import org.divert4j.InstalledRule;
import org.divert4j.PortInUseException;
import org.divert4j.tck.Probe.Received;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestNode;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.Test;

/**
 * Area A of SEMANTICS.md: sockets, ports, rules and chains (S1-S5). Runs once per address family
 * (SEMANTICS.md K: sections A-J hold for IPv6).
 *
 * <p>Most tests divert UDP sent by the peer to the host's UDP port 7000 on the input chain, and
 * look at which divert socket gets it and whether the host's UDP endpoint does.
 */
@SpecArea(id = "A", title = "Sockets, ports, rules, chains")
public class SocketsAndRulesVerification extends FamilyVerification {
  /** For the JUnit engine and subclasses. */
  public SocketsAndRulesVerification() {}

  /**
   * <b>S1</b>: a socket receives nothing until it is bound to the port a rule diverts to. A rule
   * diverts UDP to port 4100 while a socket is bound to 4200: the 4200 socket must get nothing.
   * After a socket binds 4100, it gets the next datagram and 4200 still gets nothing.
   *
   * <p>If it fails: a packet on the wrong socket means dispatch does not key on the divert port
   * alone; nothing on 4100 after bind means binding does not start delivery (compare S13).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S1")
  public void S1_socketReceivesNothingUntilBoundToTheRulesPort(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      bed.host().addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      try (DivertSocket other = bed.host().bind(PORT2)) {
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(100, 1));
        p.expectNothing(other, "the rule diverts to port " + PORT + ", not " + PORT2);
        try (DivertSocket socket = bed.host().bind(PORT)) {
          bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(100, 2));
          Received r = p.receive(socket, "the datagram diverted to the socket's port");
          assertEquals(UDP_PORT, udpDestinationPort(r.bytes()), "diverted packet: " + r);
          assertEquals(PORT, r.address().port(), "the address must carry the divert port");
          p.expectNothing(other, "the rule diverts to port " + PORT + ", not " + PORT2);
        }
      }
    }
  }

  /**
   * <b>S1</b>: only the port identifies the socket. Two rules on different chains (input for
   * datagrams to the host, output for datagrams from it) divert to the same port: the one socket
   * bound to it receives both, each with its own chain in the address.
   *
   * <p>If it fails: delivery is keyed by something besides the port (the chain or the rule), or the
   * output chain is not diverting (compare S4, S6).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S1")
  public void S1_onlyThePortIdentifiesTheSocket(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket =
          divert(bed, PORT, "input -p udp --dport 7000", "output -p udp --dport 7000")) {
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(100, 1));
        Received in = p.receive(socket, "the inbound datagram");
        bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, pattern(100, 2));
        Received out = p.receive(socket, "the outbound datagram");
        assertEquals(Chain.INPUT, in.address().chain().orElse(null), "inbound: " + in);
        assertEquals(Chain.OUTPUT, out.address().chain().orElse(null), "outbound: " + out);
        p.expectNothing(socket, "each datagram is diverted once");
      }
    }
  }

  /**
   * <b>S2</b>: ports are independent. Rules divert UDP to port 7000 to divert port 4100 and UDP to
   * port 7002 to 4200; each socket gets only its own rule's datagram.
   *
   * <p>If it fails: the backend mixes ports up (one queue for all ports, or a wrong port in the
   * firewall rule).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S2")
  public void S2_eachPortReceivesOnlyItsOwnRulesPackets(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      bed.host().addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      bed.host().addRule(rule("input -p udp --dport 7002 -j DIVERT " + PORT2));
      try (DivertSocket a = bed.host().bind(PORT);
          DivertSocket b = bed.host().bind(PORT2)) {
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(100, 1));
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT2, pattern(100, 2));
        Received ra = p.receive(a, "the datagram to UDP port 7000");
        Received rb = p.receive(b, "the datagram to UDP port 7002");
        assertEquals(UDP_PORT, udpDestinationPort(ra.bytes()), "port " + PORT + " got " + ra);
        assertEquals(UDP_PORT2, udpDestinationPort(rb.bytes()), "port " + PORT2 + " got " + rb);
        p.expectNothing(a, "only one datagram matches its rule");
        p.expectNothing(b, "only one datagram matches its rule");
      }
    }
  }

  /**
   * <b>S2</b>: binding a port that is already bound on the same host fails with {@link
   * PortInUseException} naming the port, and leaves the first socket working. After the first
   * socket closes, the port can be bound again.
   *
   * <p>If it fails: a second bind that succeeds means two sockets share a port (which one gets the
   * packets is then undefined); any other exception type is not the clear error the rule asks for.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S2")
  public void S2_bindingABoundPortFailsWithPortInUse(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      bed.host().addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      DivertSocket first = bed.host().bind(PORT);
      PortInUseException e =
          assertThrows(PortInUseException.class, () -> bed.host().bind(PORT).close());
      assertEquals(PORT, e.port(), "the error must name the port: " + e.getMessage());
      assertTrue(
          e.getMessage().contains(Integer.toString(PORT)),
          "the message must name the port: " + e.getMessage());
      bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(100, 1));
      p.receive(first, "the datagram, on the first socket, after the failed bind");
      first.close();
      try (DivertSocket again = bed.host().bind(PORT)) {
        assertTrue(again.isOpen(), "a port must be free again once its socket closed");
      }
    }
  }

  /**
   * <b>S2</b>: port 0 and ports outside 1..65535 are refused with {@link IllegalArgumentException},
   * on bind and in rules.
   *
   * <p>If it fails: the backend accepted a port the divert port space does not have (NFQUEUE
   * accepts queue 0; divert4j does not).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S2")
  public void S2_portZeroAndPortsAbove65535AreRefused(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      DivertHost host = bed.host();
      for (int bad : new int[] {0, 65536, -1}) {
        assertThrows(
            IllegalArgumentException.class,
            () -> host.bind(bad).close(),
            "bind(" + bad + ") must be refused");
        assertThrows(
            IllegalArgumentException.class,
            () -> rule("input -p udp -j DIVERT " + bad),
            "a rule to port " + bad + " must be refused");
      }
      try (DivertSocket top = host.bind(65535)) {
        assertEquals(65535, top.port(), "port 65535 is valid");
      }
    }
  }

  /**
   * <b>S2</b>: divert ports are a space of their own, separate from UDP ports. A divert socket
   * bound to 7000 with no rule takes nothing from the host's UDP port 7000.
   *
   * <p>If it fails: the backend binds a real UDP/TCP port, or diverts by port number without a
   * rule.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S2")
  public void S2_divertPortsAreSeparateFromUdpPorts(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT);
        DivertSocket socket = bed.host().bind(UDP_PORT)) {
      Probe p = probe(bed, tck);
      byte[] data = pattern(200, 3);
      bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, data);
      p.datagram(endpoint, data, "the datagram to the UDP port that shares the divert port number");
      p.expectNothing(socket, "no rule diverts anything");
    }
  }

  /**
   * <b>S3</b>: rules are added and removed at run time. With no rule the datagram reaches the
   * host's UDP endpoint; with the rule it is diverted (and the endpoint gets nothing); once the
   * rule is removed it reaches the endpoint again and the socket gets nothing. Removing twice is
   * harmless.
   *
   * <p>If it fails: check that {@code addRule} takes effect before it returns, and that {@code
   * remove} really deletes the firewall rule (and {@code isInstalled} and {@code rules()} reflect
   * it).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S3")
  public void S3_rulesAreAddedAndRemovedAtRunTime(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT);
        DivertSocket socket = bed.host().bind(PORT)) {
      Probe p = probe(bed, tck);
      byte[] d1 = pattern(120, 1);
      bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, d1);
      p.datagram(endpoint, d1, "the datagram before any rule");
      p.expectNothing(socket, "no rule is installed yet");

      InstalledRule installed =
          bed.host().addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      assertTrue(installed.isInstalled(), "a rule is installed when addRule returns");
      assertTrue(bed.host().rules().contains(installed), "rules() must list the new rule");
      bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(120, 2));
      Received r = p.receive(socket, "the datagram diverted by the new rule");
      socket.drop(r.address());
      p.expectNoDatagram(endpoint, "the rule diverted it and the program dropped it");

      installed.remove();
      assertFalse(installed.isInstalled(), "a removed rule is no longer installed");
      assertFalse(bed.host().rules().contains(installed), "rules() must not list a removed rule");
      byte[] d3 = pattern(120, 3);
      bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, d3);
      p.datagram(endpoint, d3, "the datagram after the rule was removed");
      p.expectNothing(socket, "the rule was removed");
      installed.remove();
    }
  }

  /**
   * <b>S3</b>: traffic that no rule matches is never touched. With a rule for UDP port 7000, a
   * crafted datagram to port 7002 arrives intact (same payload) and the socket sees nothing; a ping
   * is answered.
   *
   * <p>If it fails: the backend diverts more than its rules match (too broad a firewall rule, or a
   * queue hook that catches everything), or modifies packets it does not divert.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S3")
  public void S3_trafficNoRuleMatchesIsNeverTouched(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT2)) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp --dport 7000")) {
        byte[] data = pattern(300, 4);
        bed.peer()
            .sendRaw(ByteBuffer.wrap(p.udpPacket(p.peer(), p.host(), SRC_PORT, UDP_PORT2, data)));
        p.datagram(endpoint, data, "the datagram no rule matches");
        assertTrue(
            bed.peer().ping(p.host(), 56, tck.timeout()),
            "a ping no rule matches must be answered");
        p.expectNothing(socket, "no rule matches this traffic");
      }
    }
  }

  /**
   * <b>S3</b> [cap: SHARED_RULES]: a rule installed by one program is served by a socket bound in
   * another. One host handle installs the rule and a second handle on the same host binds the port:
   * the socket receives the diverted datagram. And the other way round.
   *
   * <p>If it fails: the backend ties rules to the handle that installed them; a backend that cannot
   * share rules must not declare SHARED_RULES.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S3", capabilities = Capability.SHARED_RULES)
  public void S3_ruleInstalledByOneProgramIsServedBySocketOfAnother(TckContext tck)
      throws Exception {
    try (TestBed bed = tck.testBed();
        DivertHost other = bed.openAnotherHost(bed.options().host())) {
      Probe p = probe(bed, tck);
      bed.host().addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      other.addRule(rule("input -p udp --dport 7002 -j DIVERT " + PORT2));
      try (DivertSocket s1 = other.bind(PORT);
          DivertSocket s2 = bed.host().bind(PORT2)) {
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(100, 1));
        p.receive(s1, "the datagram diverted by the first program's rule, on the second's socket");
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT2, pattern(100, 2));
        p.receive(s2, "the datagram diverted by the second program's rule, on the first's socket");
      }
    }
  }

  /**
   * <b>S4</b>: locally addressed and locally generated packets never reach the forward chain. Rules
   * on input, forward and output divert UDP to ports 4100, 4200, 4300: a datagram from the peer to
   * the host is seen on input only, and one from the host to the peer on output only; each written
   * back reaches its destination.
   *
   * <p>If it fails: check the chain mapping (ipchains meaning: input = every packet entering,
   * forward = forwarded only, output = every packet leaving; for Linux: PREROUTING, FORWARD,
   * POSTROUTING).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S4")
  public void S4_localPacketsUseInputAndOutputAndNeverForward(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint atHost = bed.hostNode().openUdp(UDP_PORT);
        UdpEndpoint atPeer = bed.peer().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      bed.host().addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      bed.host().addRule(rule("forward -p udp --dport 7000 -j DIVERT " + PORT2));
      bed.host().addRule(rule("output -p udp --dport 7000 -j DIVERT " + PORT3));
      try (DivertSocket in = bed.host().bind(PORT);
          DivertSocket fwd = bed.host().bind(PORT2);
          DivertSocket out = bed.host().bind(PORT3)) {
        byte[] d1 = pattern(100, 1);
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, d1);
        Received r1 = p.receive(in, "the datagram to the host, on the input chain");
        assertEquals(Chain.INPUT, r1.address().chain().orElse(null), "chain of " + r1);
        p.writeBack(in, r1);
        p.datagram(atHost, d1, "the datagram to the host after input reinjection");

        byte[] d2 = pattern(100, 2);
        bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, d2);
        Received r2 = p.receive(out, "the datagram from the host, on the output chain");
        assertEquals(Chain.OUTPUT, r2.address().chain().orElse(null), "chain of " + r2);
        p.writeBack(out, r2);
        p.datagram(atPeer, d2, "the datagram from the host after output reinjection");

        p.expectNothing(fwd, "local traffic never reaches the forward chain");
        p.expectNothing(in, "a locally generated datagram never enters the input chain");
        p.expectNothing(out, "a datagram to the host never reaches the output chain");
      }
    }
  }

  /**
   * <b>S4</b> [cap: FORWARD]: a forwarded packet matched on all three chains, and written back at
   * each, is delivered to the input port, then the forward port, then the output port, and then
   * reaches the far peer. No chain sees it before the previous one wrote it back.
   *
   * <p>If it fails: look at the order the chains' hooks run in for forwarded traffic and at the
   * chain each diverted packet reports (input on the ingress interface, forward, then output
   * outbound).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S4", capabilities = Capability.FORWARD)
  public void S4_forwardedPacketTraversesInputThenForwardThenOutput(TckContext tck)
      throws Exception {
    try (TestBed bed = tck.testBed(options().farPeer(true).build())) {
      Probe p = probe(bed, tck);
      TestNode far = p.far();
      String dst = p.farAddress().getHostAddress();
      bed.host().addRule(rule("input -p udp -d " + dst + " -j DIVERT " + PORT));
      bed.host().addRule(rule("forward -p udp -d " + dst + " -j DIVERT " + PORT2));
      bed.host().addRule(rule("output -p udp -d " + dst + " -j DIVERT " + PORT3));
      try (UdpEndpoint atFar = far.openUdp(UDP_PORT);
          DivertSocket in = bed.host().bind(PORT);
          DivertSocket fwd = bed.host().bind(PORT2);
          DivertSocket out = bed.host().bind(PORT3)) {
        byte[] data = pattern(150, 5);
        bed.peer().sendUdp(p.farAddress(), SRC_PORT, UDP_PORT, data);
        Received r1 = p.receive(in, "the forwarded datagram on the input chain");
        p.expectNothing(fwd, "forward comes after input wrote the packet back");
        p.expectNothing(out, "output comes after input wrote the packet back");
        assertEquals(Chain.INPUT, r1.address().chain().orElse(null), "input: " + r1);
        p.writeBack(in, r1);
        Received r2 = p.receive(fwd, "the forwarded datagram on the forward chain");
        p.expectNothing(out, "output comes after forward wrote the packet back");
        assertEquals(Chain.FORWARD, r2.address().chain().orElse(null), "forward: " + r2);
        assertEquals(Direction.INBOUND, r2.address().direction(), "forward is inbound: " + r2);
        p.writeBack(fwd, r2);
        Received r3 = p.receive(out, "the forwarded datagram on the output chain");
        assertEquals(Chain.OUTPUT, r3.address().chain().orElse(null), "output: " + r3);
        p.writeBack(out, r3);
        p.datagram(atFar, data, "the forwarded datagram at the far peer");
        p.expectNothing(in, "each chain diverts the packet once");
        p.expectNothing(fwd, "each chain diverts the packet once");
        p.expectNothing(out, "each chain diverts the packet once");
      }
    }
  }

  /**
   * <b>S5</b>: rules in a chain are evaluated in order and the first matching DIVERT rule takes the
   * packet. "UDP to 7000 to 4100" comes before "all UDP to 4200": a datagram to 7000 goes to 4100
   * and 4200 sees nothing of it (it is dropped, not written back); a datagram to 7002 goes to 4200.
   * After inserting "all UDP to 4200" first, a datagram to 7000 goes to 4200.
   *
   * <p>If it fails: check that rules are appended and inserted at the right positions ({@code
   * addRule} appends, {@code insertRule(0, ...)} goes first) and that evaluation stops at the first
   * match.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S5")
  public void S5_firstMatchingRuleInAChainTakesThePacket(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      bed.host().addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      bed.host().addRule(rule("input -p udp -j DIVERT " + PORT2));
      try (DivertSocket first = bed.host().bind(PORT);
          DivertSocket second = bed.host().bind(PORT2)) {
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(100, 1));
        Received r = p.receive(first, "the datagram to 7000, taken by the first rule");
        p.expectNothing(second, "the first matching rule took the packet");
        first.drop(r.address());
        p.expectNothing(second, "a dropped packet goes no further");

        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT2, pattern(100, 2));
        Received r2 = p.receive(second, "the datagram to 7002, which only the second rule matches");
        second.drop(r2.address());
        p.expectNothing(first, "the first rule does not match UDP port 7002");

        bed.host().insertRule(0, rule("input -p udp -j DIVERT " + PORT2));
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(100, 3));
        Received r3 = p.receive(second, "the datagram to 7000, taken by the rule inserted first");
        second.drop(r3.address());
        p.expectNothing(first, "the inserted rule comes first and took the packet");
      }
    }
  }
}
