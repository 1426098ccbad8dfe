package org.divert4j.rawsocket;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.HostOptions;
import org.divert4j.linux.Shell;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Rules that divert4j did not install stay as they are, even when their comment imitates divert4j's
 * ({@code divert4j:<host>:<dead pid>:<tag>}, {@code divert4j:base}, a static owner): {@code divert
 * rules cleanup} ({@link KernelRules#cleanup}) and a host's open, rules and close never remove or
 * change them.
 */
class ForeignRulesTest {
  /** Another program's rules, in the tables and built-in chains divert4j also uses, and filter. */
  private static final List<String[]> FOREIGN =
      List.of(
          new String[] {
            "raw",
            "-A PREROUTING -p udp --dport 9991 -m comment --comment \"divert4j:ghost:999999:probe\" -j ACCEPT"
          },
          new String[] {
            "raw",
            "-A OUTPUT -p udp --dport 9992 -m comment --comment \"divert4j:ghost:999999:7\" -j NOTRACK"
          },
          new String[] {
            "mangle",
            "-A OUTPUT -p tcp --dport 9993 -m comment --comment \"divert4j:ghost:999999:defrag\" -j MARK --set-xmark 0x7/0xffffffff"
          },
          new String[] {
            "mangle",
            "-A PREROUTING -p udp --dport 9994 -m comment --comment \"divert4j:static:0:3\" -j NFQUEUE --queue-num 9994"
          },
          new String[] {
            "mangle",
            "-A FORWARD -p udp --dport 9995 -m comment --comment \"divert4j:base\" -j NFQUEUE --queue-num 9995"
          },
          new String[] {
            "filter",
            "-A INPUT -p udp --dport 9996 -m comment --comment \"divert4j:ghost:999999:1\" -j DROP"
          });

  @BeforeEach
  void root() {
    Root.assumeKernel();
  }

  private static String save(String ns) throws Exception {
    return Shell.check(
        null,
        Duration.ofSeconds(30),
        Shell.inNetns("/var/run/netns/" + ns, List.of("iptables-nft-save")));
  }

  /** The foreign lines as iptables-save prints them (counters aside), in order. */
  private static List<String> foreignLines(String ns) throws Exception {
    List<String> out = new ArrayList<>();
    for (String line : save(ns).split("\n")) {
      if (line.matches(".*--dport 999[1-6] .*")) {
        out.add(line.replaceFirst("^\\[\\d+:\\d+\\] ", ""));
      }
    }
    return out;
  }

  @Test
  void cleanupAndHostsLeaveRulesThatImitateOurCommentsAlone() throws Exception {
    try (TestBed bed = new RawSocketProvider().testBed(TestBedOptions.defaults())) {
      String ns = bed.host().options().property("rawsocket.netns", null);
      for (String[] f : FOREIGN) {
        List<String> cmd = List.of("sh", "-c", "iptables-nft -t " + f[0] + " " + f[1]);
        Shell.check(null, Duration.ofSeconds(30), Shell.inNetns("/var/run/netns/" + ns, cmd));
      }
      List<String> before = foreignLines(ns);
      assertEquals(FOREIGN.size(), before.size(), "installed: " + save(ns));

      KernelRules.Cleanup dry = KernelRules.cleanup(ns, true);
      assertTrue(dry.isEmpty(), "nothing of another program is divert4j's to clean: " + dry);
      KernelRules.cleanup(ns, false);
      assertEquals(before, foreignLines(ns), "after divert rules cleanup");

      try (DivertHost h = bed.openAnotherHost(HostOptions.defaults())) {
        h.addRule(DivertRule.parse("input -p udp --dport 7000 -j DIVERT 4000"));
        h.addRule(DivertRule.parse("output -p udp --dport 7000 -j DIVERT 4000"));
        h.bind(4000).close();
        assertEquals(before, foreignLines(ns), "while a host has rules");
      }
      assertEquals(before, foreignLines(ns), "after a host opened and closed");
      assertTrue(KernelRules.list(ns).isEmpty(), "none of them is listed as a divert rule");
    }
  }
}
