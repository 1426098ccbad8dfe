package org.divert4j.rawsocket.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import java.util.Optional;
import org.divert4j.linux.Iptables;
import org.divert4j.linux.NetnsThread;
import org.divert4j.linux.ProcNet;
import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.Netns;
import org.junit.jupiter.api.Test;

/**
 * Skipping the iptables-legacy-save of a family without legacy tables finds the same mark uses as
 * running it, and a legacy rule is still found once its table exists (root, iptables-nft and
 * iptables-legacy only).
 */
class ForeignMarkUsesTest {
  @Test
  void legacySavesAreSkippedOnlyWhenTheyWouldPrintNothing() throws Exception {
    assumeTrue(Shell.isRoot(), "needs root");
    Optional<Iptables> nft = Iptables.detect("nft");
    assumeTrue(nft.isPresent() && nft.get().nftables(), "needs iptables-nft");
    assumeTrue(
        Shell.which("iptables-legacy").isPresent() && Shell.which("ip6tables-legacy").isPresent(),
        "needs iptables-legacy");
    try (Netns ns = Netns.create(Netns.uniqueName("marks"));
        NetnsThread t = NetnsThread.open(ns.path().toString(), "marks")) {
      RuleSet rules = new RuleSet(nft.get(), ns.path().toString(), t.inode(), Marks.DEFAULT);
      assertEquals(List.of(), t.run(() -> ProcNet.legacyTables(false)), "a new namespace");
      assertEquals(List.of(), t.run(() -> ProcNet.legacyTables(true)));
      assertEquals(rules.foreignMarkUses(null), rules.foreignMarkUses(t));
      ns.execChecked(
          "iptables-legacy",
          "-t",
          "mangle",
          "-A",
          "OUTPUT",
          "-j",
          "MARK",
          "--set-mark",
          "0x40000000");
      ns.execChecked(
          "ip6tables-legacy",
          "-t",
          "raw",
          "-A",
          "OUTPUT",
          "-m",
          "mark",
          "--mark",
          "0x20000000",
          "-j",
          "ACCEPT");
      assertEquals(List.of("mangle"), t.run(() -> ProcNet.legacyTables(false)));
      assertEquals(List.of("raw"), t.run(() -> ProcNet.legacyTables(true)));
      List<MarkOverlap.Use> uses = rules.foreignMarkUses(t);
      assertEquals(rules.foreignMarkUses(null), uses);
      assertEquals(2, uses.size(), uses::toString);
      assertTrue(uses.get(0).rule().contains("--set-xmark 0x40000000"), uses::toString);
      assertTrue(uses.get(1).family().startsWith("ip6tables"), uses::toString);
    }
  }
}
