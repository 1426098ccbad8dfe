package org.divert4j.rawsocket;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.divert4j.Chain;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.HostOptions;
import org.divert4j.InstalledRule;
import org.divert4j.NoListenerPolicy;
import org.divert4j.PermissionException;
import org.divert4j.linux.Capabilities;
import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.rawsocket.KernelRules.Entry;
import org.divert4j.rawsocket.KernelRules.OwnerState;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link KernelRules} in real namespaces: static rules installed by one program and served by a
 * host that binds later (S3, SHARED_RULES), with the no-listener policies (S11, S12) and the
 * continuation after the rule (S44); the rules a SIGKILLed JVM leaves, listed as dead and removed
 * by cleanup while static rules survive (S51).
 */
class KernelRulesTest {
  private static final Duration PING = Duration.ofSeconds(2);

  @BeforeEach
  void root() {
    Root.assumeKernel();
  }

  private static String rules(String nsName) throws Exception {
    return Shell.check(
        null,
        Duration.ofSeconds(30),
        Shell.inNetns("/var/run/netns/" + nsName, List.of("iptables-nft-save")));
  }

  private static List<Integer> ids(List<Entry> l) {
    List<Integer> ids = new ArrayList<>();
    for (Entry e : l) {
      ids.add(e.id());
    }
    return ids;
  }

  private static Entry only(List<Entry> l, int id) {
    for (Entry e : l) {
      if (e.id() == id) {
        return e;
      }
    }
    throw new AssertionError("no rule " + id + " in " + l);
  }

  private static boolean ping(TestBed bed) throws Exception {
    return bed.peer().ping(bed.hostNode().address(), 56, PING);
  }

  @Test
  void staticRuleIsServedByAHostThatBindsLaterAndStopsWhenRemoved() throws Exception {
    try (TestBed bed = new RawSocketProvider().testBed(TestBedOptions.defaults())) {
      String ns = bed.host().options().property("rawsocket.netns", null);
      DivertRule rule = DivertRule.parse("input -p icmp -j DIVERT 1234");
      Entry added = KernelRules.add(ns, rule, NoListenerPolicy.DROP);
      assertEquals(OwnerState.STATIC, added.state());
      assertEquals("static", added.owner());
      assertEquals(0, added.pid());
      assertEquals(Chain.INPUT, added.chain());
      assertEquals(rule, added.rule().orElseThrow());
      assertEquals(1234, added.port());
      assertEquals(NoListenerPolicy.DROP, added.noListener());
      assertFalse(added.bound());
      assertTrue(rules(ns).contains("divert4j:static:0:" + added.id()), rules(ns));

      Entry listed = only(KernelRules.list(ns), added.id());
      assertEquals(rule, listed.rule().orElseThrow());
      assertEquals("-p icmp", listed.match());
      assertEquals("input -p icmp -j DIVERT 1234", listed.ruleText());

      // S11 with no program at all: the rule drops while nobody listens
      assertFalse(ping(bed), "DROP static rule without a listener drops");

      // a host opening and closing in the namespace leaves the static rule alone
      bed.openAnotherHost(HostOptions.defaults()).close();
      assertEquals(List.of(added.id()), ids(KernelRules.list(ns)));

      // S3: a host that did not install the rule binds its port and receives its packets
      DivertSocket s = bed.host().bind(1234);
      try (Reflector r = new Reflector(s)) {
        assertTrue(ping(bed), "the echo is written back");
        List<Reflector.Seen> seen = r.await(1, PING);
        assertFalse(seen.isEmpty());
        assertEquals(added.id(), seen.get(0).address().ruleId(), "the address names the rule");
        assertEquals(Chain.INPUT, seen.get(0).address().chain().orElseThrow());
        Entry serving = only(KernelRules.list(ns), added.id());
        assertTrue(serving.bound(), serving::toString);
        assertTrue(serving.packets() >= 1, serving::toString);
        assertTrue(r.errors().isEmpty(), () -> r.errors().toString());
      }
      s.close();
      assertFalse(only(KernelRules.list(ns), added.id()).bound());
      assertFalse(ping(bed), "closing the socket returns the port to DROP (S13)");

      Entry removed = KernelRules.remove(ns, added.id());
      assertEquals(added.id(), removed.id());
      assertTrue(ping(bed), "removing the rule stops diversion at once (S3)");
      assertTrue(KernelRules.list(ns).isEmpty());
      assertFalse(rules(ns).contains("DIVERT4J"), rules(ns));
    }
  }

