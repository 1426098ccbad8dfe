package org.divert4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import org.divert4j.BackendUnavailableException;
import org.divert4j.Capability;
import org.divert4j.Divert;
import org.divert4j.DivertHost;
import org.divert4j.HostOptions;
import org.divert4j.NetInterface;
import org.divert4j.sim.SimProvider;
import org.divert4j.spi.Availability;
import org.divert4j.spi.DivertProvider;
import org.divert4j.stack.DivertEngine;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code divert tck} on the simulation (compatible), on a deliberately broken simulation (a
 * required rule fails), and on a backend that is not available here; its formats and bad input.
 */
class TckCommandTest {
  /** The simulation without its MTU check: S27 and S28 must fail. */
  static DivertProvider brokenSim() {
    return new SimProvider(
        "sim-no-mtu",
        (backend, host, capabilities, options, env) ->
            new DivertEngine(backend, host, capabilities, options, env) {
              @Override
              protected void checkMtu(int length, boolean dontFragment, NetInterface out) {}
            });
  }

  /** A backend that is never available. */
  static final class Nowhere implements DivertProvider {
    @Override
    public String name() {
      return "nowhere";
    }

    @Override
    public String description() {
      return "a backend that is not available here";
    }

    @Override
    public int priority() {
      return 1;
    }

    @Override
    public boolean autoSelectable() {
      return false;
    }

    @Override
    public Availability availability() {
      return Availability.unavailable("needs hardware this machine does not have", null);
    }

    @Override
    public Set<Capability> capabilities() {
      return Set.of();
    }

    @Override
    public DivertHost open(HostOptions options) throws BackendUnavailableException {
      throw new BackendUnavailableException(availability().reason(), null);
    }

    @Override
    public TestBed testBed(TestBedOptions options) throws BackendUnavailableException {
      throw new BackendUnavailableException(availability().reason(), null);
    }
  }

  /** Runs {@code divert tck} with extra providers next to the ones on the class path. */
  private static Cli.Result tck(List<DivertProvider> extra, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl =
        Main.commandLine(new PrintWriter(out, true), new PrintWriter(err, true), false);
    TckCommand tck = cl.getSubcommands().get("tck").getCommand();
    tck.providers =
        () -> {
          List<DivertProvider> all = new ArrayList<>(Divert.providers());
          all.addAll(extra);
          return all;
        };
    String[] full = new String[args.length + 1];
    full[0] = "tck";
    System.arraycopy(args, 0, full, 1, args.length);
    int status = cl.execute(full);
    return new Cli.Result(status, out.toString(), err.toString());
  }

  @Test
  void theSimulationIsCompatibleAndTheMatrixShowsEveryArea() {
    Cli.Result r = Cli.run("tck", "--backend", "sim");
    assertEquals(ExitCodes.OK, r.status(), r::toString);
    List<String> lines = r.outLines();
    assertEquals(
        "TCK compatibility matrix: passed/failed/aborted/skipped tests per spec area",
        lines.get(0));
    assertEquals(String.format("%-44s%s", "area", "sim"), lines.get(2));
    // Areas that run once per address family have a row per family; without IPV6 the IPv6 rows
    // and area K are skipped for the capability, and nothing else is skipped.
    boolean ipv6 =
        org.divert4j.Divert.requireProvider("sim")
            .capabilities()
            .contains(org.divert4j.Capability.IPV6);
    List<String> areas = new ArrayList<>();
    Pattern row = Pattern.compile("([A-P])  .{2,41} +(\\d+)/0/0/(\\d+)");
    for (String l : lines.subList(3, lines.size())) {
      if (l.startsWith("total")) {
        assertTrue(Pattern.matches("total {39}\\d+/0/0/\\d+", l), l);
        break;
      }
      java.util.regex.Matcher m = row.matcher(l);
      assertTrue(m.matches(), l);
      boolean sixOnly = l.contains("(IPv6)") || m.group(1).equals("K");
      if (m.group(1).equals("N")) {
        // S69 is skipped: the simulation does not declare SEGMENT_OFFLOAD
        assertEquals("1", m.group(3), "S69 skipped: " + l);
      } else if (!sixOnly) {
        assertEquals("0", m.group(3), "nothing skipped: " + l);
      } else if (!ipv6) {
        assertEquals("0", m.group(2), "skipped without IPV6: " + l);
      }
      areas.add(m.group(1) + (l.contains("(IPv4)") ? "4" : l.contains("(IPv6)") ? "6" : ""));
    }
    assertEquals(
        List.of(
            "A4", "A6", "B4", "B6", "C4", "C6", "D4", "D6", "E4", "E6", "F4", "F6", "G4", "G6",
            "H4", "H6", "I4", "I6", "J4", "J6", "K", "L4", "L6", "M", "N", "O", "P"),
        areas);
    assertTrue(
        r.out().contains("Verdicts:\n  COMPATIBLE: backend 'sim' passes every required test"),
        r::toString);

    List<String> err = r.errLines();
    assertEquals("tck: sim (1 of 1)", err.get(0));
    assertEquals(17, err.size(), "one progress line per area\n" + r);
    assertTrue(
        Pattern.matches(
            "  sim        A  Sockets, ports, rules, chains +\\d+ passed, 0 failed, 0 aborted, 0 skipped",
            err.get(1)),
        err.get(1));
  }

