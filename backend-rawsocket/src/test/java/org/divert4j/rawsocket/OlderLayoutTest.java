package org.divert4j.rawsocket;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.divert4j.DivertRule;
import org.divert4j.NoListenerPolicy;
import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.rawsocket.KernelRules.Entry;
import org.divert4j.rawsocket.KernelRules.OwnerState;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Rules in the layout of versions before 2026-12-07 (the jump from the built-in chain with the
 * {@code divert4j:base} comment, port chain lines with {@code divert4j:port} and {@code
 * divert4j:nolistener} comments, line A with the filter's matches before the mark tests), as a
 * process of such a version leaves them when it is killed: listed and read back, their jump
 * replaced by the bare one at the next write, and removed by cleanup down to the last line.
 */
class OlderLayoutTest {
  /** A host whose process does not run (pid 999999 is above the default pid_max). */
  private static final String OWNER = "divert4j:j1-1:999999:2";

  private static final String OLD_RAW =
      String.join(
          "\n",
          "*raw",
          ":DIVERT4J-INPUT - [0:0]",
          ":DIVERT4J-D4200 - [0:0]",
          "-I PREROUTING 1 -m comment --comment \"divert4j:base\" -j DIVERT4J-INPUT",
          "-A DIVERT4J-INPUT -p udp -m udp --dport 9001 -m bpf --bytecode \"1,6 0 0 65535\""
              + " -m comment --comment \"divert4j-filter udp\" -m mark ! --mark"
              + " 0x40000000/0xc0000000 -m mark ! --mark 0x100000/0x700000 -m comment --comment \""
              + OWNER
              + "\" -j MARK --set-xmark 0x41000000/0xff800000",
          "-A DIVERT4J-INPUT -m mark --mark 0x41000000/0xff800000 -m comment --comment \""
              + OWNER
              + "\" -j DIVERT4J-D4200",
          "-A DIVERT4J-INPUT -m mark --mark 0x61000000/0xff800000 -m comment --comment \""
              + OWNER
              + "\" -j MARK --set-xmark 0x0/0xff800000",
          "-A DIVERT4J-INPUT -m mark --mark 0x60000000/0xe0000000 -m mark ! --mark"
              + " 0x60000000/0xff800000 -m mark ! --mark 0x7f800000/0xff800000 -m comment"
              + " --comment \"divert4j:base\" -j MARK --set-xmark 0x0/0xff800000",
          "-A DIVERT4J-D4200 -m comment --comment \"divert4j:port\" -j NFQUEUE --queue-num 4200",
          "-A DIVERT4J-D4200 -m comment --comment \"divert4j:nolistener\" -j NFQUEUE"
              + " --queue-num 4200",
          "COMMIT",
          "");

  @BeforeEach
  void root() {
    Root.assumeKernel();
  }

  private static String save(Netns ns) throws Exception {
    return Shell.check(
        null,
        Duration.ofSeconds(30),
        Shell.inNetns(ns.path().toString(), List.of("iptables-nft-save", "-t", "raw")));
  }

  private static long count(String save, String prefix) {
    return save.lines().filter(l -> l.startsWith(prefix)).count();
  }

  @Test
  void rulesOfAnOlderVersionAreReadReplacedAndCleanedUp() throws Exception {
    try (Netns ns = Netns.create(Netns.uniqueName("older"))) {
      Shell.check(
          OLD_RAW,
          Duration.ofSeconds(30),
          Shell.inNetns(ns.path().toString(), List.of("iptables-nft-restore", "--noflush")));
      List<Entry> l = KernelRules.list(ns.name());
      assertEquals(1, l.size(), l::toString);
      Entry old = l.get(0);
      assertEquals(OwnerState.DEAD, old.state());
      assertEquals(4200, old.port());
      assertEquals(
          DivertRule.parse("input -4 -p udp --dport 9001 filter \"udp\" -j DIVERT 4200"),
          old.rule().orElse(null));

      // a write of this version replaces the commented jump by the bare one
      Entry st =
          KernelRules.add(
              ns.name(),
              DivertRule.parse("input -p udp --dport 9002 -j DIVERT 4201"),
              NoListenerPolicy.DROP);
      String s = save(ns);
      assertEquals(1, count(s, "-A PREROUTING "), s);
      assertEquals(1, count(s, "-A PREROUTING -j DIVERT4J-INPUT"), s);
      assertFalse(s.contains("divert4j:base\" -j DIVERT4J-INPUT"), s);

      // cleanup removes the dead owner's rule and the port chain only it used, disarmed or not
      KernelRules.Cleanup done = KernelRules.cleanup(ns.name());
      assertEquals(1, done.rules().size(), done::toString);
      assertTrue(String.join("\n", done.other()).contains("DIVERT4J-D4200"), done::toString);
      assertEquals(List.of(st.id()), KernelRules.list(ns.name()).stream().map(Entry::id).toList());
      KernelRules.remove(ns.name(), st.id());
      s = save(ns);
      assertFalse(s.contains("DIVERT4J"), s);
      assertFalse(s.contains("divert4j"), s);
    }
  }
}
