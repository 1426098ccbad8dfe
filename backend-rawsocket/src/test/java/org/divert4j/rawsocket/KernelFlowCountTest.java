package org.divert4j.rawsocket;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.InstalledRule;
import org.divert4j.NoListenerPolicy;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.testbed.Datagram;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * flow.Packets (S68) on the kernel backend through real namespaces: xt_connbytes on an output rule
 * of an always-defragment host counts both directions; while an input rule counts, the input chain
 * lives in mangle; per-fragment hosts refuse the field, installing nothing.
 */
class KernelFlowCountTest {
  private static final Duration WAIT = Duration.ofSeconds(3);
  private static final String ACCT = "net.netfilter.nf_conntrack_acct";
  private TestBed bed;

  @BeforeEach
  void root() {
    Root.assumeKernel();
  }

  @AfterEach
  void cleanup() {
    if (bed != null) {
      bed.close();
    }
  }

  /** An always-defragment host in a namespace of the test's own. */
  private static HostOptions defragmentingIn(Netns ns) {
    return HostOptions.builder()
        .property("rawsocket.netns", ns.name())
        .fragments(FragmentMode.ALWAYS_DEFRAGMENT)
        .build();
  }

  /** Sends {@code data} from one endpoint and checks that the other receives exactly it. */
  private static void passes(
      UdpEndpoint from, InetAddress to, int port, UdpEndpoint at, byte[] data, String what)
      throws Exception {
    from.send(to, port, data);
    Datagram d = at.receive(WAIT);
    assertNotNull(d, what);
    assertArrayEquals(data, d.payload(), what);
  }

  private TestBed bed(FragmentMode mode) throws Exception {
    HostOptions h = HostOptions.builder().fragments(mode).build();
    bed = new RawSocketProvider().testBed(TestBedOptions.builder().host(h).build());
    return bed;
  }

  @Test
  void connbytesOnAnOutputRuleCountsBothDirectionsOfEachConnection() throws Exception {
    bed(FragmentMode.ALWAYS_DEFRAGMENT);
    InetAddress peer = bed.peer().address();
    InetAddress hostAddress = bed.hostNode().address();
    DivertSocket s = bed.host().bind(1234);
    bed.host()
        .addRule(
            DivertRule.parse(
                "output -p udp --dport 7100 filter \"flow.Packets <= 3\" -j DIVERT 1234"));
    try (UdpEndpoint host = bed.hostNode().openUdp(7000);
        UdpEndpoint far = bed.peer().openUdp(7100);
        Reflector r = new Reflector(s)) {
      // host -> peer is packet 1, 3, 5, 7 of the connection; the peer's answers 2, 4, 6, 8
      for (int i = 0; i < 4; i++) {
        passes(host, peer, 7100, far, new byte[] {(byte) i, 1}, "datagram " + i + " to the peer");
        passes(
            far, hostAddress, 7000, host, new byte[] {(byte) i, 2}, "answer " + i + " to the host");
      }
      List<Reflector.Seen> seen = r.seen();
      assertEquals(2, seen.size(), "packets 1 and 3 of the connection, not 5 and 7: " + seen);
      assertEquals(0, seen.get(0).packet()[28]);
      assertEquals(1, seen.get(1).packet()[28]);
      // a second connection starts from 1
      try (UdpEndpoint other = bed.hostNode().openUdp(7002)) {
        other.send(peer, 7100, new byte[] {9, 1});
        assertNotNull(far.receive(WAIT));
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (r.seen().size() < 3 && System.nanoTime() < deadline) {
          Thread.sleep(10);
        }
        assertEquals(3, r.seen().size(), "the other connection's first packet");
      }
      assertTrue(r.errors().isEmpty(), () -> r.errors().toString());
    }
  }

  @Test
  void aWrittenBackPacketResumesAfterACountingInputRuleInMangle() throws Exception {
    bed(FragmentMode.ALWAYS_DEFRAGMENT);
    InetAddress hostAddress = bed.hostNode().address();
    DivertSocket first = bed.host().bind(1234);
    DivertSocket second = bed.host().bind(1235);
    bed.host()
        .addRule(
            DivertRule.parse(
                "input -p udp --dport 7100 filter \"flow.Packets <= 100\" -j DIVERT 1234"));
    bed.host().addRule(DivertRule.parse("input -p udp --dport 7100 -j DIVERT 1235"));
    try (UdpEndpoint host = bed.hostNode().openUdp(7100);
        UdpEndpoint far = bed.peer().openUdp(7000);
        Reflector r1 = new Reflector(first);
        Reflector r2 = new Reflector(second)) {
      for (int i = 0; i < 3; i++) {
        passes(
            far,
            hostAddress,
            7100,
            host,
            new byte[] {(byte) i, 3},
            "datagram " + i + " through both rules");
      }
      // S43: each packet met the counting rule, was written back, and went on to the next rule
      assertEquals(3, r1.seen().size(), () -> r1.seen().toString());
      assertEquals(3, r2.seen().size(), () -> r2.seen().toString());
      assertTrue(r1.errors().isEmpty(), () -> r1.errors().toString());
      assertTrue(r2.errors().isEmpty(), () -> r2.errors().toString());
    }
  }

