package org.divert4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.divert4j.tck.clitest.FakeSocketsVerification;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code divert tck}: parsing, the matrix and the other formats, progress, and exit statuses. The
 * verifications it runs here are the stand-ins in {@code org.divert4j.tck.clitest} (two areas,
 * every outcome), so these tests check the command, not the TCK.
 */
class TckCommandTest {
  @AfterEach
  void unbreak() {
    System.clearProperty(FakeSocketsVerification.FAIL);
  }

  @Test
  void printsTheMatrixWithReasonsAndVerdicts() {
    Cli.Result r = Cli.run("tck", "--backend", "sim");
    assertEquals(ExitCodes.OK, r.status(), r::toString);
    String out = r.out();
    assertTrue(
        out.startsWith(
            "TCK compatibility matrix: passed/failed/aborted/skipped tests per spec area"),
        r::toString);
    assertTrue(out.contains("\n" + row("area", "sim")), r::toString);
    assertTrue(
        out.contains("\n" + row("A  Sockets, ports, rules, chains", "2/0/1/1")), r::toString);
    assertTrue(out.contains("\n" + row("F  MTU limit on injection", "2/0/0/0")), r::toString);
    assertTrue(out.contains("\n" + row("total", "4/0/1/1")), r::toString);
    assertTrue(
        out.contains(
            "sim: aborted (optional SHOULD rules not met):\n  S52_arrivalOrder [A] SHOULD not met: packets were reordered\n"),
        r::toString);
    assertTrue(
        out.contains("sim: skipped, by reason:\n  1 x the backend does not declare SHARED_RULES\n"),
        r::toString);
    assertTrue(
        out.contains("Verdicts:\n  sim: COMPATIBLE (4 passed, 0 failed, 1 aborted, 1 skipped)\n"),
        r::toString);
  }

  @Test
  void showsProgressPerAreaOnStderr() {
    Cli.Result r = Cli.run("tck", "--backend", "sim");
    List<String> err = r.errLines();
    assertEquals("tck: sim (1 of 1)", err.get(0));
    assertTrue(
        err.contains(
            "  sim        A  Sockets, ports, rules, chains              2 passed, 0 failed, 1 aborted, 1 skipped"),
        r::toString);
    assertTrue(
        err.contains(
            "  sim        F  MTU limit on injection                     2 passed, 0 failed, 0 aborted, 0 skipped"),
        r::toString);
  }

  @Test
  void aFailedRequiredRuleFailsTheRun() {
    System.setProperty(FakeSocketsVerification.FAIL, "S27");
    Cli.Result r = Cli.run("tck", "--backend", "sim");
    assertEquals(ExitCodes.FAILURE, r.status(), r::toString);
    assertTrue(
        r.out()
            .contains(
                "sim: failed (required rules broken):\n  S27_oversizeInjectionIsRefused [F] deliberately broken"),
        r::toString);
    assertTrue(
        r.out()
            .contains(
                "  sim: NOT COMPATIBLE (3 passed, 1 failed, 1 aborted, 1 skipped): rules S27\n"),
        r::toString);
  }

  @Test
  void rulesNarrowTheRun() {
    Cli.Result r = Cli.run("tck", "--backend", "sim", "--rule", "s27,S28");
    assertEquals(ExitCodes.OK, r.status(), r::toString);
    assertTrue(r.out().contains("\n" + row("total", "2/0/0/0")), r::toString);
    Cli.Result none = Cli.run("tck", "--backend", "sim", "--rule", "S99");
    assertEquals(ExitCodes.FAILURE, none.status(), none::toString);
    assertTrue(none.err().contains("no TCK tests were found for rules S99"), none::toString);
  }

  @Test
  void jsonAndJunitFormats(@TempDir Path dir) throws Exception {
    Cli.Result json = Cli.run("tck", "--backend", "sim", "--format", "json");
    assertEquals(ExitCodes.OK, json.status(), json::toString);
    assertTrue(
        json.out()
            .startsWith(
                "{\"compatible\":true,\"backends\":[{\"name\":\"sim\",\"verdict\":\"COMPATIBLE\""),
        json::toString);
    assertTrue(
        json.out()
            .contains(
                "\"counts\":{\"tests\":6,\"passed\":4,\"failed\":0,\"aborted\":1,\"skipped\":1}"),
        json::toString);
    assertTrue(
        json.out()
            .contains(
                "{\"name\":\"S3_sharedRules\",\"class\":\"org.divert4j.tck.clitest.FakeSocketsVerification\",\"area\":\"A\",\"rule\":\"S3\",\"level\":\"MUST\",\"outcome\":\"SKIPPED\""),
        json::toString);

    Path xml = dir.resolve("tck.xml");
    Cli.Result junit =
        Cli.run("tck", "--backend", "sim", "--format", "junit", "--output", xml.toString());
    assertEquals(ExitCodes.OK, junit.status(), junit::toString);
    assertTrue(
        junit.out().startsWith("TCK compatibility matrix"), "the matrix still goes to stdout");
    assertTrue(junit.err().contains("tck: wrote the junit report to " + xml), junit::toString);
    String x = Files.readString(xml, StandardCharsets.UTF_8);
    assertTrue(
        x.startsWith(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"divert4j-tck\" tests=\"6\" failures=\"0\" skipped=\"2\">"),
        x);
    assertTrue(
        x.contains(
            "<testsuite name=\"divert4j-tck.sim.A\" tests=\"4\" failures=\"0\" errors=\"0\" skipped=\"2\""),
        x);
    assertTrue(
        x.contains("<skipped message=\"SKIPPED: the backend does not declare SHARED_RULES\"/>"), x);
    assertTrue(
        x.contains("<skipped message=\"ABORTED: SHOULD not met: packets were reordered\"/>"), x);
  }

  /** A matrix row: the area column is 44 wide. */
  private static String row(String area, String cell) {
    return String.format("%-44s%s%n", area, cell);
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
  }
}
