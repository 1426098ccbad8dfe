package org.divert4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import org.divert4j.Divert;
import org.divert4j.spi.DivertProvider;
import org.divert4j.tck.Outcome;
import org.divert4j.tck.Tck;
import org.divert4j.tck.TckListener;
import org.divert4j.tck.TckReport;
import org.divert4j.tck.TckResult;
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

  /** The providers the command can verify; tests add deliberately broken ones. */
  Supplier<List<DivertProvider>> providers = Divert::providers;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    List<DivertProvider> chosen = chosenProviders();
    List<String> names = new ArrayList<>();
    for (DivertProvider p : chosen) {
      names.add(p.name());
    }
    Set<String> ruleIds = new LinkedHashSet<>();
    for (String r : rules) {
      String id = r.trim().toUpperCase(Locale.ROOT);
      if (!id.matches("S\\d+")) {
        throw CliException.usage("not a rule id: '" + r + "' (rule ids look like S27)");
      }
      ruleIds.add(id);
    }

    List<TckReport> reports = new ArrayList<>();
    for (int i = 0; i < chosen.size(); i++) {
      DivertProvider p = chosen.get(i);
      err.println("tck: " + p.name() + " (" + (i + 1) + " of " + chosen.size() + ")");
      AreaProgress progress = new AreaProgress(err);
      reports.add(
          Tck.builder()
              .provider(p)
              .listener(progress)
              .requireAvailable(requireAvailable)
              .rules(ruleIds.toArray(new String[0]))
              .run());
      progress.done();
    }
    TckReport report = TckReport.merge(reports);
    if (report.results().isEmpty() && report.errors().isEmpty()) {
      throw new CliException(
          ExitCodes.FAILURE,
          "no TCK test ran"
              + (ruleIds.isEmpty() ? "" : ": no test checks " + String.join(", ", ruleIds)));
    }

    String text = TckMatrix.toText(report, names, ruleIds.isEmpty());
    String formatted =
        switch (format) {
          case TEXT -> text;
          case JSON -> report.toJson() + "\n";
          case JUNIT -> report.toJUnitXml();
        };
    if (output != null) {
      try {
        Files.writeString(output, formatted, StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new CliException(
            ExitCodes.FAILURE, "cannot write the report to " + output + ": " + e.getMessage(), e);
      }
      out.print(text);
      err.println(
          "tck: wrote the " + format.name().toLowerCase(Locale.ROOT) + " report to " + output);
    } else {
      out.print(formatted);
    }
    out.flush();

    boolean failed = !report.errors().isEmpty();
    for (String b : names) {
      failed |= report.failed(b);
    }
    if (failed) {
      return ExitCodes.FAILURE;
    }
    if (!backends.isEmpty()) {
      // A backend the user named that could not be verified here is not a success.
      for (String b : names) {
        if (!report.compatible(b)) {
          err.println("divert tck: " + report.verdict(b));
          return ExitCodes.UNAVAILABLE;
        }
      }
    }
    return ExitCodes.OK;
  }

  private List<DivertProvider> chosenProviders() throws CliException {
    List<DivertProvider> all = providers.get();
    if (backends.isEmpty()) {
      if (all.isEmpty()) {
        throw new CliException(ExitCodes.FAILURE, "no divert backends on the class path");
      }
      return all;
    }
    List<DivertProvider> chosen = new ArrayList<>();
    for (String b : backends) {
      DivertProvider found = Backends.find(b, all);
      if (!chosen.contains(found)) {
        chosen.add(found);
      }
    }
    return chosen;
  }

  /** Prints one line per spec area to stderr as each finishes. */
  private static final class AreaProgress implements TckListener {
    private final PrintWriter err;
    private String backend;
    private String area;
    private String title;
    private final int[] counts = new int[Outcome.values().length];

    AreaProgress(PrintWriter err) {
      this.err = err;
    }

    @Override
    public void testFinished(TckResult r) {
      if (area != null && !area.equals(r.areaId())) {
        done();
      }
      backend = r.backend();
      area = r.areaId();
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
