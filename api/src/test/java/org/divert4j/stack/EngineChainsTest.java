package org.divert4j.stack;

import static org.divert4j.stack.TestNet.ETH0;
import static org.divert4j.stack.TestNet.ETH1;
import static org.divert4j.stack.TestNet.udp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import org.divert4j.Chain;
import org.divert4j.DivertAddress;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.HostOptions;
import org.divert4j.InstalledRule;
import org.divert4j.Ipv4;
import org.divert4j.NoListenerPolicy;
import org.divert4j.PortInUseException;
import org.divert4j.packet.Checksums;
import org.divert4j.packet.Ipv4Builder;
import org.junit.jupiter.api.Test;

/**
 * The chains with exact outcomes: where a written-back packet resumes (S43, S44) also after the
 * rules changed, the no-listener policies with their counts (S11, S12), a socket's own injection
 * passing its rule (S45), the forward path's TTL, ports' bounds (S2) and rule positions.
 */
class EngineChainsTest {
  private final TestNet net = new TestNet();
  private final ByteBuffer buf = ByteBuffer.allocate(2048);

  private DivertEngine engine(HostOptions o) {
    return net.engine(o);
  }

  private DivertAddress receive(DivertSocket s) throws Exception {
    buf.clear();
    DivertAddress a = s.receive(buf, Duration.ZERO);
    assertNotNull(a);
    buf.flip();
    return a;
  }

  private static ByteBuffer toRemote(int id) {
    return udp("10.0.0.1", "10.0.0.2", id, 10);
  }

  @Test
  void aWrittenBackPacketResumesAfterItsRule() throws Exception {
    DivertEngine e = engine(HostOptions.defaults());
    DivertHost h = e.openHost(HostOptions.defaults());
    h.addRule(DivertRule.parse("output -p udp -j DIVERT 100"));
    h.addRule(DivertRule.parse("output -p udp -j DIVERT 200"));
    DivertSocket a = h.bind(100);
    DivertSocket b = h.bind(200);
    assertTrue(e.originate(toRemote(1)));
    DivertAddress first = receive(a);
    assertEquals(Chain.OUTPUT, first.chain().orElseThrow());
    a.send(buf, first);
    assertNull(a.receive(ByteBuffer.allocate(2048), Duration.ZERO), "not back to the same rule");
    DivertAddress second = receive(b);
    b.send(buf, second);
    assertEquals(1, net.wire.size());
    assertEquals(ETH0, net.wire.get(0).ifIndex());
  }

  @Test
  void aWrittenBackPacketResumesAfterItsRuleOnTheSamePort() throws Exception {
    // S44: the same port twice; a restart of the chain would divert it forever
    DivertEngine e = engine(HostOptions.defaults());
    DivertHost h = e.openHost(HostOptions.defaults());
    h.addRule(DivertRule.parse("output -p udp -j DIVERT 100"));
    h.addRule(DivertRule.parse("output -p udp -j DIVERT 100"));
    DivertSocket s = h.bind(100);
    assertTrue(e.originate(toRemote(1)));
    DivertAddress first = receive(s);
    s.send(buf, first);
    DivertAddress second = receive(s);
    assertTrue(second.ruleId() != first.ruleId(), "the second rule took it");
    s.send(buf, second);
    assertNull(s.receive(ByteBuffer.allocate(2048), Duration.ZERO));
    assertEquals(1, net.wire.size());
    assertEquals(2, s.stats().received());
  }

  @Test
  void aRuleInsertedBeforeTheDivertingRuleDoesNotSeeTheWrittenBackPacket() throws Exception {
    DivertEngine e = engine(HostOptions.defaults());
    DivertHost h = e.openHost(HostOptions.defaults());
    h.addRule(DivertRule.parse("output -p udp -j DIVERT 100"));
    h.addRule(DivertRule.parse("output -p udp -j DIVERT 300"));
    DivertSocket s = h.bind(100);
    DivertSocket late = h.bind(200);
    DivertSocket last = h.bind(300);
    assertTrue(e.originate(toRemote(1)));
    DivertAddress a = receive(s);
    h.insertRule(0, DivertRule.parse("output -p udp -j DIVERT 200"));
    s.send(buf, a);
    assertNull(late.receive(ByteBuffer.allocate(2048), Duration.ZERO));
    assertNotNull(last.receive(ByteBuffer.allocate(2048), Duration.ZERO), "resumed after rule 100");
  }

