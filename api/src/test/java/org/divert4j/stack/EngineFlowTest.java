package org.divert4j.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Set;
import org.divert4j.Capability;
import org.divert4j.DivertAddress;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.HostOptions;
import org.divert4j.InstalledRule;
import org.divert4j.packet.Ipv4Builder;
import org.junit.jupiter.api.Test;

/** flow.Packets in the engine (S68): where packets are counted, and when. */
class EngineFlowTest {
  private static final String OUT = "output -p udp filter \"flow.Packets <= 2\" -j DIVERT 100";
  private static final String IN = "input -p udp filter \"flow.Packets <= 2\" -j DIVERT 100";

  private static ByteBuffer udp(String src, String dst, int sport, int dport) {
    return Ipv4Builder.udp(sport, dport)
        .source(src)
        .destination(dst)
        .identification(1)
        .payload(new byte[8])
        .build();
  }

  private static ByteBuffer out() {
    return udp("10.0.0.1", "10.0.0.2", 5000, 53);
  }

  private static ByteBuffer in() {
    return udp("10.0.0.2", "10.0.0.1", 53, 5000);
  }

  private static DivertEngine engine(EngineHooksTest.Env env, Set<Capability> caps) {
    return new DivertEngine("test", "h", caps, HostOptions.defaults(), env);
  }

  @Test
  void aBackendWithoutFlowCountRefusesTheRuleInstallingNothing() throws Exception {
    DivertHost host = engine(new EngineHooksTest.Env(), Set.of()).openHost(HostOptions.defaults());
    DivertException e =
        assertThrows(DivertException.class, () -> host.addRule(DivertRule.parse(OUT)));
    assertTrue(e.getMessage().contains("FLOW_COUNT"), e.getMessage());
    assertTrue(host.rules().isEmpty());
  }

  @Test
  void eachPacketCountsOnceWhereItEntersBothDirectionsTogether() throws Exception {
    EngineHooksTest.Env env = new EngineHooksTest.Env();
    DivertEngine e = engine(env, Set.of(Capability.FLOW_COUNT));
    DivertHost host = e.openHost(HostOptions.defaults());
    host.addRule(DivertRule.parse(OUT));
    host.addRule(DivertRule.parse(IN));
    DivertSocket s = host.bind(100);
    ByteBuffer buf = ByteBuffer.allocate(2048);
    e.originate(out()); // 1
    DivertAddress a = s.receive(buf, Duration.ZERO);
    assertNotNull(a, "packet 1 is diverted");
    s.send(buf.flip(), a); // written back: not counted again
    assertEquals(1, env.wire.size());
    e.receive(in(), 2); // 2
    buf.clear();
    a = s.receive(buf, Duration.ZERO);
    assertNotNull(a, "packet 2, the answer, is diverted");
    s.send(buf.flip(), a);
    e.originate(out()); // 3
    assertEquals(2, env.wire.size(), "packet 3 passes");
    buf.clear();
    assertNull(s.receive(buf, Duration.ZERO));
    e.originate(udp("10.0.0.1", "10.0.0.2", 5001, 53)); // another connection: 1
    buf.clear();
    assertNotNull(s.receive(buf, Duration.ZERO), "another connection counts from 1");
  }

  @Test
  void countingStopsWithTheLastRuleThatReadsTheCount() throws Exception {
    EngineHooksTest.Env env = new EngineHooksTest.Env();
    DivertEngine e = engine(env, Set.of(Capability.FLOW_COUNT));
    DivertHost host = e.openHost(HostOptions.defaults());
    InstalledRule rule = host.addRule(DivertRule.parse(OUT));
    DivertSocket s = host.bind(100);
    ByteBuffer buf = ByteBuffer.allocate(2048);
    for (int i = 0; i < 2; i++) {
      e.originate(out());
      buf.clear();
      DivertAddress a = s.receive(buf, Duration.ZERO);
      s.send(buf.flip(), a);
    }
    rule.remove();
    e.originate(out()); // not counted: no rule reads the count
    host.addRule(DivertRule.parse(OUT));
    e.originate(out());
    buf.clear();
    assertNotNull(s.receive(buf, Duration.ZERO), "counting starts again from 1");
  }
}
