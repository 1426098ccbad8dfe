package org.divert4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.time.Duration;
import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.linux.testbed.UnprivilegedJava;
import org.junit.jupiter.api.Test;

/**
 * {@code divert rules} and {@code divert dump} run by a real unprivileged user (a child JVM as
 * {@code nobody} with no capabilities, in a namespace made here): every command that needs a
 * capability exits with status 3 (unavailable) and one line that names it, and changes nothing.
 * Root only.
 */
class UnprivilegedCliTest {

  @Test
  void privilegedCommandsNameTheMissingCapabilities() throws Exception {
    String why = UnprivilegedJava.unavailableReason();
    if (why != null) {
      System.out.println("cli unprivileged-user test skipped: " + why);
    }
    assumeTrue(why == null, () -> "skipped: " + why);
    try (Netns ns = Netns.create(Netns.uniqueName("unpriv"));
        UnprivilegedJava child = UnprivilegedJava.prepare(System.getProperty("java.class.path"))) {
      ns.ip("link", "add", "d4jout", "type", "veth", "peer", "name", "d4jin");
      ns.ip("link", "set", "d4jout", "up");
      ns.ip("link", "set", "d4jin", "up");
      String before = ns.execChecked("iptables-save");
      String[][] rawsocket = {
        {"rules", "list"},
        {"rules", "add", "input -p icmp -j DIVERT 1234"},
        {"rules", "remove", "1"},
        {"rules", "cleanup"},
        {"dump", "--backend", "rawsocket", "--rule", "input icmp", "--port", "1234", "-c", "1"},
      };
      for (String[] args : rawsocket) {
        Shell.Result r = child.run(ns, Duration.ofSeconds(120), Main.class.getName(), args);
        String line = String.join(" ", args) + " -> " + r.exitCode() + ": " + r.stderr().strip();
        System.out.println("unprivileged divert " + line);
        assertEquals(ExitCodes.UNAVAILABLE, r.exitCode(), line);
        assertTrue(r.stderr().contains("CAP_NET_ADMIN"), line);
        assertTrue(r.stderr().contains("CAP_NET_RAW"), line);
        assertEquals(1, r.stderr().strip().lines().count(), "one line: " + line);
      }
      Shell.Result r =
          child.run(
              ns,
              Duration.ofSeconds(120),
              Main.class.getName(),
              "dump",
              "--backend",
              "pcap",
              "-P",
              "pcap.outside=d4jout",
              "-P",
              "pcap.inside=d4jin",
              "--rule",
              "input icmp",
              "-c",
              "1");
      String line = "dump --backend pcap -> " + r.exitCode() + ": " + r.stderr().strip();
      System.out.println("unprivileged divert " + line);
      assertEquals(ExitCodes.UNAVAILABLE, r.exitCode(), line);
      assertTrue(r.stderr().contains("CAP_NET_RAW"), line);
      assertEquals(before, ns.execChecked("iptables-save"), "nothing changed");
      assertFalse(before.contains("divert4j"));
    }
  }
}
