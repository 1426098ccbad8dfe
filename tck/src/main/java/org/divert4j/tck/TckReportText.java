package org.divert4j.tck;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Renders a {@link TckReport} as text for consoles, as {@link TckReport#toText()} describes it: per
 * backend, a table of counts per area, the failures, the aborts and skips with their reasons, the
 * rules with no passing test, and the verdict.
 */
final class TckReportText {
  private TckReportText() {}

  /** The report as text. */
  static String text(TckReport report) {
    StringBuilder sb = new StringBuilder();
    for (String e : report.errors()) {
      sb.append("ERROR: ").append(e).append('\n');
    }
    if (report.results().isEmpty()) {
      sb.append("divert4j TCK: no TCK test ran. NOT VERIFIED.\n");
      return sb.toString();
    }
    for (String backend : report.backends()) {
      List<TckResult> rs = report.results(backend);
      sb.append('\n');
      sb.append("==== divert4j TCK report: backend '").append(backend).append("' ====\n");
      sb.append(
          String.format(
              Locale.ROOT,
              "%-44s %5s %6s %6s %7s %7s%n",
              "area",
              "tests",
              "passed",
              "failed",
              "aborted",
              "skipped"));
      Map<String, List<TckResult>> byArea = new TreeMap<>(TckReport.AREA_ORDER);
      for (TckResult r : rs) {
        String family = r.family().isEmpty() ? "" : " (" + r.family() + ")";
        byArea
            .computeIfAbsent(r.areaId() + "  " + r.areaTitle() + family, k -> new ArrayList<>())
            .add(r);
      }
      for (Map.Entry<String, List<TckResult>> e : byArea.entrySet()) {
        row(sb, e.getKey(), e.getValue());
      }
      row(sb, "total", rs);
      section(sb, rs, Outcome.FAILED, "Failed (required rules broken)", true);
      section(sb, rs, Outcome.ABORTED, "Aborted (optional SHOULD rules not met)", true);
      Map<String, Integer> skips = TckReport.reasons(rs, Outcome.SKIPPED);
      if (!skips.isEmpty()) {
        sb.append("Skipped, by reason:\n");
        for (Map.Entry<String, Integer> e : skips.entrySet()) {
          sb.append("  ").append(e.getValue()).append(" x ").append(e.getKey()).append('\n');
        }
      }
      List<String> noPass = report.rulesWithoutPass(backend);
      sb.append("Rules with no passing test: ")
          .append(noPass.isEmpty() ? "none" : String.join(", ", noPass))
          .append('\n');
      sb.append(report.verdict(backend)).append('\n');
    }
    return sb.toString();
  }

  private static void row(StringBuilder sb, String label, List<TckResult> rs) {
    sb.append(
        String.format(
            Locale.ROOT,
            "%-44s %5d %6d %6d %7d %7d%n",
            label.length() > 44 ? label.substring(0, 44) : label,
            rs.size(),
            TckReport.count(rs, Outcome.PASSED),
            TckReport.count(rs, Outcome.FAILED),
            TckReport.count(rs, Outcome.ABORTED),
            TckReport.count(rs, Outcome.SKIPPED)));
  }

  private static void section(
      StringBuilder sb, List<TckResult> rs, Outcome outcome, String title, boolean withRule) {
    boolean any = false;
    for (TckResult r : rs) {
      if (r.outcome() != outcome) {
        continue;
      }
      if (!any) {
        sb.append(title).append(":\n");
        any = true;
      }
      sb.append("  ").append(r.displayName()).append(" [").append(r.areaId()).append("] ");
      sb.append(oneLine(r.reason())).append('\n');
      if (withRule && outcome == Outcome.FAILED) {
        SpecRules.find(r.ruleId())
            .ifPresent(rule -> sb.append("      rule ").append(rule).append('\n'));
      }
    }
  }

  private static String oneLine(String s) {
    String t = s.replace('\n', ' ').replace('\r', ' ');
    return t.length() > 400 ? t.substring(0, 400) + "..." : t;
  }
}
