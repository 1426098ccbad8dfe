package org.divert4j.cli;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.divert4j.tck.Outcome;
import org.divert4j.tck.TckReport;
import org.divert4j.tck.TckResult;

/**
 * The text form of {@code divert tck}: a compatibility matrix of spec areas by backend (each cell
 * {@code passed/failed/aborted/skipped}; an area that runs once per address family has a row per
 * family), then per backend what failed, what was aborted and why tests were skipped, then the
 * TCK's verdict per backend. The JSON and JUnit forms are the TCK's own ({@link
 * TckReport#toJson()}, {@link TckReport#toJUnitXml()}). Stateless.
 */
final class TckMatrix {
  /** Areas in specification order: A..J, then L (lifecycle) and anything else. */
  private static final Comparator<String> AREA_ORDER =
      Comparator.comparingInt(
              (String s) -> s.charAt(0) <= 'J' && (s.length() == 1 || s.charAt(1) == ' ') ? 0 : 1)
          .thenComparing(Comparator.naturalOrder());

  private static final int AREA_WIDTH = 44;

  private TckMatrix() {}

  /**
   * @param report the merged report of every backend run
   * @param backends the backends, in the order they ran (columns)
   * @param allRules true if every rule was run, so rules without a passing test are worth listing
   * @return the matrix and the details below it
   */
  static String toText(TckReport report, List<String> backends, boolean allRules) {
    StringBuilder sb = new StringBuilder();
    sb.append("TCK compatibility matrix: passed/failed/aborted/skipped tests per spec area\n\n");
    int width = 14;
    for (String b : backends) {
      width = Math.max(width, b.length() + 2);
    }
    String column = "%-" + width + "s";
    String first = "%-" + AREA_WIDTH + "s";
    sb.append(String.format(Locale.ROOT, first, "area"));
    for (String b : backends) {
      sb.append(String.format(Locale.ROOT, column, b));
    }
    trim(sb).append('\n');
    for (Map.Entry<String, String> a : areas(report).entrySet()) {
      String label = a.getValue();
      if (label.length() >= AREA_WIDTH) {
        label = label.substring(0, AREA_WIDTH - 1);
      }
      sb.append(String.format(Locale.ROOT, first, label));
      for (String b : backends) {
        sb.append(String.format(Locale.ROOT, column, cell(inArea(report.results(b), a.getKey()))));
      }
      trim(sb).append('\n');
    }
    sb.append(String.format(Locale.ROOT, first, "total"));
    for (String b : backends) {
      sb.append(String.format(Locale.ROOT, column, cell(report.results(b))));
    }
    trim(sb).append("\n\n");

    for (String b : backends) {
      List<TckResult> rs = report.results(b);
      section(sb, b, rs, Outcome.FAILED, "failed (required rules broken)");
      section(sb, b, rs, Outcome.ABORTED, "aborted (optional SHOULD rules not met)");
      Map<String, Integer> skips = reasons(rs, Outcome.SKIPPED);
      if (!skips.isEmpty()) {
        sb.append(b).append(": skipped, by reason:\n");
        for (Map.Entry<String, Integer> e : skips.entrySet()) {
          sb.append("  ").append(e.getValue()).append(" x ").append(e.getKey()).append('\n');
        }
      }
    }
    for (String e : report.errors()) {
      sb.append("error: ").append(Main.oneLine(e)).append('\n');
    }
    if (allRules) {
      for (String b : backends) {
        List<String> noPass = report.rulesWithoutPass(b);
        if (!noPass.isEmpty() && !report.results(b).isEmpty()) {
          sb.append(b).append(": rules with no passing test: ");
          sb.append(String.join(", ", noPass)).append('\n');
        }
      }
    }
    sb.append("Verdicts:\n");
    for (String b : backends) {
      sb.append("  ").append(report.verdict(b)).append('\n');
    }
    return sb.toString();
  }

  /**
   * The matrix's rows: one per area, or, for an area whose verification runs once per address
   * family, one per area and family ({@code "B Delivery (IPv6)"}), keyed by {@link #row}.
   */
  private static Map<String, String> areas(TckReport report) {
    Map<String, String> areas = new TreeMap<>(AREA_ORDER);
    for (TckResult r : report.results()) {
      String family = r.family().isEmpty() ? "" : " (" + r.family() + ")";
      areas.putIfAbsent(row(r), r.areaId() + "  " + r.areaTitle() + family);
    }
    return areas;
  }

  /** The row key of a result: the area, then the family if the area runs per family. */
  private static String row(TckResult r) {
    return r.areaId() + (r.family().isEmpty() ? "" : " " + r.family());
  }

  private static List<TckResult> inArea(List<TckResult> rs, String row) {
    List<TckResult> in = new ArrayList<>();
    for (TckResult r : rs) {
      if (row(r).equals(row)) {
        in.add(r);
      }
    }
    return in;
  }

  static int count(List<TckResult> rs, Outcome o) {
    int n = 0;
    for (TckResult r : rs) {
      if (r.outcome() == o) {
        n++;
      }
    }
    return n;
  }

  private static String cell(List<TckResult> rs) {
    if (rs.isEmpty()) {
      return "-";
    }
    return count(rs, Outcome.PASSED)
        + "/"
        + count(rs, Outcome.FAILED)
        + "/"
        + count(rs, Outcome.ABORTED)
        + "/"
        + count(rs, Outcome.SKIPPED);
  }

  /** Reasons for an outcome, most frequent first. */
  private static Map<String, Integer> reasons(List<TckResult> rs, Outcome o) {
    Map<String, Integer> counts = new LinkedHashMap<>();
    for (TckResult r : rs) {
      if (r.outcome() == o) {
        String reason = r.reason().isEmpty() ? "(no reason given)" : Main.oneLine(r.reason());
        counts.merge(reason, 1, Integer::sum);
      }
    }
    List<Map.Entry<String, Integer>> sorted = new ArrayList<>(counts.entrySet());
    sorted.sort(Map.Entry.<String, Integer>comparingByValue().reversed());
    Map<String, Integer> out = new LinkedHashMap<>();
    for (Map.Entry<String, Integer> e : sorted) {
      out.put(e.getKey(), e.getValue());
    }
    return out;
  }

  private static void section(
      StringBuilder sb, String backend, List<TckResult> rs, Outcome o, String title) {
    boolean any = false;
    for (TckResult r : rs) {
      if (r.outcome() != o) {
        continue;
      }
      if (!any) {
        sb.append(backend).append(": ").append(title).append(":\n");
        any = true;
      }
      sb.append("  ").append(r.testName()).append(" [").append(r.areaId()).append("] ");
      sb.append(Main.oneLine(r.reason())).append('\n');
    }
  }

  private static StringBuilder trim(StringBuilder sb) {
    int end = sb.length();
    while (end > 0 && sb.charAt(end - 1) == ' ') {
      end--;
    }
    sb.setLength(end);
    return sb;
  }
}
