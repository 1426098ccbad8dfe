package org.divert4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The top-level command: help, version, usage errors and how failures are reported. */
class MainTest {
  @Test
  void helpListsEveryCommandAndTheExitStatuses() {
    Cli.Result r = Cli.run("--help");
    assertEquals(ExitCodes.OK, r.status(), r::toString);
    for (String c : List.of("demo", "dump", "tck", "backends", "rules")) {
      assertTrue(r.out().contains("\n  " + c + " "), "help lists " + c + "\n" + r);
    }
    assertTrue(r.out().contains("Exit status:"), r::toString);
    for (String code : List.of("0 ", "1 ", "2 ", "3 ", "130 ")) {
      assertTrue(r.out().contains("\n  " + code), "exit status " + code + "\n" + r);
    }
  }

  @Test
  void versionNamesTheProject() {
    Cli.Result r = Cli.run("--version");
    assertEquals(ExitCodes.OK, r.status());
    assertTrue(r.out().startsWith("divert (divert4j) "), r::toString);
  }

  @Test
  void noCommandIsAUsageError() {
    Cli.Result r = Cli.run();
    assertEquals(ExitCodes.USAGE, r.status());
    assertTrue(r.err().contains("divert: missing a command (see 'divert --help')"), r::toString);
  }

  @Test
  void aMistypedCommandGetsOneLineWithASuggestion() {
    Cli.Result r = Cli.run("dmeo");
    assertEquals(ExitCodes.USAGE, r.status());
    assertEquals(
        List.of("divert: unknown command 'dmeo'; did you mean 'demo'? (see 'divert --help')"),
        r.errLines());
    assertEquals("", r.out());
  }

  @Test
  void anUnknownOptionIsOneLineNamingIt() {
    Cli.Result r = Cli.run("demo", "--bakend", "sim");
    assertEquals(ExitCodes.USAGE, r.status());
    assertEquals(1, r.errLines().size(), r::toString);
    assertTrue(r.err().startsWith("divert demo: unknown options: '--bakend'"), r::toString);
    assertTrue(r.err().contains("did you mean '--backend'?"), r::toString);
  }

  @Test
  void failuresAreOneLineWithoutAStackTraceUnlessDebug() {
    Cli.Result plain = Cli.run("demo", "-P", "sim.privileges=none");
    assertEquals(ExitCodes.UNAVAILABLE, plain.status());
    assertEquals(1, plain.errLines().size(), plain::toString);
    assertFalse(plain.err().contains("\tat "), plain::toString);

    Cli.Result debug = Cli.run("demo", "-P", "sim.privileges=none", "--debug");
    assertEquals(ExitCodes.UNAVAILABLE, debug.status());
    assertEquals(plain.errLines().get(0), debug.errLines().get(0));
    assertTrue(debug.err().contains("\tat org.divert4j."), debug::toString);
  }

  @Test
  void debugAfterAnEndOfOptionsMarkerIsNotAFlag() {
    assertTrue(Main.debugRequested(new String[] {"demo", "--debug"}));
    assertFalse(Main.debugRequested(new String[] {"rules", "remove", "--", "--debug"}));
  }

  @Test
  void nearestSuggestsOnlyCloseWords() {
    assertEquals("dump", Main.nearest("dupm", List.of("demo", "dump", "tck")));
    assertEquals(null, Main.nearest("frobnicate", List.of("demo", "dump", "tck")));
  }
}