  @Test
  void aPacketWhoseRuleWasRemovedResumesWhereTheRuleWas() throws Exception {
    DivertEngine e = engine(HostOptions.defaults());
    DivertHost h = e.openHost(HostOptions.defaults());
    InstalledRule r = h.addRule(DivertRule.parse("output -p udp -j DIVERT 100"));
    h.addRule(DivertRule.parse("output -p udp -j DIVERT 200"));
    DivertSocket s = h.bind(100);
    DivertSocket next = h.bind(200);
    assertTrue(e.originate(toRemote(1)));
    DivertAddress a = receive(s);
    r.remove();
    s.send(buf, a);
    assertNotNull(
        next.receive(ByteBuffer.allocate(2048), Duration.ZERO), "the rule after it sees it");
  }

  @Test
  void aPacketResumesAfterItsRuleWhenARuleBeforeItWasRemoved() throws Exception {
    DivertEngine e = engine(HostOptions.defaults());
    DivertHost h = e.openHost(HostOptions.defaults());
    InstalledRule before = h.addRule(DivertRule.parse("output -d 10.9.9.9 -j DIVERT 200"));
    h.addRule(DivertRule.parse("output -p udp -j DIVERT 100"));
    DivertSocket s = h.bind(100);
    assertTrue(e.originate(toRemote(1)));
    DivertAddress a = receive(s);
    before.remove(); // the diverting rule is now the last, at index 0
    s.send(buf, a);
    assertEquals(1, net.wire.size());
    assertEquals(0, s.stats().held());
    assertEquals(1, s.stats().received());
  }

  @Test
  void aPacketWhoseRuleWasRemovedResumesAtTheRulesPosition() throws Exception {
    DivertEngine e = engine(HostOptions.defaults());
    DivertHost h = e.openHost(HostOptions.defaults());
    h.addRule(DivertRule.parse("output -d 10.9.9.9 -j DIVERT 400"));
    InstalledRule r = h.addRule(DivertRule.parse("output -p udp -j DIVERT 100"));
    h.addRule(DivertRule.parse("output -p udp -j DIVERT 300"));
    DivertSocket s = h.bind(100);
    DivertSocket first = h.bind(200);
    DivertSocket last = h.bind(300);
    assertTrue(e.originate(toRemote(1)));
    DivertAddress a = receive(s);
    h.insertRule(0, DivertRule.parse("output -p udp -j DIVERT 200"));
    r.remove(); // now: 200, 400, 300; the packet was at position 1
    s.send(buf, a);
    assertNull(first.receive(ByteBuffer.allocate(2048), Duration.ZERO), "not from the start");
    assertNotNull(last.receive(ByteBuffer.allocate(2048), Duration.ZERO));
  }

  @Test
  void noListenerDropIsCountedAndPassThroughActsAsIfTheRuleWereAbsent() throws Exception {
    DivertEngine e = engine(HostOptions.defaults());
    DivertHost drop = e.openHost(HostOptions.builder().noListener(NoListenerPolicy.DROP).build());
    DivertHost pass =
        e.openHost(HostOptions.builder().noListener(NoListenerPolicy.PASS_THROUGH).build());
    pass.addRule(DivertRule.parse("output -p udp -j DIVERT 7"));
    assertTrue(e.originate(toRemote(1)));
    assertEquals(1, pass.stats().passedNoListener());
    assertEquals(0, pass.stats().dropped(DropReason.NO_LISTENER));
    assertEquals(1, net.wire.size());
    drop.addRule(DivertRule.parse("output -p udp -j DIVERT 8"));
    assertTrue(e.originate(toRemote(2)));
    assertTrue(e.originate(toRemote(3)));
    assertEquals(3, pass.stats().passedNoListener(), "rule 7 passed all three");
    assertEquals(2, drop.stats().dropped(DropReason.NO_LISTENER));
    assertEquals(1, net.wire.size(), "rule 8 dropped the two later ones");
  }

