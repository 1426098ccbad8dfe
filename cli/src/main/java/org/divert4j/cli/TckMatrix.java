package org.divert4j.cli;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.divert4j.cli.TckRunner.Outcome;
import org.divert4j.cli.TckRunner.Result;

/**
 * The results of TCK runs on several backends, rendered as a compatibility matrix (spec areas by
 * backend), as JSON, or as JUnit XML; and the verdict per backend. A backend whose tests were
 * mostly skipped is "not verified", never green (STYLE.md: a run that skips most tests must not
 * look green). Immutable.
 */
final class TckMatrix {
  /** Areas in specification order: A..J, then L (lifecycle) and anything else. */
  private static final Comparator<String> AREA_ORDER =
      Comparator.comparingInt((String s) -> s.length() == 1 && s.charAt(0) <= 'J' ? 0 : 1)
          .thenComparing(Comparator.naturalOrder());

  /** The verdict on one backend. */
  enum Verdict {
    COMPATIBLE,
    NOT_COMPATIBLE,
    NOT_VERIFIED;

    String text() {
      return name().replace('_', ' ');
    }
  }

  private final List<String> backends;
  private final List<Result> results;
  private final Map<String, List<String>> errors;

  /**
   * @param backends the backends run, in order
   * @param results every test's outcome
   * @param errors per backend, verification classes that could not run
   */
  TckMatrix(List<String> backends, List<Result> results, Map<String, List<String>> errors) {
    this.backends = List.copyOf(backends);
    this.results = List.copyOf(results);
    this.errors = new LinkedHashMap<>(errors);
  }

  List<Result> results(String backend) {
    List<Result> out = new ArrayList<>();
    for (Result r : results) {
      if (r.backend().equals(backend)) {
        out.add(r);
      }
    }
    return out;
  }

  static int count(List<Result> rs, Outcome o) {
    int n = 0;
    for (Result r : rs) {
      if (r.outcome() == o) {
        n++;
      }
    }
    return n;
  }

  Verdict verdict(String backend) {
    List<Result> rs = results(backend);
    if (count(rs, Outcome.FAILED) > 0 || !errors.getOrDefault(backend, List.of()).isEmpty()) {
      return Verdict.NOT_COMPATIBLE;
    }
    if (rs.isEmpty() || count(rs, Outcome.SKIPPED) * 2 > rs.size()) {
      return Verdict.NOT_VERIFIED;
    }
    return Verdict.COMPATIBLE;
  }

  /**
   * @return true if some required rule failed, or a verification could not run, on any backend
   */
  boolean anyRequiredFailure() {
    for (String b : backends) {
      if (verdict(b) == Verdict.NOT_COMPATIBLE) {
        return true;
      }
    }
    return false;
  }

  /** One line per backend: its verdict and counts, and for a skipped backend the main reason. */
  String verdictLine(String backend) {
    List<Result> rs = results(backend);
    Verdict v = verdict(backend);
    StringBuilder sb = new StringBuilder(backend).append(": ").append(v.text());
    if (rs.isEmpty()) {
      sb.append(": no TCK test ran");
      if (!errors.getOrDefault(backend, List.of()).isEmpty()) {
        sb.append(" (").append(errors.get(backend).get(0)).append(')');
      }
      return sb.toString();
    }
    sb.append(" (").append(counts(rs)).append(')');
    if (v == Verdict.NOT_COMPATIBLE && count(rs, Outcome.FAILED) > 0) {
      sb.append(": rules ").append(String.join(", ", failedRules(rs)));
    } else if (v == Verdict.NOT_VERIFIED) {
      sb.append(": ").append(mainReason(rs, Outcome.SKIPPED));
    }
    return sb.toString();
  }

  private static List<String> failedRules(List<Result> rs) {
    List<String> ids = new ArrayList<>();
    for (Result r : rs) {
      if (r.outcome() == Outcome.FAILED && !ids.contains(r.rule())) {
        ids.add(r.rule());
      }
    }
    return ids;
  }

  private static String counts(List<Result> rs) {
    return count(rs, Outcome.PASSED)
        + " passed, "
        + count(rs, Outcome.FAILED)
        + " failed, "
        + count(rs, Outcome.ABORTED)
        + " aborted, "
        + count(rs, Outcome.SKIPPED)
        + " skipped";
  }

