package org.divert4j.tck;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Renders a {@link TckReport} as JSON and as JUnit XML, for tools; {@link TckReportText} renders
 * the text form.
 */
final class TckReportFormats {
  private TckReportFormats() {}

  /** The report as JSON, as {@link TckReport#toJson()} describes it. */
  static String json(TckReport report) {
    StringBuilder sb = new StringBuilder("{\"compatible\":").append(report.compatible());
    sb.append(",\"backends\":[");
    boolean firstBackend = true;
    for (String backend : report.backends()) {
      List<TckResult> rs = report.results(backend);
      sb.append(firstBackend ? "" : ",");
      firstBackend = false;
      sb.append("{\"name\":").append(q(backend));
      sb.append(",\"compatible\":").append(report.compatible(backend));
      sb.append(",\"verdict\":").append(q(report.verdict(backend)));
      sb.append(",\"counts\":").append(counts(rs));
      sb.append(",\"areas\":{");
      Map<String, List<TckResult>> byArea = new TreeMap<>(TckReport.AREA_ORDER);
      for (TckResult r : rs) {
        byArea.computeIfAbsent(r.areaId(), k -> new ArrayList<>()).add(r);
      }
      boolean first = true;
      for (Map.Entry<String, List<TckResult>> e : byArea.entrySet()) {
        sb.append(first ? "" : ",").append(q(e.getKey())).append(':');
        sb.append("{\"title\":").append(q(e.getValue().get(0).areaTitle()));
        sb.append(",\"counts\":").append(counts(e.getValue()));
        Map<String, List<TckResult>> byFamily = new TreeMap<>();
        for (TckResult r : e.getValue()) {
          if (!r.family().isEmpty()) {
            byFamily.computeIfAbsent(r.family(), k -> new ArrayList<>()).add(r);
          }
        }
        if (!byFamily.isEmpty()) {
          sb.append(",\"families\":{");
          boolean firstFamily = true;
          for (Map.Entry<String, List<TckResult>> f : byFamily.entrySet()) {
            sb.append(firstFamily ? "" : ",").append(q(f.getKey())).append(':');
            sb.append(counts(f.getValue()));
            firstFamily = false;
          }
          sb.append('}');
        }
        sb.append('}');
        first = false;
      }
      sb.append("},\"rules\":{");
      Map<String, List<TckResult>> byRule = new TreeMap<>(TckReport.RULE_ORDER);
      for (TckResult r : rs) {
        byRule.computeIfAbsent(r.ruleId(), k -> new ArrayList<>()).add(r);
      }
      first = true;
      for (Map.Entry<String, List<TckResult>> e : byRule.entrySet()) {
        sb.append(first ? "" : ",").append(q(e.getKey())).append(':').append(counts(e.getValue()));
        first = false;
      }
      sb.append("},\"rulesWithoutPass\":[");
      first = true;
      for (String id : report.rulesWithoutPass(backend)) {
        sb.append(first ? "" : ",").append(q(id));
        first = false;
      }
      sb.append("],\"tests\":[");
      first = true;
      for (TckResult r : rs) {
        sb.append(first ? "" : ",");
        first = false;
        sb.append("{\"name\":").append(q(r.testName()));
        sb.append(",\"class\":").append(q(r.testClass()));
        if (!r.family().isEmpty()) {
          sb.append(",\"family\":").append(q(r.family()));
        }
        sb.append(",\"area\":").append(q(r.areaId()));
        sb.append(",\"rule\":").append(q(r.ruleId()));
        sb.append(",\"level\":").append(q(r.level().name()));
        sb.append(",\"capabilities\":[");
        for (int i = 0; i < r.capabilities().size(); i++) {
          sb.append(i == 0 ? "" : ",").append(q(r.capabilities().get(i).name()));
        }
        sb.append("],\"outcome\":").append(q(r.outcome().name()));
        sb.append(",\"reason\":").append(q(r.reason()));
        sb.append(",\"millis\":").append(r.millis()).append('}');
      }
      sb.append("]}");
    }
    sb.append("],\"errors\":[");
    List<String> errors = report.errors();
    for (int i = 0; i < errors.size(); i++) {
      sb.append(i == 0 ? "" : ",").append(q(errors.get(i)));
    }
    return sb.append("]}").toString();
  }