  @Test
  void aSocketsOwnInjectionPassesItsRuleButNotAnothers() throws Exception {
    DivertEngine e = engine(HostOptions.defaults());
    DivertHost h = e.openHost(HostOptions.defaults());
    h.addRule(DivertRule.parse("output -p udp -j DIVERT 100"));
    h.addRule(DivertRule.parse("output -p udp -j DIVERT 200"));
    DivertSocket a = h.bind(100);
    DivertSocket b = h.bind(200);
    a.send(toRemote(5), DivertAddress.OUTBOUND);
    assertNull(a.receive(ByteBuffer.allocate(2048), Duration.ZERO), "S45");
    DivertAddress got = receive(b);
    b.send(buf, got);
    assertEquals(1, net.wire.size());
    // injected by b: rule 100 still takes it (only b's own rule is skipped)
    b.send(toRemote(6), DivertAddress.OUTBOUND);
    DivertAddress again = receive(a);
    a.send(buf, again);
    assertNull(b.receive(ByteBuffer.allocate(2048), Duration.ZERO), "b's own rule still skipped");
    assertEquals(2, net.wire.size());
  }

  @Test
  void forwardingDecrementsTheTtlAndKeepsTheChecksumValid() throws Exception {
    DivertEngine e = engine(HostOptions.defaults());
    ByteBuffer p = Ipv4Builder.udp(1, 2).source("10.0.0.9").destination("10.0.1.9").ttl(2).build();
    e.receive(p, ETH0);
    assertEquals(1, net.wire.size());
    TestNet.Sent s = net.wire.get(0);
    assertEquals(ETH1, s.ifIndex());
    assertEquals(1, s.ttl());
    assertTrue(Checksums.isIpv4HeaderValid(ByteBuffer.wrap(s.bytes()), 0));
    e.receive(
        Ipv4Builder.udp(1, 2).source("10.0.0.9").destination("10.0.1.9").ttl(1).build(), ETH0);
    assertEquals(1, net.wire.size(), "TTL 1 is not forwarded");
  }

  @Test
  void notForwardingOrNoRouteDropsAForwardedPacket() throws Exception {
    DivertEngine e = engine(HostOptions.defaults());
    e.receive(udp("10.0.0.9", "10.9.9.9", 1, 10), ETH0);
    net.forwarding = false;
    e.receive(udp("10.0.0.9", "10.0.1.9", 2, 10), ETH0);
    assertEquals(0, net.wire.size());
    e.receive(udp("10.0.0.9", "10.0.1.1", 3, 10), ETH0);
    assertEquals(1, net.local.size(), "local delivery needs no forwarding");
    assertEquals(ETH0, net.local.get(0).ifIndex());
    assertTrue(!e.originate(udp("10.0.0.1", "10.9.9.9", 4, 10)), "no route");
  }

  @Test
  void theForwardChainSeesBothInterfaces() throws Exception {
    DivertEngine e = engine(HostOptions.defaults());
    DivertHost h = e.openHost(HostOptions.defaults());
    h.addRule(DivertRule.parse("forward -i eth1 -j DIVERT 100")); // wrong way: no match
    h.addRule(DivertRule.parse("forward -i eth0 -o eth1 -j DIVERT 200"));
    DivertSocket wrong = h.bind(100);
    DivertSocket s = h.bind(200);
    e.receive(udp("10.0.0.9", "10.0.1.9", 1, 10), ETH0);
    assertNull(wrong.receive(ByteBuffer.allocate(2048), Duration.ZERO));
    DivertAddress a = receive(s);
    assertEquals(Chain.FORWARD, a.chain().orElseThrow());
    assertEquals("eth0", a.interfaceName());
    assertEquals(ETH0, a.interfaceIndex());
    assertEquals(TestNet.HOST0, a.interfaceAddressBits());
    s.send(buf, a);
    assertEquals(0, s.stats().held());
    assertEquals(1, net.wire.size());
    assertEquals(ETH1, net.wire.get(0).ifIndex());
  }