  @Test
  void aBrokenBackendFailsTheRequiredRulesAndTheRun() {
    Cli.Result r = tck(List.of(brokenSim()), "--backend", "sim-no-mtu", "--rule", "S27,S28");
    assertEquals(ExitCodes.FAILURE, r.status(), r::toString);
    assertTrue(
        r.out().contains("sim-no-mtu: failed (required rules broken):\n  S27_"), r::toString);
    assertTrue(r.out().contains("  NOT COMPATIBLE: backend 'sim-no-mtu' fails "), r::toString);
    assertTrue(r.out().contains("(rules S27"), r::toString);
  }

  @Test
  void severalBackendsAreColumns() {
    Cli.Result r = tck(List.of(brokenSim()), "--backend", "sim,sim-no-mtu", "--rule", "S28");
    assertEquals(ExitCodes.FAILURE, r.status(), r::toString);
    assertTrue(
        r.out().contains(String.format("%-44s%-14s%s%n", "area", "sim", "sim-no-mtu")),
        r::toString);
    assertTrue(
        Pattern.compile(
                "\nF  MTU limit on injection \\(IPv4\\) +\\d+/0/0/0 +0/\\d+/0/0\n"
                    + "F  MTU limit on injection \\(IPv6\\) +\\d+/0/0/0 +0/\\d+/0/0\n")
            .matcher(r.out())
            .find(),
        r::toString);
    assertEquals("tck: sim-no-mtu (2 of 2)", r.errLines().get(2), r::toString);
  }

  @Test
  void aNamedBackendThatIsNotAvailableIsNotVerified() {
    Cli.Result r = tck(List.of(new Nowhere()), "--backend", "nowhere", "--rule", "S27");
    assertEquals(ExitCodes.UNAVAILABLE, r.status(), r::toString);
    assertTrue(r.out().contains("nowhere: skipped, by reason:\n"), r::toString);
    assertTrue(r.out().contains("needs hardware this machine does not have"), r::toString);
    assertTrue(
        r.errLines()
            .get(r.errLines().size() - 1)
            .startsWith("divert tck: NOT VERIFIED: backend 'nowhere'"),
        r::toString);

    Cli.Result required =
        tck(List.of(new Nowhere()), "--backend", "nowhere", "--rule", "S27", "--require-available");
    assertEquals(ExitCodes.FAILURE, required.status(), required::toString);
  }

  @Test
  void jsonAndJunitAreTheTcksOwnFormats(@TempDir Path dir) throws Exception {
    Cli.Result json = Cli.run("tck", "--backend", "sim", "--rule", "S27", "--format", "json");
    assertEquals(ExitCodes.OK, json.status(), json::toString);
    assertTrue(
        json.out().startsWith("{\"compatible\":true,\"backends\":[{\"name\":\"sim\""),
        json::toString);
    assertTrue(json.out().contains("\"rule\":\"S27\""), json::toString);

    Path xml = dir.resolve("tck.xml");
    Cli.Result junit =
        Cli.run(
            "tck", "--backend", "sim", "--rule", "S27", "--format", "junit", "-o", xml.toString());
    assertEquals(ExitCodes.OK, junit.status(), junit::toString);
    assertTrue(
        junit.out().startsWith("TCK compatibility matrix"), "the matrix still goes to stdout");
    assertTrue(junit.err().contains("tck: wrote the junit report to " + xml), junit::toString);
    String x = Files.readString(xml, StandardCharsets.UTF_8);
    assertTrue(
        x.startsWith(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"divert4j-tck\""),
        x);
    assertTrue(x.contains("<testsuite name=\"divert4j-tck.sim.F\""), x);
  }

  @Test
  void aRuleThatNoTestChecksIsAFailureNotAGreenRun() {
    Cli.Result r = Cli.run("tck", "--backend", "sim", "--rule", "S99");
    assertEquals(ExitCodes.FAILURE, r.status(), r::toString);
    assertTrue(r.err().contains("divert tck: no TCK test ran: no test checks S99"), r::toString);
  }

  @Test
  void badInputIsAUsageError() {
    for (String[] args :
        List.of(
            new String[] {"tck", "--backend", "nosuch"},
            new String[] {"tck", "--format", "yaml"},
            new String[] {"tck", "--rule", "27"},
            new String[] {"tck", "extra"})) {
      Cli.Result r = Cli.run(args);
      assertEquals(ExitCodes.USAGE, r.status(), () -> String.join(" ", args) + "\n" + r);
      assertEquals(1, r.errLines().size(), r::toString);
      assertTrue(r.err().startsWith("divert tck: "), r::toString);
    }
    assertTrue(Cli.run("tck", "--backend", "nosuch").err().contains("unknown backend 'nosuch'"));
    assertTrue(
        Cli.run("tck", "--format", "yaml")
            .err()
            .contains("unknown format 'yaml': use json or junit or text"));
  }
}
