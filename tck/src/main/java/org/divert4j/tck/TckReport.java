package org.divert4j.tck;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The results of a TCK run, for one or more backends: every test's outcome, counts per backend and
 * area, the rules with no passing test, and a strict verdict (see {@link #compatible(String)}): a
 * backend is compatible only when every MUST rule that applies to it has a passing test and nothing
 * was skipped except for a capability it does not declare. Renders as text (for consoles), JSON and
 * JUnit XML. Immutable.
 */
public final class TckReport {
  private final List<TckResult> results;
  private final List<String> errors;
  private final Set<String> scope;

  /**
   * A report whose scope is the rules its results name (a run of chosen test classes).
   *
   * @param results the test outcomes
   * @param errors failures outside any test (a verification class that could not start), each one
   *     line; they make the run fail
   */
  public TckReport(List<TckResult> results, List<String> errors) {
    this(results, errors, Set.of());
  }

  private TckReport(List<TckResult> results, List<String> errors, Set<String> scope) {
    this.results = List.copyOf(results);
    this.errors = List.copyOf(errors);
    Set<String> s = new java.util.TreeSet<>(RULE_ORDER);
    s.addAll(scope);
    for (TckResult r : this.results) {
      s.add(r.ruleId());
    }
    this.scope = Collections.unmodifiableSet(s);
  }

  /**
   * @param ruleIds the rules the run was meant to verify (every rule of SEMANTICS.md for a full
   *     run); a MUST rule among them with no test result at all is then a rule without a passing
   *     test, so a verification left out of the run cannot make the verdict greener
   * @return a copy of this report with that scope added
   */
  public TckReport scoped(java.util.Collection<String> ruleIds) {
    Set<String> s = new LinkedHashSet<>(scope);
    s.addAll(ruleIds);
    return new TckReport(results, errors, s);
  }

  /**
   * @return the rules the run was meant to verify, in specification order
   */
  public Set<String> scope() {
    return scope;
  }

  /**
   * @param reports reports to merge (e.g. one per backend)
   * @return one report holding all their results
   */
  public static TckReport merge(List<TckReport> reports) {
    List<TckResult> r = new ArrayList<>();
    List<String> e = new ArrayList<>();
    Set<String> s = new LinkedHashSet<>();
    for (TckReport t : reports) {
      r.addAll(t.results);
      e.addAll(t.errors);
      s.addAll(t.scope);
    }
    return new TckReport(r, e, s);
  }

  /**
   * @return every result, in the order the tests ran
   */
  public List<TckResult> results() {
    return results;
  }

  /**
   * @return failures outside any test
   */
  public List<String> errors() {
    return errors;
  }

  /**
   * @return the backends with results, in the order they first appear
   */
  public List<String> backends() {
    Set<String> b = new LinkedHashSet<>();
    for (TckResult r : results) {
      b.add(r.backend());
    }
    return List.copyOf(b);
  }

  /**
   * @param backend a backend's name
   * @return its results
   */
  public List<TckResult> results(String backend) {
    List<TckResult> out = new ArrayList<>();
    for (TckResult r : results) {
      if (r.backend().equals(backend)) {
        out.add(r);
      }
    }
    return out;
  }

  /**
   * @param outcome an outcome
   * @return how many tests of any backend had it
   */
  public int count(Outcome outcome) {
    return count(results, outcome);
  }

  /**
   * @param backend a backend's name
   * @param outcome an outcome
   * @return how many of its tests had it
   */
  public int count(String backend, Outcome outcome) {
    return count(results(backend), outcome);
  }

  static int count(List<TckResult> rs, Outcome outcome) {
    int n = 0;
    for (TckResult r : rs) {
      if (r.outcome() == outcome) {
        n++;
      }
    }
    return n;
  }

  /**
   * @param backend a backend's name
   * @param outcome an outcome
   * @return the rule ids with at least one test of that outcome, in specification order
   */
  public Set<String> rules(String backend, Outcome outcome) {
    Set<String> ids = new java.util.TreeSet<>(RULE_ORDER);
    for (TckResult r : results(backend)) {
      if (r.outcome() == outcome) {
        ids.add(r.ruleId());
      }
    }
    return Collections.unmodifiableSet(ids);
  }

  /**
   * @param backend a backend's name
   * @return the rules of SEMANTICS.md that no test passed on this backend, in specification order
   *     (a rule can be listed because its tests failed, aborted, were skipped, or did not run)
   */
  public List<String> rulesWithoutPass(String backend) {
    Set<String> passed = rules(backend, Outcome.PASSED);
    List<String> out = new ArrayList<>();
    for (String id : SpecRules.ids()) {
      if (!passed.contains(id)) {
        out.add(id);
      }
    }
    return out;
  }

  /**
   * The start of the reason of a test skipped because the backend does not declare a capability its
   * rule needs, after the rule id: {@code "S4 needs capability FORWARD, which ..."}. The only kind
   * of skip a compatible backend may have.
   */
  static final String CAPABILITY_SKIP = " needs capability ";

  /**
   * The start of the reason of the IPv6 run of a test whose rule has no IPv6 reading ({@link
   * Ipv4Only}), after the rule id: {@code "S39 does not apply to IPv6: ..."}.
   */
  static final String FAMILY_SKIP = " does not apply to IPv6: ";

  /**
   * @param r a result
   * @return true if it is the IPv6 run of a test whose rule has no IPv6 reading ({@link Ipv4Only}),
   *     skipped with the reason; not held against the backend, as its IPv4 run still counts
   */
  public static boolean skippedAsNotApplicable(TckResult r) {
    return r.outcome() == Outcome.SKIPPED
        && r.family().equals("IPv6")
        && r.reason().startsWith(r.ruleId() + FAMILY_SKIP);
  }

  /**
   * @param r a result
   * @return true if it was skipped for a reason that does not count against the backend: a
   *     capability it does not declare, or a family the rule does not apply to
   */
  public static boolean excusedSkip(TckResult r) {
    return skippedForCapability(r) || skippedAsNotApplicable(r);
  }

  /**
   * @param r a result
   * @return true if it was skipped because the backend does not declare a capability its rule needs
   *     (the test declares capabilities and the reason says so)
   */
  public static boolean skippedForCapability(TckResult r) {
    return r.outcome() == Outcome.SKIPPED
        && !r.capabilities().isEmpty()
        && r.reason().startsWith(r.ruleId() + CAPABILITY_SKIP);
  }

  /**
   * @param r a result
   * @return true if it breaks a required rule: it failed, or a MUST test aborted (an aborted MUST
   *     test did not show the rule held, and no capability excuses it)
   */
  public static boolean breaksRequiredRule(TckResult r) {
    return r.outcome() == Outcome.FAILED
        || (r.outcome() == Outcome.ABORTED && r.level() == Level.MUST);
  }

  /**
   * @param backend a backend's name
   * @return its tests that failed, or aborted though their rule is MUST
   */
  public List<TckResult> broken(String backend) {
    List<TckResult> out = new ArrayList<>();
    for (TckResult r : results(backend)) {
      if (breaksRequiredRule(r)) {
        out.add(r);
      }
    }
    return out;
  }

  /**
   * @param backend a backend's name
   * @return its tests skipped for any reason other than a capability the backend does not declare
   *     (backend or test bed unavailable, ...): each one is a rule left unverified
   */
  public List<TckResult> unexcusedSkips(String backend) {
    List<TckResult> out = new ArrayList<>();
    for (TckResult r : results(backend)) {
      if (r.outcome() == Outcome.SKIPPED && !excusedSkip(r)) {
        out.add(r);
      }
    }
    return out;
  }

  /**
   * A rule of the {@link #scope()} applies to a backend unless every one of its tests was skipped
   * for a capability the backend does not declare. It is a MUST rule when one of its tests is MUST,
   * or, when none of its tests ran, unless the catalogue calls the whole rule SHOULD.
   *
   * @param backend a backend's name
   * @return the MUST rules that apply to the backend and that no test passed, in specification
   *     order (including rules of the scope that no test checked at all)
   */
  public List<String> mustRulesWithoutPass(String backend) {
    Map<String, List<TckResult>> byRule = new LinkedHashMap<>();
    for (TckResult r : results(backend)) {
      byRule.computeIfAbsent(r.ruleId(), k -> new ArrayList<>()).add(r);
    }
    Set<String> passed = rules(backend, Outcome.PASSED);
    List<String> out = new ArrayList<>();
    for (String id : scope) {
      if (passed.contains(id)) {
        continue;
      }
      List<TckResult> rs = byRule.getOrDefault(id, List.of());
      boolean must =
          rs.isEmpty()
              ? !SpecRules.find(id).map(rule -> rule.note().equals("SHOULD")).orElse(false)
              : rs.stream().anyMatch(r -> r.level() == Level.MUST);
      boolean applies = rs.isEmpty() || !rs.stream().allMatch(TckReport::excusedSkip);
      if (must && applies) {
        out.add(id);
      }
    }
    return out;
  }

  /**
   * The strict verdict: tests ran; none failed; no MUST test aborted; every skip is a capability
   * the backend does not declare; every MUST rule that applies has at least one passing test; and
   * no verification class failed to start.
   *
   * @param backend a backend's name
   * @return true if the backend is compatible by that verdict
   */
  public boolean compatible(String backend) {
    return !results(backend).isEmpty()
        && broken(backend).isEmpty()
        && unexcusedSkips(backend).isEmpty()
        && mustRulesWithoutPass(backend).isEmpty()
        && errors.isEmpty();
  }

  /**
   * @param backend a backend's name
   * @return true if its verdict is NOT COMPATIBLE (as opposed to NOT VERIFIED or COMPATIBLE): a
   *     required test failed or a MUST test aborted, a verification class could not start, or, with
   *     nothing skipped but for undeclared capabilities, a MUST rule that applies has no passing
   *     test
   */
  public boolean failed(String backend) {
    return !broken(backend).isEmpty()
        || !errors.isEmpty()
        || (!results(backend).isEmpty()
            && unexcusedSkips(backend).isEmpty()
            && !mustRulesWithoutPass(backend).isEmpty());
  }

  /**
   * @return true if every backend in the report is {@link #compatible(String)}, and there is one
   */
  public boolean compatible() {
    List<String> b = backends();
    if (b.isEmpty()) {
      return false;
    }
    for (String name : b) {
      if (!compatible(name)) {
        return false;
      }
    }
    return true;
  }

  /**
   * @param backend a backend's name
   * @return one line: COMPATIBLE; NOT COMPATIBLE (with the broken rules, or the MUST rules without
   *     a passing test); or NOT VERIFIED (when tests were skipped for a reason other than an
   *     undeclared capability, with the main reason)
   */
  public String verdict(String backend) {
    List<TckResult> rs = results(backend);
    if (rs.isEmpty()) {
      return "NOT VERIFIED: backend '" + backend + "': no TCK test ran";
    }
    List<TckResult> broken = broken(backend);
    if (!broken.isEmpty()) {
      Set<String> ids = new java.util.TreeSet<>(RULE_ORDER);
      for (TckResult r : broken) {
        ids.add(r.ruleId());
      }
      return "NOT COMPATIBLE: backend '"
          + backend
          + "' fails "
          + broken.size()
          + " required test"
          + (broken.size() == 1 ? "" : "s")
          + " (rules "
          + String.join(", ", ids)
          + ")";
    }
    if (!errors.isEmpty()) {
      return "NOT COMPATIBLE: " + errors.size() + " verification class(es) could not run";
    }
    List<TckResult> skips = unexcusedSkips(backend);
    if (!skips.isEmpty()) {
      return "NOT VERIFIED: backend '"
          + backend
          + "': "
          + skips.size()
          + " of "
          + rs.size()
          + " TCK tests were skipped without a declared-capability reason: "
          + mainSkipReason(skips);
    }
    List<String> noPass = mustRulesWithoutPass(backend);
    if (!noPass.isEmpty()) {
      return "NOT COMPATIBLE: backend '"
          + backend
          + "': MUST rules that apply have no passing test ("
          + String.join(", ", noPass)
          + ")";
    }
    int notApplicable = (int) rs.stream().filter(TckReport::skippedAsNotApplicable).count();
    int skipped = count(rs, Outcome.SKIPPED) - notApplicable;
    return "COMPATIBLE: backend '"
        + backend
        + "' passes every required test that applies to it ("
        + count(rs, Outcome.PASSED)
        + " passed"
        + (skipped > 0 ? ", " + skipped + " skipped for undeclared capabilities" : "")
        + (notApplicable > 0 ? ", " + notApplicable + " IPv6 runs of IPv4-only tests skipped" : "")
        + (count(rs, Outcome.ABORTED) > 0
            ? ", " + count(rs, Outcome.ABORTED) + " optional (SHOULD) not met"
            : "")
        + ")";
  }

  private static String mainSkipReason(List<TckResult> rs) {
    Map<String, Integer> reasons = reasons(rs, Outcome.SKIPPED);
    return reasons.isEmpty() ? "" : reasons.keySet().iterator().next();
  }

  /** Reasons for an outcome, most frequent first. */
  static Map<String, Integer> reasons(List<TckResult> rs, Outcome outcome) {
    Map<String, Integer> counts = new LinkedHashMap<>();
    for (TckResult r : rs) {
      if (r.outcome() == outcome) {
        counts.merge(r.reason(), 1, Integer::sum);
      }
    }
    List<Map.Entry<String, Integer>> list = new ArrayList<>(counts.entrySet());
    list.sort(Map.Entry.<String, Integer>comparingByValue().reversed());
    Map<String, Integer> sorted = new LinkedHashMap<>();
    for (Map.Entry<String, Integer> e : list) {
      sorted.put(e.getKey(), e.getValue());
    }
    return sorted;
  }

  static final Comparator<String> RULE_ORDER =
      Comparator.comparingInt(
              (String id) -> {
                int i = SpecRules.ids().indexOf(id);
                return i < 0 ? Integer.MAX_VALUE : i;
              })
          .thenComparing(Comparator.naturalOrder());

  /**
   * @return the report as text: per backend, a table of counts per area, the failures, the aborts
   *     and skips with their reasons, the rules with no passing test, and the verdict
   */
  public String toText() {
    return TckReportText.text(this);
  }

  static final Comparator<String> AREA_ORDER =
      Comparator.comparingInt((String s) -> s.startsWith("L") ? 1 : 0)
          .thenComparing(Comparator.naturalOrder());

  /**
   * @return the report as JSON: {@code {"compatible":..., "backends":[{"name", "verdict", "counts",
   *     "areas", "rulesWithoutPass", "rules": {id: {outcome counts}}, "tests":[...]}],
   *     "errors":[...]}}
   */
  public String toJson() {
    return TckReportFormats.json(this);
  }

  /**
   * @return the report as JUnit XML: one {@code testsuite} per backend and area (named {@code
   *     divert4j-tck.<backend>.<area>}); failed tests have a {@code failure}, aborted and skipped
   *     ones a {@code skipped} element whose message starts with ABORTED or SKIPPED
   */
  public String toJUnitXml() {
    return TckReportFormats.junitXml(this);
  }

  @Override
  public String toString() {
    return toText();
  }
}
