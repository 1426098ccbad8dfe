package org.divert4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** {@code divert impair} on the simulation's test bed, and its bad input. */
class ImpairCommandTest {
  private static final Pattern FIRST =
      Pattern.compile(
          "received (\\d+), sent (\\d+), lost (\\d+) \\(\\d+\\.\\d\\d%\\), duplicated (\\d+),"
              + " reordered \\d+, corrupted (\\d+), delayed (\\d+)");

  private static Cli.Result impair(String... more) {
    List<String> args =
        new java.util.ArrayList<>(
            List.of(
                "impair", "--backend", "sim", "--rule", "input udp dport 9000", "--port", "77"));
    args.addAll(List.of(more));
    return Cli.run(args.toArray(new String[0]));
  }

  @Test
  void lossWithASeedIsReproducibleAndEveryPacketIsAccountedFor() {
    Cli.Result a = impair("--loss", "10%", "--seed", "1", "--generate", "2000");
    assertEquals(ExitCodes.OK, a.status(), a::toString);
    Matcher m = FIRST.matcher(a.outLines().get(0));
    assertTrue(m.matches(), a::toString);
    long received = Long.parseLong(m.group(1));
    long sent = Long.parseLong(m.group(2));
    long lost = Long.parseLong(m.group(3));
    assertEquals(2000, received);
    assertEquals(received, sent + lost);
    // 5 standard deviations of Binomial(2000, 0.1): 67.
    assertTrue(Math.abs(lost - 200) <= 67, a::toString);
    assertEquals(
        "rate-dropped 0, overflowed 0, oversize 0, send errors 0, written back early on exit 0",
        a.outLines().get(1));
    assertTrue(
        a.err()
            .startsWith(
                "impair: 'input -p udp --dport 9000 -j DIVERT 77' on sim host host#1: loss"
                    + " 10.00%; seed 1; Ctrl-C to stop"),
        a::toString);
    Cli.Result b = impair("--loss", "10%", "--seed", "1", "--generate", "2000");
    assertEquals(a.out(), b.out(), "one seed, the same decisions");
    Cli.Result c = impair("--loss", "10%", "--seed", "2", "--generate", "2000");
    assertTrue(!a.out().equals(c.out()), "another seed, other decisions: " + c);
  }

  @Test
  void delayedAndDuplicatedPacketsAllLeave() {
    Cli.Result r =
        impair(
            "--delay",
            "5ms",
            "--jitter",
            "2ms",
            "--duplicate",
            "20%",
            "--seed",
            "3",
            "--generate",
            "500");
    assertEquals(ExitCodes.OK, r.status(), r::toString);
    Matcher m = FIRST.matcher(r.outLines().get(0));
    assertTrue(m.matches(), r::toString);
    long dups = Long.parseLong(m.group(4));
    assertTrue(dups > 0, r::toString);
    assertEquals(500 + dups, Long.parseLong(m.group(2)), "originals and copies all sent");
    assertEquals(500, Long.parseLong(m.group(6)), "every original was delayed");
  }

  @Test
  void badValuesAreUsageErrors() {
    for (String[] bad :
        List.of(
            new String[] {"--loss", "10"},
            new String[] {"--loss", "150%"},
            new String[] {"--delay", "20"},
            new String[] {"--rate", "10"},
            new String[] {"--reorder", "5%"},
            new String[] {"--loss", "1%", "--loss-ge", "1%,25%"},
            new String[] {"--loss-ge", "1%,0"})) {
      Cli.Result r = impair(bad);
      assertEquals(ExitCodes.USAGE, r.status(), () -> String.join(" ", bad) + ": " + r);
      assertTrue(r.err().startsWith("divert impair: "), r::toString);
    }
  }
}