  private static String cell(List<Result> rs) {
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
  private static Map<String, Integer> reasons(List<Result> rs, Outcome o) {
    Map<String, Integer> counts = new LinkedHashMap<>();
    for (Result r : rs) {
      if (r.outcome() == o) {
        counts.merge(r.reason().isEmpty() ? "(no reason given)" : r.reason(), 1, Integer::sum);
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

  private static String mainReason(List<Result> rs, Outcome o) {
    Map<String, Integer> r = reasons(rs, o);
    return r.isEmpty() ? "" : r.keySet().iterator().next();
  }

  private Map<String, String> areaTitles() {
    Map<String, String> areas = new TreeMap<>(AREA_ORDER);
    for (Result r : results) {
      areas.putIfAbsent(r.area(), r.areaTitle());
    }
    return areas;
  }

  // ------------------------------------------------------------------------------- text

  /**
   * @return the compatibility matrix, the failures, the skip reasons and the verdicts
   */
  String toText() {
    StringBuilder sb = new StringBuilder();
    sb.append("TCK compatibility matrix: passed/failed/aborted/skipped tests per spec area\n\n");
    int width = 14;
    for (String b : backends) {
      width = Math.max(width, b.length() + 2);
    }
    String areaFormat = "%-44s";
    sb.append(String.format(Locale.ROOT, areaFormat, "area"));
    for (String b : backends) {
      sb.append(String.format(Locale.ROOT, "%-" + width + "s", b));
    }
    trim(sb).append('\n');
    for (Map.Entry<String, String> a : areaTitles().entrySet()) {
      String label = a.getKey() + "  " + a.getValue();
      sb.append(
          String.format(
              Locale.ROOT, areaFormat, label.length() > 43 ? label.substring(0, 43) : label));
      for (String b : backends) {
        List<Result> in = new ArrayList<>();
        for (Result r : results(b)) {
          if (r.area().equals(a.getKey())) {
            in.add(r);
          }
        }
        sb.append(String.format(Locale.ROOT, "%-" + width + "s", cell(in)));
      }
      trim(sb).append('\n');
    }
    sb.append(String.format(Locale.ROOT, areaFormat, "total"));
    for (String b : backends) {
      sb.append(String.format(Locale.ROOT, "%-" + width + "s", cell(results(b))));
    }
    trim(sb).append("\n\n");

    for (String b : backends) {
      List<Result> rs = results(b);
      section(sb, b, rs, Outcome.FAILED, "failed (required rules broken)");
      section(sb, b, rs, Outcome.ABORTED, "aborted (optional SHOULD rules not met)");
      Map<String, Integer> skips = reasons(rs, Outcome.SKIPPED);
      if (!skips.isEmpty()) {
        sb.append(b).append(": skipped, by reason:\n");
        for (Map.Entry<String, Integer> e : skips.entrySet()) {
          sb.append("  ").append(e.getValue()).append(" x ").append(e.getKey()).append('\n');
        }
      }
      for (String e : errors.getOrDefault(b, List.of())) {
        sb.append(b).append(": ").append(e).append('\n');
      }
    }
    sb.append("Verdicts:\n");
    for (String b : backends) {
      sb.append("  ").append(verdictLine(b)).append('\n');
    }
    return sb.toString();
  }

  private static StringBuilder trim(StringBuilder sb) {
    int end = sb.length();
    while (end > 0 && sb.charAt(end - 1) == ' ') {
      end--;
    }
    sb.setLength(end);
    return sb;
  }

  private static void section(
      StringBuilder sb, String b, List<Result> rs, Outcome o, String title) {
    boolean any = false;
    for (Result r : rs) {
      if (r.outcome() != o) {
        continue;
      }
      if (!any) {
        sb.append(b).append(": ").append(title).append(":\n");
        any = true;
      }
      sb.append("  ").append(r.test()).append(" [").append(r.area()).append("] ");
      sb.append(r.reason()).append('\n');
    }
  }

  // ------------------------------------------------------------------------------- JSON

  /**
   * @return {@code {"compatible":..., "backends":[{"name","verdict","counts","areas":{..},
   *     "tests":[..],"errors":[..]}]}}
   */
  String toJson() {
    StringBuilder sb = new StringBuilder("{\"compatible\":").append(!anyRequiredFailure());
    sb.append(",\"backends\":[");
    for (int i = 0; i < backends.size(); i++) {
      String b = backends.get(i);
      List<Result> rs = results(b);
      sb.append(i == 0 ? "" : ",").append("{\"name\":").append(q(b));
      sb.append(",\"verdict\":").append(q(verdict(b).name()));
      sb.append(",\"summary\":").append(q(verdictLine(b)));
      sb.append(",\"counts\":").append(jsonCounts(rs));
      sb.append(",\"areas\":{");
      boolean first = true;
      for (Map.Entry<String, String> a : areaTitles().entrySet()) {
        List<Result> in = new ArrayList<>();
        for (Result r : rs) {
          if (r.area().equals(a.getKey())) {
            in.add(r);
          }
        }
        if (in.isEmpty()) {
          continue;
        }
        sb.append(first ? "" : ",").append(q(a.getKey())).append(":{\"title\":");
        sb.append(q(a.getValue())).append(",\"counts\":").append(jsonCounts(in)).append('}');
        first = false;
      }
      sb.append("},\"tests\":[");
      for (int k = 0; k < rs.size(); k++) {
        Result r = rs.get(k);
        sb.append(k == 0 ? "" : ",");
        sb.append("{\"name\":").append(q(r.test()));
        sb.append(",\"class\":").append(q(r.testClass()));
        sb.append(",\"area\":").append(q(r.area()));
        sb.append(",\"rule\":").append(q(r.rule()));
        sb.append(",\"level\":").append(q(r.level()));
        sb.append(",\"outcome\":").append(q(r.outcome().name()));
        sb.append(",\"reason\":").append(q(r.reason()));
        sb.append(",\"millis\":").append(r.millis()).append('}');
      }
      sb.append("],\"errors\":[");
      List<String> es = errors.getOrDefault(b, List.of());
      for (int k = 0; k < es.size(); k++) {
        sb.append(k == 0 ? "" : ",").append(q(es.get(k)));
      }
      sb.append("]}");
    }
    return sb.append("]}\n").toString();
  }

  private static String jsonCounts(List<Result> rs) {
    return "{\"tests\":"
        + rs.size()
        + ",\"passed\":"
        + count(rs, Outcome.PASSED)
        + ",\"failed\":"
        + count(rs, Outcome.FAILED)
        + ",\"aborted\":"
        + count(rs, Outcome.ABORTED)
        + ",\"skipped\":"
        + count(rs, Outcome.SKIPPED)
        + "}";
  }

  static String q(String s) {
    StringBuilder sb = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20) {
            sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    return sb.append('"').toString();
  }

  // ------------------------------------------------------------------------------- JUnit XML

  /**
   * @return JUnit XML: one {@code testsuite} per backend and area ({@code divert4j-tck.<backend>.
   *     <area>}); failed tests have a {@code failure}, aborted and skipped ones a {@code skipped}
   *     element whose message starts with ABORTED or SKIPPED
   */
  String toJUnitXml() {
    StringBuilder sb = new StringBuilder("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    sb.append("<testsuites name=\"divert4j-tck\" tests=\"").append(results.size());
    sb.append("\" failures=\"").append(count(results, Outcome.FAILED));
    sb.append("\" skipped=\"");
    sb.append(count(results, Outcome.SKIPPED) + count(results, Outcome.ABORTED)).append("\">\n");
    for (String b : backends) {
      Map<String, List<Result>> byArea = new TreeMap<>(AREA_ORDER);
      for (Result r : results(b)) {
        byArea.computeIfAbsent(r.area(), k -> new ArrayList<>()).add(r);
      }
      for (Map.Entry<String, List<Result>> e : byArea.entrySet()) {
        List<Result> rs = e.getValue();
        long millis = 0;
        for (Result r : rs) {
          millis += r.millis();
        }
        sb.append("  <testsuite name=\"").append(x("divert4j-tck." + b + "." + e.getKey()));
        sb.append("\" tests=\"").append(rs.size());
        sb.append("\" failures=\"").append(count(rs, Outcome.FAILED));
        sb.append("\" errors=\"0\" skipped=\"");
        sb.append(count(rs, Outcome.SKIPPED) + count(rs, Outcome.ABORTED));
        sb.append("\" time=\"").append(seconds(millis)).append("\">\n");
        for (Result r : rs) {
          sb.append("    <testcase classname=\"").append(x(r.testClass()));
          sb.append("\" name=\"").append(x(r.test()));
          sb.append("\" time=\"").append(seconds(r.millis())).append('"');
          switch (r.outcome()) {
            case PASSED -> sb.append("/>\n");
            case FAILED ->
                sb.append(">\n      <failure message=\"")
                    .append(x(r.reason()))
                    .append("\"/>\n    </testcase>\n");
            default ->
                sb.append(">\n      <skipped message=\"")
                    .append(x(r.outcome() + ": " + r.reason()))
                    .append("\"/>\n    </testcase>\n");
          }
        }
        sb.append("  </testsuite>\n");
      }
    }
    return sb.append("</testsuites>\n").toString();
  }

  private static String seconds(long millis) {
    return String.format(Locale.ROOT, "%.3f", millis / 1000.0);
  }

  static String x(String s) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '<' -> sb.append("&lt;");
        case '>' -> sb.append("&gt;");
        case '&' -> sb.append("&amp;");
        case '"' -> sb.append("&quot;");
        case '\n' -> sb.append("&#10;");
        default -> {
          if (c >= 0x20 || c == '\t') {
            sb.append(c);
          }
        }
      }
    }
    return sb.toString();
  }
}