  @Test
  void passThroughStaticRuleLetsLaterRulesSeeThePacketAndResumesAfterItself() throws Exception {
    try (TestBed bed = new RawSocketProvider().testBed(TestBedOptions.defaults())) {
      String ns = bed.host().options().property("rawsocket.netns", null);
      Entry st =
          KernelRules.add(
              ns, DivertRule.parse("input -p icmp -j DIVERT 1300"), NoListenerPolicy.PASS_THROUGH);
      assertEquals(NoListenerPolicy.PASS_THROUGH, st.noListener());
      assertTrue(ping(bed), "S12: pass-through without a listener");

      InstalledRule later = bed.host().addRule(DivertRule.parse("input -p icmp -j DIVERT 1301"));
      List<Entry> l = KernelRules.list(ns);
      assertEquals(List.of(st.id(), later.id()), ids(l), "the host's rule comes after");
      assertEquals(OwnerState.ALIVE, only(l, later.id()).state());
      assertEquals(bed.host().name(), only(l, later.id()).owner());
      assertEquals(ProcessHandle.current().pid(), only(l, later.id()).pid());

      try (DivertSocket s2 = bed.host().bind(1301);
          Reflector r2 = new Reflector(s2)) {
        assertTrue(ping(bed));
        assertEquals(1, r2.await(1, PING).size(), "S12 SHOULD: the later rule still applies");
        try (DivertSocket s1 = bed.host().bind(1300);
            Reflector r1 = new Reflector(s1)) {
          assertTrue(ping(bed));
          List<Reflector.Seen> first = r1.await(1, PING);
          List<Reflector.Seen> second = r2.await(2, PING);
          assertEquals(1, first.size());
          assertEquals(st.id(), first.get(0).address().ruleId());
          assertEquals(2, second.size(), "S44: written back, it continues after the static rule");
          assertEquals(later.id(), second.get(1).address().ruleId());
          assertTrue(r1.errors().isEmpty(), () -> r1.errors().toString());
        }
      }
      assertThrows(DivertException.class, () -> KernelRules.remove(ns, later.id()));
      assertEquals(later.id(), KernelRules.remove(ns, later.id(), true).id());
      KernelRules.remove(ns, st.id());
      assertTrue(KernelRules.list(ns).isEmpty());
    }
  }