  @Test
  void perFragmentHostsRefuseTheCountInstallingNothing() throws Exception {
    bed(FragmentMode.PER_FRAGMENT);
    DivertException perFragment =
        assertThrows(
            DivertException.class,
            () ->
                bed.host()
                    .addRule(
                        DivertRule.parse("input filter \"flow.Packets <= 6\" -j DIVERT 1234")));
    assertTrue(perFragment.getMessage().contains("ALWAYS_DEFRAGMENT"), perFragment.getMessage());
    assertEquals(0, bed.host().rules().size());
  }

  @Test
  void theInputChainMovesToMangleWhileAnInputRuleCountsKeepingItsOrder() throws Exception {
    try (Netns ns = Netns.create(Netns.uniqueName("flowin"))) {
      HostOptions o = defragmentingIn(ns);
      try (DivertHost h = new RawSocketProvider().open(o)) {
        h.addRule(DivertRule.parse("input -p udp --dport 7001 -j DIVERT 1234"));
        assertTrue(inputChain(ns, "raw"), "raw PREROUTING while no input rule counts");
        InstalledRule flow =
            h.addRule(DivertRule.parse("input -p udp filter \"flow.Packets <= 3\" -j DIVERT 1234"));
        h.addRule(DivertRule.parse("input -p udp --dport 7002 -j DIVERT 1234"));
        assertFalse(inputChain(ns, "raw"), "moved out of raw");
        assertTrue(inputChain(ns, "mangle"), "into mangle, after conntrack (-200)");
        String mangle = ns.execChecked("iptables-nft-save", "-t", "mangle");
        int a = mangle.indexOf("--dport 7001");
        int b = mangle.indexOf("-m connbytes");
        int c = mangle.indexOf("--dport 7002");
        assertTrue(a >= 0 && a < b && b < c, "the rules keep their order (S43): " + mangle);
        assertEquals(3, h.rules().size());
        flow.remove();
        assertTrue(inputChain(ns, "raw"), "back in raw once no input rule counts");
        assertFalse(inputChain(ns, "mangle"));
      }
      assertFalse(inputChain(ns, "raw"));
      assertFalse(inputChain(ns, "mangle"));
    }
  }

  private static boolean inputChain(Netns ns, String table) throws Exception {
    return ns.execChecked("iptables-nft-save", "-t", table).contains("-j DIVERT4J-INPUT");
  }

  @Test
  void conntrackAccountingIsOffAgainWhenTheLastConnbytesRuleGoes() throws Exception {
    String rule = "output -p udp filter \"flow.Packets <= 6\" -j DIVERT 1234";
    try (Netns ns = Netns.create(Netns.uniqueName("acct"))) {
      assertEquals("0", ns.sysctl(ACCT).trim(), "a new namespace counts nothing");
      HostOptions o = defragmentingIn(ns);
      try (DivertHost h = new RawSocketProvider().open(o)) {
        h.addRule(DivertRule.parse(rule));
        assertEquals("1", ns.sysctl(ACCT).trim(), "xt_connbytes forces accounting on");
      }
      assertEquals("0", ns.sysctl(ACCT).trim(), "off again: no connbytes rule is left");
      // another program's connbytes rule keeps it on
      ns.execChecked(
          "iptables-nft",
          "-A",
          "FORWARD",
          "-m",
          "connbytes",
          "--connbytes",
          "1:2",
          "--connbytes-mode",
          "packets",
          "--connbytes-dir",
          "both",
          "-j",
          "ACCEPT");
      ns.sysctl(ACCT, "0");
      try (DivertHost h = new RawSocketProvider().open(o)) {
        h.addRule(DivertRule.parse(rule));
      }
      assertEquals("1", ns.sysctl(ACCT).trim(), "left on for the other rule");
    }
  }

  @Test
  void aStaticFlowRuleTurnsAccountingOnAndItsRemovalTurnsItOffAgain() throws Exception {
    DivertRule rule = DivertRule.parse("output -p udp filter \"flow.Packets <= 6\" -j DIVERT 1234");
    try (Netns ns = Netns.create(Netns.uniqueName("acct"))) {
      assertEquals("0", ns.sysctl(ACCT).trim(), "a new namespace counts nothing");
      KernelRules.Entry e = KernelRules.add(ns.name(), rule, NoListenerPolicy.PASS_THROUGH);
      assertEquals("1", ns.sysctl(ACCT).trim(), "the static rule counts");
      assertEquals(rule, e.rule().orElseThrow());
      // the next host's close and a cleanup leave it on: the static rule still needs it
      HostOptions o = defragmentingIn(ns);
      try (DivertHost h = new RawSocketProvider().open(o)) {
        h.addRule(rule);
      }
      KernelRules.cleanup(ns.name());
      assertEquals("1", ns.sysctl(ACCT).trim(), "kept for the static rule");
      KernelRules.remove(ns.name(), e.id());
      assertEquals("0", ns.sysctl(ACCT).trim(), "off again: no connbytes rule is left");
      // a host's rule that outlives the static one: the host's close restores it
      KernelRules.Entry again = KernelRules.add(ns.name(), rule, NoListenerPolicy.DROP);
      try (DivertHost h = new RawSocketProvider().open(o)) {
        h.addRule(rule);
        KernelRules.remove(ns.name(), again.id());
        assertEquals("1", ns.sysctl(ACCT).trim(), "kept for the host's rule");
      }
      assertEquals("0", ns.sysctl(ACCT).trim(), "off again with the host's rule");
    }
  }
}
