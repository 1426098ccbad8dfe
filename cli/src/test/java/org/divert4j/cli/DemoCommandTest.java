package org.divert4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code divert demo} end to end on the simulation, and its bad input. */
class DemoCommandTest {
  /** The expected output the README shows; regenerate with {@code ./divert demo > docs/...}. */
  static final Path GOLDEN = Path.of("..", "docs", "demo-output.txt");

  @Test
  void runsToCompletionAndSummarisesEachRule() {
    Cli.Result r = Cli.run("demo");
    assertEquals(ExitCodes.OK, r.status(), r::toString);
    assertEquals("", r.err());
    List<String> lines = r.outLines();
    assertEquals("divert demo on the sim backend", lines.get(0));
    // The summary: per rule, diverted / reinjected / dropped / changed, and what it showed.
    int at = lines.indexOf("== Summary: what each rule showed ==");
    assertTrue(at > 0, r::toString);
    assertEquals(
        List.of(
            "== Summary: what each rule showed ==",
            "(counts from the program, the socket and host statistics)",
            "      rule                             diverted reinjected dropped changed",
            "  1   input -p icmp -j DIVERT 1234            6          5       1       0",
            "  1   input -p udp -j DIVERT 1234             2          1       1       1",
            "        socket 1234: received 8, written back 6, dropped by the program 2, other drops 0",
            "  2   input -p udp -j DIVERT 1234             3          3       0       0",
            "        one datagram, delivered as its fragments",
            "  3   input -p udp -j DIVERT 1234             1          1       0       0",
            "        one datagram, reassembled by the host (1 reassembled)",
            "  4   (no rule: the program injects)",
            "        2 injected, 1 refused as too large",
            "  5   input -p icmp -j DIVERT 4321            0",
            "        drop: 1 dropped for no listener",
            "  5   input -p icmp -j DIVERT 4321            0",
            "        pass-through: 1 passed through",
            "  6   input -6 -p udp -j DIVERT 1234          3          3       0       0",
            "        IPv6, per-fragment: delivered as its fragments (S57)",
            "  6   input -6 -p udp -j DIVERT 1234          1          1       0       0",
            "        IPv6, always-defragment: reassembled, no Fragment header (S58)",
            "  6   (no rule: the program injects IPv6)",
            "        1 injected, 1 refused as too large (S59)",
            ""),
        lines.subList(at, lines.size() - 1));
    assertEquals("Every step behaved as SEMANTICS.md says.", lines.get(lines.size() - 1));
  }

  @Test
  void theTraceShowsEachPartOfTheStory() {
    String out = Cli.run("demo").out();
    for (String s :
        List.of(
            "  input  in  eth0  10.0.1.2 > 10.0.1.1 ICMP echo request id=4660 seq=3 len=84  -> drop",
            "    peer: no reply to seq=3",
            "UDP len=39 \"hello, host\"  -> change, reinject\n      changed 'h' to 'H', fixed the UDP checksum",
            "    host: received \"Hello, host\" from 10.0.1.2:40000",
            "  input  in  eth1  10.0.2.2 > 10.0.1.2 ICMP echo reply id=4660 seq=5 len=84  -> reinject",
            "UDP frag id=2 off=1480 MF len=1500  -> reinject",
            "    3 deliveries to the program; host: received all 3972 bytes intact",
            "  input  in  eth0  10.0.1.2:40000 > 10.0.1.1:7777 UDP len=4000  -> reinject",
            "    1 delivery to the program; host: received all 3972 bytes intact",
            "  inject 1501 bytes: refused:\n    packet too large: 1501 bytes exceeds the MTU of 1500",
            "  inject 1500 bytes: sent; peer received 1472 bytes of data",
            "  inject 4000 bytes: sent as 3 fragments of at most 1500 bytes",
            "  no-listener=drop:         peer pings the host: no reply",
            "  no-listener=pass-through: peer pings the host: reply",
            "UDP ext=frag frag id=3320297155 off=1448 MF len=1496  -> reinject",
            "    3 deliveries to the program; host: received all 2952 bytes intact",
            "  input  in  eth0  [fd00:1::2]:40000 > [fd00:1::1]:7777 UDP len=3000  -> reinject",
            "    1 delivery to the program; host: received all 2952 bytes intact",
            "  inject 1501 bytes: refused:\n    packet too large: 1501 bytes exceeds the MTU of 1500"
                + " (egress interface eth0, PER_FRAGMENT mode)\n"
                + "  inject 1500 bytes: sent; peer received 1452 bytes of data")) {
      assertTrue(out.contains(s), "missing: " + s + "\n" + out);
    }
  }

