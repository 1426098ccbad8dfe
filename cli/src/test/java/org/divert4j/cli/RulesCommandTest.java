package org.divert4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.divert4j.Divert;
import org.divert4j.spi.DivertProvider;
import org.junit.jupiter.api.Test;

/**
 * {@code divert rules}: parsing and help now; until the kernel backend's rule management is on the
 * class path every subcommand fails with one line, never a faked success.
 */
class RulesCommandTest {
  private static boolean kernelBackendPresent() {
    for (DivertProvider p : Divert.providers()) {
      if (p.name().equals("rawsocket")) {
        return true;
      }
    }
    return false;
  }

  @Test
  void everySubcommandFailsClearlyWithoutTheKernelBackend() {
    for (String[] args :
        List.of(
            new String[] {"rules", "list"},
            new String[] {"rules", "list", "--all", "--netns", "blue"},
            new String[] {"rules", "add", "input -p icmp -j DIVERT 1234"},
            new String[] {"rules", "add", "input icmp", "--port", "1234"},
            new String[] {"rules", "remove", "3", "4"},
            new String[] {"rules", "cleanup", "--dry-run"})) {
      Cli.Result r = Cli.run(args);
      assertEquals(ExitCodes.UNAVAILABLE, r.status(), r::toString);
      assertEquals(1, r.errLines().size(), r::toString);
      assertTrue(
          r.err()
              .startsWith("divert rules " + args[1] + ": the rawsocket backend is not available"),
          r::toString);
      assertEquals("", r.out());
      if (!kernelBackendPresent()) {
        assertTrue(r.err().contains("not on the class path"), r::toString);
      }
    }
  }

  @Test
  void badInputIsAUsageError() {
    for (String[] args :
        List.of(
            new String[] {"rules"},
            new String[] {"rules", "flush"},
            new String[] {"rules", "add"},
            new String[] {"rules", "add", "input icmpx -j DIVERT 1"},
            new String[] {"rules", "add", "input icmp"},
            new String[] {"rules", "add", "input icmp", "--port", "0"},
            new String[] {"rules", "remove"})) {
      Cli.Result r = Cli.run(args);
      assertEquals(ExitCodes.USAGE, r.status(), () -> String.join(" ", args) + "\n" + r);
      assertEquals(1, r.errLines().size(), r::toString);
    }
    assertTrue(Cli.run("rules", "add", "input icmp").err().contains("names no divert port"));
  }

  @Test
  void helpDescribesEachSubcommand() {
    Cli.Result r = Cli.run("rules", "--help");
    assertEquals(ExitCodes.OK, r.status());
    for (String c : List.of("list", "add", "remove", "cleanup")) {
      assertTrue(r.out().contains("\n  " + c + " "), c + "\n" + r);
    }
    assertEquals(ExitCodes.OK, Cli.run("rules", "cleanup", "--help").status());
  }
}