  private static String counts(List<TckResult> rs) {
    Map<Outcome, Integer> m = new EnumMap<>(Outcome.class);
    for (Outcome o : Outcome.values()) {
      m.put(o, TckReport.count(rs, o));
    }
    StringBuilder sb = new StringBuilder("{\"tests\":").append(rs.size());
    for (Map.Entry<Outcome, Integer> e : m.entrySet()) {
      sb.append(",\"").append(e.getKey().name().toLowerCase(Locale.ROOT)).append("\":");
      sb.append(e.getValue());
    }
    return sb.append('}').toString();
  }

  private static String q(String s) {
    StringBuilder sb = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
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

  /** The report as JUnit XML, as {@link TckReport#toJUnitXml()} describes it. */
  static String junitXml(TckReport report) {
    StringBuilder sb = new StringBuilder("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    sb.append("<testsuites name=\"divert4j-tck\" tests=\"").append(report.results().size());
    sb.append("\" failures=\"").append(report.count(Outcome.FAILED) + report.errors().size());
    sb.append("\" skipped=\"")
        .append(report.count(Outcome.SKIPPED) + report.count(Outcome.ABORTED));
    sb.append("\">\n");
    for (String backend : report.backends()) {
      Map<String, List<TckResult>> byArea = new TreeMap<>(TckReport.AREA_ORDER);
      for (TckResult r : report.results(backend)) {
        byArea.computeIfAbsent(r.areaId(), k -> new ArrayList<>()).add(r);
      }
      for (Map.Entry<String, List<TckResult>> e : byArea.entrySet()) {
        List<TckResult> rs = e.getValue();
        double seconds = 0;
        for (TckResult r : rs) {
          seconds += r.millis() / 1000.0;
        }
        sb.append("  <testsuite name=\"").append(x("divert4j-tck." + backend + "." + e.getKey()));
        sb.append("\" tests=\"").append(rs.size());
        sb.append("\" failures=\"").append(TckReport.count(rs, Outcome.FAILED));
        sb.append("\" errors=\"0\" skipped=\"");
        sb.append(TckReport.count(rs, Outcome.SKIPPED) + TckReport.count(rs, Outcome.ABORTED));
        sb.append("\" time=\"").append(String.format(Locale.ROOT, "%.3f", seconds)).append("\">\n");
        sb.append("    <properties>\n");
        sb.append("      <property name=\"backend\" value=\"").append(x(backend)).append("\"/>\n");
        sb.append("      <property name=\"area\" value=\"")
            .append(x(rs.get(0).areaTitle()))
            .append("\"/>\n");
        sb.append("    </properties>\n");
        for (TckResult r : rs) {
          sb.append("    <testcase classname=\"").append(x(r.testClass()));
          sb.append("\" name=\"").append(x(r.displayName()));
          sb.append("\" time=\"")
              .append(String.format(Locale.ROOT, "%.3f", r.millis() / 1000.0))
              .append('"');
          switch (r.outcome()) {
            case PASSED -> sb.append("/>\n");
            case FAILED -> {
              sb.append(">\n      <failure message=\"").append(x(r.reason())).append("\">");
              sb.append(x(r.detail())).append("</failure>\n    </testcase>\n");
            }
            default -> {
              sb.append(">\n      <skipped message=\"").append(x(r.outcome() + ": " + r.reason()));
              sb.append("\"/>\n    </testcase>\n");
            }
          }
        }
        sb.append("  </testsuite>\n");
      }
    }
    return sb.append("</testsuites>\n").toString();
  }

  private static String x(String s) {
    StringBuilder sb = new StringBuilder();
    for (char c : s.toCharArray()) {
      switch (c) {
        case '<' -> sb.append("&lt;");
        case '>' -> sb.append("&gt;");
        case '&' -> sb.append("&amp;");
        case '"' -> sb.append("&quot;");
        case '\n', '\r', '\t' -> sb.append(c);
        default -> {
          if (c >= 0x20) {
            sb.append(c);
          }
        }
      }
    }
    return sb.toString();
  }
}
