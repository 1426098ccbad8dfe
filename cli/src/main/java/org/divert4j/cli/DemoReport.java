package org.divert4j.cli;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.divert4j.DivertException;
import org.divert4j.InstalledRule;

/**
 * What {@code divert demo} found: each section's heading, every outcome that differed from
 * SEMANTICS.md (printed as it happens), and the summary table of what each rule showed, printed at
 * the end. Used by the demo's one thread.
 */
final class DemoReport {
  private static final String ROW = "  %-3s %-32s %8s %10s %7s %7s";
  private static final Duration PROGRAM_PATIENCE = Duration.ofSeconds(10);

  private final PrintWriter out;
  private final List<String> unexpected = new ArrayList<>();
  private final List<String> summary = new ArrayList<>();

  DemoReport(PrintWriter out) {
    this.out = out;
  }

  /**
   * @return true when every outcome was as expected
   */
  boolean allExpected() {
    return unexpected.isEmpty();
  }

  void heading(String title, String... lines) {
    out.println();
    out.println("== " + title + " ==");
    for (String l : lines) {
      out.println(l);
    }
  }

  void expect(boolean ok, String what) {
    if (!ok) {
      unexpected.add(what);
      out.println("    UNEXPECTED: " + what);
    }
  }

  void awaitProgram(DemoProgram program, long n) throws InterruptedException {
    if (!program.awaitHandled(n, PROGRAM_PATIENCE)) {
      expect(false, "the program handled " + program.handled() + " packets, expected " + n);
    }
  }

  void checkProgram(DemoProgram program) {
    if (program.failure() != null) {
      Exception e = program.failure();
      expect(
          false,
          "the program stopped: " + (e instanceof DivertException ? e.getMessage() : e.toString()));
    }
  }

  void addRow(String section, InstalledRule rule, DemoProgram program, String note) {
    long[] t = program.tally(rule.id());
    row(
        section,
        rule.rule().toString(),
        Long.toString(t[DemoProgram.DIVERTED]),
        Long.toString(t[DemoProgram.REINJECTED]),
        Long.toString(t[DemoProgram.DROPPED]),
        Long.toString(t[DemoProgram.CHANGED]),
        note);
  }

  /** A summary row: section, rule, four counts, and a note printed on its own line. */
  void row(String... cells) {
    summary.add(String.format(Locale.ROOT, ROW, (Object[]) cells).stripTrailing());
    if (!cells[6].isEmpty()) {
      summary.add("        " + cells[6]);
    }
  }

  /** A line of the summary table under the rows so far, as it is. */
  void line(String text) {
    summary.add(text);
  }

  void printSummary() {
    heading(
        "Summary: what each rule showed",
        "(counts from the program, the socket and host statistics)");
    out.println(
        String.format(Locale.ROOT, ROW, "", "rule", "diverted", "reinjected", "dropped", "changed")
            .stripTrailing());
    for (String line : summary) {
      out.println(line);
    }
    out.println();
    if (unexpected.isEmpty()) {
      out.println("Every step behaved as SEMANTICS.md says.");
    } else {
      out.println(unexpected.size() + " step(s) did not behave as SEMANTICS.md says:");
      for (String u : unexpected) {
        out.println("  " + u);
      }
    }
  }
}