  @Test
  void isDeterministicAndMatchesTheDocumentedOutput() throws Exception {
    String first = Cli.run("demo").out();
    String second = Cli.run("demo").out();
    assertEquals(first, second, "the demo prints the same on every run");
    String documented = Files.readString(GOLDEN, StandardCharsets.UTF_8);
    assertEquals(
        documented,
        first,
        "docs/demo-output.txt is out of date: regenerate it with ./divert demo > docs/demo-output.txt");
  }

  @Test
  void takesTheHostOptions() {
    Cli.Result r = Cli.run("demo", "--queue-length", "16", "--fail-open", "--no-listener", "drop");
    assertEquals(ExitCodes.OK, r.status(), r::toString);
    assertTrue(
        r.out()
            .contains(
                "  host options: fragments=per-fragment, no-listener=drop, queue 16, fail-open\n"),
        r::toString);
  }

  @Test
  void anUnknownBackendIsAUsageError() {
    Cli.Result r = Cli.run("demo", "--backend", "nosuch");
    assertEquals(ExitCodes.USAGE, r.status());
    assertEquals(
        List.of(
            "divert demo: unknown backend 'nosuch': the backends on the class path are "
                + Backends.names(org.divert4j.Divert.providers())
                + " (see 'divert backends')"),
        r.errLines());
    assertEquals("", r.out());
  }

  @Test
  void missingPrivilegesAreNamed() {
    Cli.Result r = Cli.run("demo", "--property", "sim.privileges=none");
    assertEquals(ExitCodes.UNAVAILABLE, r.status());
    assertEquals(1, r.errLines().size(), r::toString);
    assertTrue(
        r.err()
            .startsWith(
                "divert demo: permission denied: open a divert host on the simulation needs"
                    + " CAP_NET_ADMIN and CAP_NET_RAW"),
        r::toString);
    assertTrue(r.err().contains("run it as root"), r::toString);
  }

  @Test
  void badHostOptionsAreUsageErrors() {
    for (String[] args :
        List.of(
            new String[] {"demo", "--fragments", "sometimes"},
            new String[] {"demo", "--no-listener", "maybe"},
            new String[] {"demo", "--queue-length", "0"},
            new String[] {"demo", "--queue-length", "65536"},
            new String[] {"demo", "-P", "novalue"})) {
      Cli.Result r = Cli.run(args);
      assertEquals(ExitCodes.USAGE, r.status(), r::toString);
      assertEquals(1, r.errLines().size(), r::toString);
      assertTrue(r.err().startsWith("divert demo: "), r::toString);
    }
    assertTrue(
        Cli.run("demo", "--fragments", "sometimes")
            .err()
            .contains("unknown fragment mode 'sometimes': use always-defragment or per-fragment"));
  }

  @Test
  void fragmentModesAreSpelledAsInTheHelpInAnyCase() {
    Cli.Result r =
        Cli.run("demo", "--fragments", "ALWAYS_DEFRAGMENT", "--no-listener", "Pass-Through");
    assertEquals(ExitCodes.OK, r.status(), r::toString);
    assertTrue(
        r.out()
            .contains(
                "  host options: fragments=always-defragment, no-listener=pass-through, queue 1024\n"),
        r::toString);
  }
}
