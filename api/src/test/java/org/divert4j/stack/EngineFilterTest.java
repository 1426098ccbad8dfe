package org.divert4j.stack;

import static org.divert4j.stack.TestNet.ETH0;
import static org.divert4j.stack.TestNet.ETH1;
import static org.divert4j.stack.TestNet.LO;
import static org.divert4j.stack.TestNet.udp;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.HostOptions;
import org.junit.jupiter.api.Test;

/**
 * What a rule's filter knows besides the bytes (S64): input and forward are inbound with the
 * arrival interface, output is outbound with the egress interface, and an interface whose address
 * is in 127.0.0.0/8 is a loopback interface.
 */
class EngineFilterTest {
  private final TestNet net = new TestNet();
  private final DivertEngine engine = net.engine(HostOptions.defaults());

  /** A socket on port 100 behind one rule; counts what it received. */
  private DivertSocket divert(String rule) throws Exception {
    DivertHost h = engine.openHost(HostOptions.defaults());
    h.addRule(DivertRule.parse(rule));
    return h.bind(100);
  }

  @Test
  void outputIsOutboundWithTheEgressInterface() throws Exception {
    DivertSocket s = divert("output filter \"outbound and ifIdx == 3 and not loopback\" port 100");
    engine.originate(udp("10.0.0.1", "10.0.0.2", 1, 10)); // eth0
    engine.originate(udp("10.0.1.1", "10.0.1.2", 2, 10)); // eth1
    assertEquals(1, pending(s));
    assertEquals(1, net.wire.size());
    assertEquals(ETH0, net.wire.get(0).ifIndex());
  }

  @Test
  void inputIsInboundWithTheArrivalInterface() throws Exception {
    DivertSocket s = divert("input filter \"inbound and not outbound and ifIdx == 3\" port 100");
    engine.receive(udp("10.0.0.9", "10.0.0.1", 1, 10), ETH0);
    engine.receive(udp("10.0.1.9", "10.0.0.1", 2, 10), ETH1);
    assertEquals(1, pending(s));
    assertEquals(1, net.local.size());
    assertEquals(ETH0, net.local.get(0).ifIndex());
  }

  @Test
  void forwardIsInboundWithTheArrivalInterface() throws Exception {
    DivertSocket s = divert("forward filter \"inbound and ifIdx == 2\" port 100");
    engine.receive(udp("10.0.0.9", "10.0.1.9", 1, 10), ETH0); // eth0 -> eth1: diverted
    engine.receive(udp("10.0.1.9", "10.0.0.9", 2, 10), ETH1); // eth1 -> eth0: goes on
    assertEquals(1, pending(s));
    assertEquals(1, net.wire.size());
    assertEquals(ETH0, net.wire.get(0).ifIndex());
  }

  @Test
  void anInterfaceIn127Slash8IsLoopback() throws Exception {
    DivertSocket s = divert("output filter loopback port 100");
    engine.originate(udp("127.0.0.1", "127.0.0.5", 1, 10));
    engine.originate(udp("10.0.0.1", "10.0.0.2", 2, 10));
    assertEquals(1, pending(s));
    assertEquals(1, net.wire.size());
    assertEquals(ETH0, net.wire.get(0).ifIndex());
    DivertSocket in = divertOn(200, "input filter \"loopback and ifIdx == 1\" port 200");
    engine.receive(udp("127.0.0.5", "10.0.0.1", 3, 10), LO);
    engine.receive(udp("10.0.0.9", "10.0.0.1", 4, 10), ETH0);
    assertEquals(1, pending(in));
  }

  @Test
  void anUnknownArrivalInterfaceIsNotLoopbackAndKeepsItsIndex() throws Exception {
    DivertSocket s = divert("input filter \"ifIdx == 4 and not loopback\" port 100");
    engine.receive(udp("10.0.0.9", "10.0.0.1", 1, 10), 4);
    assertEquals(1, pending(s));
  }

  private DivertSocket divertOn(int port, String rule) throws Exception {
    DivertHost h = engine.openHost(HostOptions.defaults());
    h.addRule(DivertRule.parse(rule));
    return h.bind(port);
  }

  /** How many packets wait on the socket (receives them all). */
  private static int pending(DivertSocket s) throws Exception {
    int n = 0;
    java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(2048);
    while (s.receive(buf.clear(), java.time.Duration.ZERO) != null) {
      n++;
    }
    return n;
  }
}
