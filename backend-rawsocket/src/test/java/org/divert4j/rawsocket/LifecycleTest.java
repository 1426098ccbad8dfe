package org.divert4j.rawsocket;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.PermissionException;
import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Opening, closing, crashing: no rule, queue or namespace is left behind (S46, S51). */
class LifecycleTest {
  @BeforeEach
  void root() {
    Root.assumeKernel();
  }

  /** Every iptables rule of a namespace, nft and legacy. */
  private static String rules(String nsPath) throws Exception {
    StringBuilder sb = new StringBuilder();
    for (String save : List.of("iptables-nft-save", "iptables-legacy-save")) {
      if (org.divert4j.linux.Shell.which(save).isPresent()) {
        sb.append(
            org.divert4j.linux.Shell.check(
                null, java.time.Duration.ofSeconds(30), Shell.inNetns(nsPath, List.of(save))));
      }
    }
    return sb.toString();
  }

  private static String rules(Netns ns) throws Exception {
    return rules(ns.path().toString());
  }

  private static String rulesOf(String nsName) throws Exception {
    return rules("/var/run/netns/" + nsName);
  }

  @Test
  void closeRemovesExactlyItsOwnRulesAndTheBedItsNamespaces() throws Exception {
    String nsName;
    try (TestBed bed = new RawSocketProvider().testBed(TestBedOptions.defaults())) {
      nsName = bed.host().options().property("rawsocket.netns", null);
      DivertHost other = bed.openAnotherHost(HostOptions.defaults());
      bed.host().addRule(DivertRule.parse("input -p icmp -j DIVERT 1"));
      other.addRule(DivertRule.parse("input -p udp -j DIVERT 2"));
      other.addRule(DivertRule.parse("output -p udp -j DIVERT 2"));
      String before = rulesOf(nsName);
      assertTrue(before.contains("divert4j:" + bed.host().name() + ":"));
      assertTrue(before.contains("divert4j:" + other.name() + ":"));
      other.close();
      String after = rulesOf(nsName);
      assertTrue(after.contains("divert4j:" + bed.host().name() + ":"), after);
      assertFalse(after.contains("divert4j:" + other.name() + ":"), after);
      assertFalse(after.contains("DIVERT4J-OUTPUT"), "an emptied chain goes with its jump");
      assertFalse(other.rules().iterator().hasNext());
      bed.host().close();
      String none = rulesOf(nsName);
      assertFalse(none.contains("divert4j"), none);
      assertFalse(none.contains("DIVERT4J"), none);
    }
    assertFalse(Netns.list().contains(nsName), "the test bed deletes its namespaces");
  }

  @Test
  void unprivilegedOpenNamesTheMissingCapabilities() throws Exception {
    try (TestBed bed = new RawSocketProvider().testBed(TestBedOptions.defaults())) {
      PermissionException e =
          assertThrows(
              PermissionException.class, () -> bed.openUnprivileged(HostOptions.defaults()));
      assertEquals(List.of("CAP_NET_ADMIN", "CAP_NET_RAW"), e.missing());
      assertTrue(e.getMessage().contains("CAP_NET_ADMIN"), e.getMessage());
    }
  }

  @Test
  void perFragmentIsRefusedWhereConntrackIsActive() throws Exception {
    try (Netns ns = Netns.create(Netns.uniqueName("ct"))) {
      ns.execChecked(
          "iptables-nft", "-A", "INPUT", "-m", "conntrack", "--ctstate", "NEW", "-j", "ACCEPT");
      HostOptions o = HostOptions.builder().property("rawsocket.netns", ns.name()).build();
      DivertException e =
          assertThrows(DivertException.class, () -> new RawSocketProvider().open(o));
      assertTrue(e.getMessage().contains("PER_FRAGMENT"), e.getMessage());
      assertFalse(rules(ns).contains("divert4j"), "a refused open leaves nothing behind");
      try (DivertHost h =
          new RawSocketProvider()
              .open(o.toBuilder().fragments(FragmentMode.ALWAYS_DEFRAGMENT).build())) {
        h.addRule(DivertRule.parse("input -p icmp -j DIVERT 5"));
      }
      assertFalse(rules(ns).contains("divert4j"));
    }
  }

