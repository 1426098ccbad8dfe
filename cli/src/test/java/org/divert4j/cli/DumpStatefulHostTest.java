package org.divert4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.rawsocket.RawSocketProvider;
import org.divert4j.spi.Availability;
import org.junit.jupiter.api.Test;

/**
 * Issue 16, stateful hosts: on a namespace where connection tracking is in use (so the kernel
 * reassembles before the rules), {@code divert dump} without {@code --fragments} opens in
 * always-defragment mode and says why in one line; with {@code --fragments per-fragment} it still
 * refuses with the kernel backend's explanation.
 */
class DumpStatefulHostTest {
  @Test
  void aStatefulHostGetsAlwaysDefragmentWithOneLineWhy() throws Exception {
    assumeTrue(Shell.isRoot(), "needs root for a network namespace and iptables");
    Availability a = new RawSocketProvider().availability();
    assumeTrue(a.available(), () -> "rawsocket unavailable: " + a.reason());
    try (Netns ns = Netns.create(Netns.uniqueName("stateful"))) {
      ns.exec("ip", "link", "set", "lo", "up");
      // what a stateful firewall does: any conntrack match turns nf_defrag_ipv4 on here
      Shell.Result ct =
          ns.exec(
              "iptables", "-A", "INPUT", "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP");
      assumeTrue(ct.ok(), () -> "no conntrack match here: " + ct.describe());

      Cli.Result r =
          Cli.run(
              "dump",
              "--backend",
              "rawsocket",
              "--netns",
              ns.name(),
              "--rule",
              "input icmp",
              "--duration",
              "200ms");
      assertEquals(ExitCodes.OK, r.status(), r::toString);
      assertTrue(
          r.errLines().get(0).startsWith("dump: using --fragments always-defragment: this host"),
          r::toString);

      Cli.Result refused =
          Cli.run(
              "dump",
              "--backend",
              "rawsocket",
              "--netns",
              ns.name(),
              "--fragments",
              "per-fragment",
              "--rule",
              "input icmp",
              "--duration",
              "200ms");
      assertTrue(refused.status() != ExitCodes.OK, refused::toString);
      assertTrue(refused.err().contains("PER_FRAGMENT diversion is impossible"), refused::toString);
    }
  }
}
