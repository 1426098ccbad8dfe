package org.divert4j.rawsocket;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.linux.testbed.Netns;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The backend applies the reassembly options itself (S24): an ALWAYS_DEFRAGMENT host sets its
 * namespace's {@code ipfrag_*} sysctls, hosts that disagree are refused, and the values it replaced
 * come back when the last such host closes or, after a crash, when the next host opens (S51).
 */
class ReassemblyLimitsTest {
  @BeforeEach
  void root() {
    Root.assumeKernel();
  }

  private static List<Long> limits(Netns ns) throws Exception {
    return List.of(
        Long.parseLong(ns.sysctl("net.ipv4.ipfrag_time").trim()),
        Long.parseLong(ns.sysctl("net.ipv4.ipfrag_high_thresh").trim()),
        Long.parseLong(ns.sysctl("net.ipv4.ipfrag_low_thresh").trim()));
  }

  /** nf_defrag_ipv6's own limits (nf_conntrack_reasm.c), set alongside IPv4's. */
  private static List<Long> limits6(Netns ns) throws Exception {
    return List.of(
        Long.parseLong(ns.sysctl("net.netfilter.nf_conntrack_frag6_timeout").trim()),
        Long.parseLong(ns.sysctl("net.netfilter.nf_conntrack_frag6_high_thresh").trim()),
        Long.parseLong(ns.sysctl("net.netfilter.nf_conntrack_frag6_low_thresh").trim()));
  }

  private static HostOptions defrag(Netns ns, Duration timeout, long memory) {
    return HostOptions.builder()
        .property("rawsocket.netns", ns.name())
        .fragments(FragmentMode.ALWAYS_DEFRAGMENT)
        .reassemblyTimeout(timeout)
        .reassemblyMemory(memory)
        .build();
  }

  private static String rules(Netns ns) throws Exception {
    return ns.execChecked("iptables-save", "-t", "raw");
  }

  @Test
  void aHostSetsItsLimitsAndTheLastOneOutRestoresThem() throws Exception {
    try (Netns ns = Netns.create(Netns.uniqueName("reasm"))) {
      List<Long> original = limits(ns);
      List<Long> original6 = limits6(ns);
      RawSocketProvider p = new RawSocketProvider();
      DivertHost a = p.open(defrag(ns, Duration.ofMillis(2500), 1 << 20));
      assertEquals(List.of(3L, 1L << 20, 786432L), limits(ns), "rounded up to whole seconds");
      assertEquals(List.of(3L, 1L << 20, 786432L), limits6(ns), "IPv6 reassembly too (S58)");
      DivertHost same = p.open(defrag(ns, Duration.ofSeconds(3), 1 << 20));
      DivertException e =
          assertThrows(
              DivertException.class, () -> p.open(defrag(ns, Duration.ofSeconds(5), 1 << 20)));
      assertTrue(
          e.getMessage().contains(a.name()) || e.getMessage().contains(same.name()),
          e.getMessage());
      assertTrue(e.getMessage().contains("reassembly"), e.getMessage());
      a.close();
      assertEquals(List.of(3L, 1L << 20, 786432L), limits(ns), "another host still needs them");
      same.close();
      assertEquals(original, limits(ns), "restored when the last host closed");
      assertEquals(original6, limits6(ns), "IPv6's restored too");
      String left = rules(ns);
      assertTrue(!left.contains("divert4j"), left);
      DivertHost perFragment =
          p.open(HostOptions.builder().property("rawsocket.netns", ns.name()).build());
      assertEquals(original, limits(ns), "PER_FRAGMENT hosts leave the limits alone");
      perFragment.close();
    }
  }

  @Test
  void theNextHostRestoresWhatACrashedHostChanged() throws Exception {
    try (Netns ns = Netns.create(Netns.uniqueName("reasm"))) {
      List<Long> original = limits(ns);
      List<Long> original6 = limits6(ns);
      try (HostChild child = HostChild.start(LimitsChild.class, ns.name(), "7", "2097152")) {
        assertNotNull(child.host(), "the child opened a host");
        assertEquals(List.of(7L, 2097152L, 1572864L), limits(ns));
        assertEquals(List.of(7L, 2097152L, 1572864L), limits6(ns));
        assertTrue(child.kill()); // SIGKILL: no close runs
      }
      assertEquals(List.of(7L, 2097152L, 1572864L), limits(ns), "nobody restored them yet");
      new RawSocketProvider()
          .open(HostOptions.builder().property("rawsocket.netns", ns.name()).build())
          .close();
      assertEquals(original, limits(ns), "the next host's open restored them");
      assertEquals(original6, limits6(ns), "IPv6's as well");
      String left = rules(ns);
      assertTrue(!left.contains("divert4j"), left);
    }
  }
}