  /**
   * S51 for exact inbound injection: the veth pair a host made to inject inbound (IngressPath) goes
   * with the host's close, and a killed JVM's pair is deleted by the next host opened in the
   * namespace.
   */
  @Test
  void theInjectionPairGoesWithItsHostAndAKilledJvmsWithTheNextOpen() throws Exception {
    try (Netns ns = Netns.create(Netns.uniqueName("inject"))) {
      ns.ip("link", "add", "v0", "type", "veth", "peer", "name", "v1");
      ns.ip("addr", "add", "10.254.0.2/24", "dev", "v0");
      ns.ip("link", "set", "v0", "up");
      ns.ip("link", "set", "v1", "up");
      String ready;
      try (HostChild child = HostChild.start(CrashChild.class, ns.name(), "10.254.0.2")) {
        ready = child.host();
        assertTrue(ready != null, "the child opened a host and injected");
        assertTrue(
            ns.ip("-o", "link", "show").contains("alias divert4j:" + ready + ":" + child.pid()),
            "the child's injection pair exists: " + ns.ip("-o", "link", "show"));
        assertTrue(child.kill());
      }
      assertTrue(ns.ip("-o", "link", "show").contains("alias divert4j:" + ready + ":"));
      HostOptions o = HostOptions.builder().property("rawsocket.netns", ns.name()).build();
      try (DivertHost h = new RawSocketProvider().open(o)) {
        String links = ns.ip("-o", "link", "show");
        assertFalse(links.contains("divert4j:"), "the dead JVM's pair is deleted: " + links);
        try (org.divert4j.DivertSocket s = h.bind(4444)) {
          byte[] p = new byte[28];
          p[0] = 0x45;
          p[3] = 28;
          p[8] = 64;
          p[9] = 17;
          System.arraycopy(new byte[] {(byte) 192, 0, 2, 1, 10, (byte) 254, 0, 2}, 0, p, 12, 8);
          p[21] = 9;
          p[23] = 9;
          p[25] = 8;
          s.send(
              java.nio.ByteBuffer.wrap(p),
              org.divert4j.DivertAddress.inbound(
                  (java.net.Inet4Address) java.net.InetAddress.getByName("10.254.0.2")));
        }
        assertTrue(
            ns.ip("-o", "link", "show").contains("alias divert4j:" + h.name() + ":"),
            "this host's own pair exists while it is open");
      }
      String after = ns.ip("-o", "link", "show");
      assertFalse(after.contains("divert4j:"), "closing the host deletes its pair: " + after);
      assertEquals(List.of("lo", "v0", "v1"), linkNames(after), after);
    }
  }

  private static List<String> linkNames(String ipOLink) {
    List<String> names = new java.util.ArrayList<>();
    for (String l : ipOLink.split("\n")) {
      String[] f = l.split(":", 3);
      if (f.length == 3) {
        String d = f[1].trim();
        names.add(d.indexOf('@') > 0 ? d.substring(0, d.indexOf('@')) : d);
      }
    }
    java.util.Collections.sort(names);
    return names;
  }

  @Test
  void rulesOfAKilledJvmAreRemovedByTheNextOpen() throws Exception {
    try (Netns ns = Netns.create(Netns.uniqueName("crash"))) {
      String ready;
      try (HostChild child = HostChild.start(CrashChild.class, ns.name())) {
        ready = child.host();
        assertTrue(ready != null, "the child opened a host");
        String live = rules(ns);
        assertTrue(live.contains("divert4j:" + ready + ":" + child.pid() + ":"), live);
        assertTrue(child.kill()); // SIGKILL: no shutdown hook, no close
      }
      String orphaned = rules(ns);
      assertTrue(orphaned.contains("divert4j:" + ready + ":"), "a killed JVM leaves its rules");
      HostOptions o = HostOptions.builder().property("rawsocket.netns", ns.name()).build();
      try (DivertHost h = new RawSocketProvider().open(o)) {
        String cleaned = rules(ns);
        assertFalse(cleaned.contains("divert4j:" + ready + ":"), cleaned);
        assertFalse(cleaned.contains("DIVERT4J"), cleaned);
        h.bind(4444).close(); // its queue died with it
      }
    }
  }
}