  @Test
  void inputDiversionCarriesTheArrivalInterfaceAndResumesToLocalDelivery() throws Exception {
    DivertEngine e = engine(HostOptions.defaults());
    DivertHost h = e.openHost(HostOptions.defaults());
    h.addRule(DivertRule.parse("input -i eth1 -p udp -j DIVERT 100"));
    DivertSocket s = h.bind(100);
    e.receive(udp("10.0.1.9", "10.0.1.1", 1, 10), ETH1);
    DivertAddress a = receive(s);
    assertEquals(Chain.INPUT, a.chain().orElseThrow());
    assertEquals("eth1", a.interfaceName());
    assertEquals(TestNet.HOST1, a.interfaceAddressBits());
    s.send(buf, a);
    assertEquals(0, s.stats().held());
    assertEquals(1, s.stats().reinjected());
    assertEquals(1, net.local.size());
    assertEquals(ETH1, net.local.get(0).ifIndex());
  }

  @Test
  void anInboundInjectionEntersAtTheInterfaceWithThatAddress() throws Exception {
    DivertEngine e = engine(HostOptions.defaults());
    DivertHost h = e.openHost(HostOptions.defaults());
    DivertSocket s = h.bind(100);
    s.send(udp("10.0.1.9", "10.0.1.1", 1, 10), DivertAddress.inbound(Ipv4.parse("10.0.1.1")));
    assertEquals(1, net.local.size());
    assertEquals(ETH1, net.local.get(0).ifIndex());
    assertEquals(1, s.stats().injected());
    assertThrows(
        org.divert4j.AddressNotAvailableException.class,
        () ->
            s.send(
                udp("10.0.1.9", "10.0.1.1", 2, 10), DivertAddress.inbound(Ipv4.parse("10.0.1.2"))));
    assertEquals(1, s.stats().injected());
  }

  @Test
  void portsAreOneTo65535AndOneSocketEach() throws Exception {
    DivertEngine e = engine(HostOptions.defaults());
    DivertHost h = e.openHost(HostOptions.defaults());
    assertThrows(IllegalArgumentException.class, () -> h.bind(0));
    assertThrows(IllegalArgumentException.class, () -> h.bind(65536));
    DivertSocket low = h.bind(1);
    DivertSocket high = h.bind(65535);
    assertEquals(1, low.port());
    assertEquals(65535, high.port());
    assertThrows(PortInUseException.class, () -> h.bind(1));
    low.close();
    assertEquals(1, h.bind(1).port(), "free again after close");
    assertEquals(List.of("bound 65535", "bound 1"), e.state());
  }

  @Test
  void insertRulePlacesTheRuleAmongTheHostsOwnRules() throws Exception {
    DivertEngine e = engine(HostOptions.defaults());
    DivertHost other = e.openHost(HostOptions.defaults());
    DivertHost h = e.openHost(HostOptions.defaults());
    InstalledRule a = h.addRule(DivertRule.parse("output -j DIVERT 1"));
    InstalledRule x = other.addRule(DivertRule.parse("output -j DIVERT 9"));
    InstalledRule b = h.addRule(DivertRule.parse("output -j DIVERT 2"));
    InstalledRule first = h.insertRule(0, DivertRule.parse("output -j DIVERT 3"));
    InstalledRule second = h.insertRule(2, DivertRule.parse("output -j DIVERT 4"));
    InstalledRule end = h.insertRule(4, DivertRule.parse("output -j DIVERT 5"));
    assertThrows(
        IndexOutOfBoundsException.class,
        () -> h.insertRule(6, DivertRule.parse("output -j DIVERT 6")));
    assertThrows(
        IndexOutOfBoundsException.class,
        () -> h.insertRule(-1, DivertRule.parse("output -j DIVERT 6")));
    List<String> ports =
        e.state().stream().map(l -> l.replaceAll(".* -> (\\d+) .*", "$1")).toList();
    assertEquals(List.of("3", "1", "9", "4", "2", "5"), ports);
    assertEquals(List.of(first, a, second, b, end), h.rules());
    assertEquals(List.of(x), other.rules());
    h.close();
    assertEquals(1, e.state().size(), "closing a host removes its rules only");
  }
}
