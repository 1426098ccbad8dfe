package org.divert4j.rawsocket.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.divert4j.Chain;
import org.divert4j.DivertRule;
import org.divert4j.NoListenerPolicy;
import org.divert4j.linux.Iptables;
import org.divert4j.linux.NetnsThread;
import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.Netns;
import org.junit.jupiter.api.Test;

/**
 * The counters read over netlink ({@link NftCounters}) against iptables-nft-save's, in a namespace
 * of its own after real traffic through rules of the current layout (written by {@link RuleSet})
 * and of the older one (commented port chain lines), in both families (root and iptables-nft only).
 */
class NftCountersTest {
  /** An older version's port chain: the no-listener line is the commented one, not the last. */
  private static final String OLD_PORT_CHAIN =
      String.join(
          "\n",
          "*raw",
          ":DIVERT4J-D4200 - [0:0]",
          "-A PREROUTING -p udp --dport 4200 -j DIVERT4J-D4200",
          "-A DIVERT4J-D4200 -m comment --comment \"divert4j:nolistener\" -j NFQUEUE"
              + " --queue-num 4200",
          "-A DIVERT4J-D4200 -m comment --comment \"divert4j:port\" -j NFQUEUE --queue-num 4200",
          "COMMIT",
          "");

  @Test
  void netlinkCountsWhatIptablesSaveCounts() throws Exception {
    assumeTrue(Shell.isRoot(), "needs root");
    Optional<Iptables> found = Iptables.detect("nft");
    assumeTrue(
        found.isPresent() && found.get().version().contains("nf_tables"), "needs iptables-nft");
    Iptables ipt = found.get();
    try (Netns ns = Netns.create(Netns.uniqueName("nftcount"));
        NetnsThread t = NetnsThread.open(ns.path().toString(), "nftcount")) {
      String path = ns.path().toString();
      RuleSet rules = new RuleSet(ipt, path, t.inode(), Marks.DEFAULT);
      assertEquals(true, rules.nft());
      RuleState s = rules.load();
      String owner = "divert4j:nftcount:" + ProcessHandle.current().pid() + ":";
      String[] rs = {
        "output -p udp --dport 9000 -j DIVERT 9000",
        "output -p udp --dport 9001 -j DIVERT 9001",
        "input -p udp --dport 9001 -j DIVERT 9001"
      };
      for (int i = 0; i < rs.length; i++) {
        DivertRule r = DivertRule.parse(rs[i]);
        NoListenerPolicy p =
            r.port() == 9000 ? NoListenerPolicy.DROP : NoListenerPolicy.PASS_THROUGH;
        RuleSet.addRule(
            s,
            Marks.DEFAULT,
            r,
            i + 1,
            owner + (i + 1),
            RuleText.portChain(p, r.port(), 1),
            null,
            0);
      }
      rules.store(s, Set.of());
      Shell.check(
          OLD_PORT_CHAIN,
          Duration.ofSeconds(30),
          Shell.inNetns(path, List.of("iptables-nft-restore", "--noflush")));
      // a bare rule (no match, no target) after the no-listener line: iptables-save prints it as
      // "-A DIVERT4J-D9000" alone, which RuleSet.parse leaves out, so the netlink reading must too
      ns.execChecked("iptables-nft", "-t", "mangle", "-A", "DIVERT4J-D9000");
      t.run(
          () -> {
            send("127.0.0.1", 9000, 3);
            send("127.0.0.1", 9001, 5);
            send("127.0.0.1", 4200, 7);
            send("::1", 9000, 2);
            send("::1", 9001, 4);
            return null;
          });

      RuleState saved = rules.load();
      RuleState read = new NftCounters(t, rules.ipv6()).read();
      assertNotNull(read, "netlink gives a whole state");
      assertEquals(describe(saved), describe(read));
      for (boolean drop : new boolean[] {true, false}) {
        for (Set<Integer> ports : List.of(Set.of(9000), Set.of(9001), Set.of(4200), Set.of(1))) {
          assertEquals(
              RuleCounts.noListenerPackets(saved, ports, drop),
              RuleCounts.noListenerPackets(read, ports, drop),
              "no-listener " + ports + " drop=" + drop);
        }
      }
      for (int port : new int[] {9000, 9001, 4200}) {
        assertEquals(
            RuleCounts.queuedPackets(saved, port), RuleCounts.queuedPackets(read, port), "" + port);
      }
      assertEquals(5, RuleCounts.noListenerPackets(read, Set.of(9000), true), "3 + 2 dropped");
      assertEquals(5, RuleCounts.queuedPackets(read, 9000), "3 + 2 sent to port 9000");
      assertEquals(7, RuleCounts.noListenerPackets(read, Set.of(4200), true), "older layout");
      assertEquals(true, RuleCounts.noListenerPackets(read, Set.of(9001), false) >= 9);
      assertThrows(IllegalStateException.class, () -> rules.store(read, Set.of()));
    }
  }

  private static void send(String to, int port, int n) throws Exception {
    try (DatagramSocket d = new DatagramSocket()) {
      byte[] b = {1, 2, 3};
      for (int i = 0; i < n; i++) {
        d.send(new DatagramPacket(b, b.length, InetAddress.getByName(to), port));
      }
    }
  }

  /**
   * What the counting reads of a state: each chain's lines in order, and each rule's group (chains
   * sorted by name: the sums do not depend on the order iptables-save declares them in).
   */
  private static String describe(RuleState s) {
    List<String> out = new ArrayList<>();
    for (RuleState f : s.families()) {
      for (RuleTable tb : List.of(f.raw, f.mangle)) {
        for (Map.Entry<String, List<RuleLine>> e : new TreeMap<>(tb.chains).entrySet()) {
          for (RuleLine l : e.getValue()) {
            out.add(tb.name + " " + e.getKey() + " " + l.packets() + " " + l.comment);
          }
        }
      }
      for (Chain c : Chain.values()) {
        for (RuleGroup g : f.groups(c)) {
          out.add(c + " " + g.comment() + " " + g.portChain() + " " + g.lines().size());
        }
      }
    }
    return String.join("\n", out);
  }
}