  @Test
  void cleanupRemovesWhatAKilledJvmLeftAndKeepsStaticRules() throws Exception {
    try (Netns ns = Netns.create(Netns.uniqueName("rules"))) {
      String name = ns.name();
      // the same port as the child's input rule: its port chain outlives the child
      Entry st =
          KernelRules.add(
              name, DivertRule.parse("input -p udp -j DIVERT 4444"), NoListenerPolicy.DROP);
      String host;
      try (HostChild child = HostChild.start(CrashChild.class, name)) {
        host = child.host();
        assertTrue(host != null, "the child opened a host");
        List<Entry> live = KernelRules.list(name);
        assertEquals(3, live.size(), live::toString);
        assertEquals(OwnerState.STATIC, only(live, st.id()).state(), "the child's open kept it");
        assertTrue(only(live, st.id()).bound(), "the child's socket serves the static rule");
        int childRule = -1;
        for (Entry e : live) {
          if (e.id() != st.id()) {
            assertEquals(OwnerState.ALIVE, e.state());
            assertEquals(host, e.owner());
            assertEquals(child.pid(), e.pid());
            childRule = e.id();
          }
        }
        final int running = childRule;
        DivertException refused =
            assertThrows(DivertException.class, () -> KernelRules.remove(name, running));
        assertTrue(refused.getMessage().contains("running divert host " + host), refused::toString);
        assertTrue(KernelRules.cleanup(name).isEmpty(), "nothing is dead yet");
        assertTrue(child.kill()); // SIGKILL: no shutdown hook, no close
      }

      List<Entry> orphaned = KernelRules.list(name);
      assertEquals(3, orphaned.size());
      for (Entry e : orphaned) {
        assertEquals(
            e.id() == st.id() ? OwnerState.STATIC : OwnerState.DEAD, e.state(), e::toString);
        assertFalse(e.bound(), "the child's queue died with it");
      }

      KernelRules.Cleanup dry = KernelRules.cleanup(name, true);
      assertEquals(2, dry.rules().size(), dry::toString);
      assertEquals(3, KernelRules.list(name).size(), "a dry run changes nothing");

      KernelRules.Cleanup done = KernelRules.cleanup(name);
      assertEquals(ids(dry.rules()), ids(done.rules()));
      for (Entry e : done.rules()) {
        assertEquals(host, e.owner());
        assertEquals(OwnerState.DEAD, e.state());
      }
      String other = String.join("\n", done.other());
      assertTrue(other.contains("DIVERT4J-D4445"), other); // only the child's output rule used it
      assertTrue(other.contains("NFQUEUE line of port chain DIVERT4J-D4444"), other); // disarmed
      assertEquals(List.of(st.id()), ids(KernelRules.list(name)));
      String after = rules(name);
      assertFalse(after.contains("divert4j:" + host + ":"), after);
      // the port chain keeps its no-listener line alone (the dead listener's NFQUEUE line before
      // it is gone)
      assertEquals(
          1,
          after.lines().filter(l -> l.startsWith("-A DIVERT4J-D4444 ")).count(),
          "the dead listener's NFQUEUE line is gone: " + after);
      assertTrue(after.contains("divert4j:static:0:" + st.id()), after);
      assertTrue(KernelRules.cleanup(name).isEmpty(), "a second cleanup finds nothing");

      // a host opened now keeps the static rule too, and closes leaving it
      HostOptions o = HostOptions.builder().property("rawsocket.netns", name).build();
      try (DivertHost h = new RawSocketProvider().open(o)) {
        assertEquals(List.of(st.id()), ids(KernelRules.list(name)));
        h.bind(4444).close();
      }
      assertEquals(List.of(st.id()), ids(KernelRules.list(name)));
      KernelRules.remove(name, st.id());
      assertFalse(rules(name).contains("DIVERT4J"), rules(name));
    }
  }

  @Test
  void errorsAreClear() throws Exception {
    try (Netns ns = Netns.create(Netns.uniqueName("rules"))) {
      DivertException none =
          assertThrows(DivertException.class, () -> KernelRules.remove(ns.name(), 77));
      assertTrue(none.getMessage().contains("no divert4j rule with id 77"), none::toString);
      DivertException missing =
          assertThrows(DivertException.class, () -> KernelRules.list(ns.name() + "-nosuch"));
      assertTrue(missing.getMessage().contains("does not exist"), missing::toString);

      AtomicReference<Throwable> thrown = new AtomicReference<>();
      Thread t =
          new Thread(
              () -> {
                try {
                  Capabilities.dropEffective(Capabilities.CAP_NET_ADMIN, Capabilities.CAP_NET_RAW);
                  KernelRules.list(ns.name());
                } catch (Throwable e) {
                  thrown.set(e);
                }
              });
      t.start();
      t.join();
      PermissionException p = assertThrows(PermissionException.class, () -> rethrow(thrown.get()));
      assertEquals(List.of("CAP_NET_ADMIN", "CAP_NET_RAW"), p.missing());
      assertTrue(KernelRules.list(ns.name()).isEmpty());
      assertTrue(KernelRules.cleanup(ns.name()).isEmpty());
      assertTrue(KernelRules.foreignQueueRules(ns.name()).isEmpty());
      ns.execChecked(
          "iptables-nft", "-t", "mangle", "-A", "FORWARD", "-j", "NFQUEUE", "--queue-num", "9");
      List<String> foreign = KernelRules.foreignQueueRules(ns.name());
      assertEquals(1, foreign.size(), foreign::toString);
      assertTrue(foreign.get(0).startsWith("mangle FORWARD "), foreign::toString);
    }
  }

  private static void rethrow(Throwable t) throws Throwable {
    if (t != null) {
      throw t;
    }
  }
}
