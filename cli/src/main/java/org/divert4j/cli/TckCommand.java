package org.divert4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import org.divert4j.Divert;
import org.divert4j.cli.TckRunner.Outcome;
import org.divert4j.cli.TckRunner.Result;
import org.divert4j.spi.DivertProvider;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code divert tck}: runs the TCK on every backend on the class path (or those named), each on its
 * own test beds, shows progress per spec area on stderr, and prints a compatibility matrix (areas
 * by backend). Exit status 1 when a required rule fails.
 */
@Command(
    name = "tck",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Run the TCK (the checks of SEMANTICS.md) on every backend on the class path, or those"
          + " named, on their test beds, and print a compatibility matrix: spec areas by backend,"
          + " passed/failed/aborted/skipped, with the reasons.",
      "",
      "Failed: a required (MUST) rule is broken. Aborted: an optional (SHOULD) rule is not met."
          + " Skipped: the test does not apply here (capability not declared, backend"
          + " unavailable). A backend with most tests skipped is NOT VERIFIED, never compatible.",
      ""
    },
    footerHeading = "%nExamples:%n",
    footer = {
      "  divert tck                                  # every backend; unavailable ones are skipped",
      "  divert tck --backend sim --format junit --output tck-sim.xml",
      "  sudo ./divert tck --backend rawsocket --require-available"
    })
final class TckCommand implements Callable<Integer> {
  /** Report formats. */
  enum Format {
    TEXT,
    JSON,
    JUNIT
  }

  /** Formats in the spelling of the command line. */
  static final class Formats extends Converters.Choices<Format> {
    Formats() {
      super("format", Map.of("text", Format.TEXT, "json", Format.JSON, "junit", Format.JUNIT));
    }
  }

  @Spec CommandSpec spec;

  @Option(
      names = "--backend",
      paramLabel = "NAME",
      split = ",",
      description = "A backend to verify (repeatable, or comma-separated; default: all of them).")
  List<String> backends = new ArrayList<>();

  @Option(
      names = "--format",
      paramLabel = "FORMAT",
      converter = Formats.class,
      completionCandidates = Formats.class,
      description = "text (default: the matrix), json, or junit (JUnit XML, for CI).")
  Format format = Format.TEXT;

  @Option(
      names = {"-o", "--output"},
      paramLabel = "FILE",
      description = "Write the report there (the matrix still goes to stdout).")
  Path output;

  @Option(
      names = "--rule",
      paramLabel = "ID",
      split = ",",
      description = "Run only the tests of these rules, e.g. S27,S28 (repeatable).")
  List<String> rules = new ArrayList<>();

  @Option(
      names = "--require-available",
      description =
          "Fail, instead of skip, the tests of a backend that is unavailable here (what CI wants).")
  boolean requireAvailable;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    List<String> names = backendNames();
    Set<String> ruleIds = new LinkedHashSet<>();
    for (String r : rules) {
      String id = r.trim().toUpperCase(Locale.ROOT);
      if (!id.matches("S\\d+")) {
        throw CliException.usage("not a rule id: '" + r + "' (rule ids look like S27)");
      }
      ruleIds.add(id);
    }

    List<Result> all = new ArrayList<>();
    Map<String, List<String>> errors = new LinkedHashMap<>();
    for (int i = 0; i < names.size(); i++) {
      String b = names.get(i);
      err.println("tck: " + b + " (" + (i + 1) + " of " + names.size() + ")");
      AreaProgress progress = new AreaProgress(err, b);
      TckRunner.Run run = TckRunner.run(b, requireAvailable, ruleIds, progress::finished);
      progress.done();
      all.addAll(run.results());
      errors.put(b, run.errors());
    }
    if (all.isEmpty() && errors.values().stream().allMatch(List::isEmpty)) {
      throw new CliException(
          ExitCodes.FAILURE,
          "no TCK tests were found"
              + (ruleIds.isEmpty() ? "" : " for rules " + String.join(", ", ruleIds))
              + ": the class path has no verifications in "
              + TckRunner.PACKAGE
              + " (is the TCK module built?)");
    }

    TckMatrix matrix = new TckMatrix(names, all, errors);
    String report =
        switch (format) {
          case TEXT -> matrix.toText();
          case JSON -> matrix.toJson();
          case JUNIT -> matrix.toJUnitXml();
        };
    if (output != null) {
      try {
        Files.writeString(output, report, StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new CliException(
            ExitCodes.FAILURE, "cannot write the report to " + output + ": " + e.getMessage(), e);
      }
      out.print(matrix.toText());
      err.println(
          "tck: wrote the " + format.name().toLowerCase(Locale.ROOT) + " report to " + output);
    } else {
      out.print(report);
    }
    out.flush();

    if (matrix.anyRequiredFailure()) {
      return ExitCodes.FAILURE;
    }
    if (!backends.isEmpty()) {
      // A backend the user named and that could not be verified here is not a success.
      for (String b : names) {
        if (matrix.verdict(b) == TckMatrix.Verdict.NOT_VERIFIED) {
          err.println("divert tck: " + matrix.verdictLine(b));
          return ExitCodes.UNAVAILABLE;
        }
      }
    }
    return ExitCodes.OK;
  }

  private List<String> backendNames() throws CliException {
    List<String> names = new ArrayList<>();
    if (backends.isEmpty()) {
      for (DivertProvider p : Divert.providers()) {
        names.add(p.name());
      }
      if (names.isEmpty()) {
        throw new CliException(ExitCodes.FAILURE, "no divert backends on the class path");
      }
      return names;
    }
    for (String b : backends) {
      String name = Backends.find(b).name();
      if (!names.contains(name)) {
        names.add(name);
      }
    }
    return names;
  }

  /** Prints one line per spec area to stderr as each finishes. */
  private static final class AreaProgress {
    private final PrintWriter err;
    private final String backend;
    private String area;
    private String title;
    private final int[] counts = new int[Outcome.values().length];

    AreaProgress(PrintWriter err, String backend) {
      this.err = err;
      this.backend = backend;
    }

    void finished(Result r) {
      if (area != null && !area.equals(r.area())) {
        done();
      }
      area = r.area();
      title = r.areaTitle();
      counts[r.outcome().ordinal()]++;
    }

    void done() {
      if (area == null) {
        return;
      }
      err.printf(
          Locale.ROOT,
          "  %-10s %-2s %-40s %3d passed, %d failed, %d aborted, %d skipped%n",
          backend,
          area,
          title.length() > 40 ? title.substring(0, 40) : title,
          counts[Outcome.PASSED.ordinal()],
          counts[Outcome.FAILED.ordinal()],
          counts[Outcome.ABORTED.ordinal()],
          counts[Outcome.SKIPPED.ordinal()]);
      err.flush();
      area = null;
      java.util.Arrays.fill(counts, 0);
    }
  }
}
