package org.divert4j.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.divert4j.Capability;
import org.divert4j.spi.Availability;
import org.junit.jupiter.api.Test;

/** The strict verdict of {@link TckReport}, one case per way a backend can fall short of it. */
class TckReportTest {
  private static final String B = "b";

  private static TckResult result(String rule, Level level, Outcome outcome, String reason) {
    return result(rule, level, List.of(), outcome, reason);
  }

  private static TckResult result(
      String rule, Level level, List<Capability> caps, Outcome outcome, String reason) {
    return new TckResult(
        B,
        "A",
        "area",
        rule,
        level,
        caps,
        "T",
        rule + "_test" + outcome + level,
        outcome,
        reason,
        "",
        1);
  }

  private static TckResult pass(String rule) {
    return result(rule, Level.MUST, Outcome.PASSED, "");
  }

  private static TckResult capabilitySkip(String rule, Capability cap) {
    return result(
        rule,
        Level.MUST,
        List.of(cap),
        Outcome.SKIPPED,
        rule + " needs capability " + cap + ", which backend 'b' does not declare");
  }

  private static TckReport report(TckResult... rs) {
    return new TckReport(List.of(rs), List.of());
  }

  @Test
  void passingEveryRuleIsCompatible() {
    TckReport r = report(pass("S1"), pass("S2"));
    assertTrue(r.compatible(B), r.toText());
    assertFalse(r.failed(B));
    assertTrue(r.verdict(B).startsWith("COMPATIBLE"), r.verdict(B));
  }

  @Test
  void aFailedMustTestIsNotCompatible() {
    TckReport r = report(pass("S1"), result("S2", Level.MUST, Outcome.FAILED, "in use"));
    assertFalse(r.compatible(B));
    assertTrue(r.failed(B));
    assertEquals("NOT COMPATIBLE: backend 'b' fails 1 required test (rules S2)", r.verdict(B));
  }

  @Test
  void anAbortedMustTestIsAFailure() {
    TckReport r = report(pass("S1"), pass("S2"), result("S2", Level.MUST, Outcome.ABORTED, "x"));
    assertFalse(r.compatible(B), r.toText());
    assertTrue(r.failed(B));
    assertTrue(r.verdict(B).contains("(rules S2)"), r.verdict(B));
  }

  @Test
  void anAbortedShouldTestIsAnOptionalMiss() {
    TckReport r = report(pass("S1"), pass("S52"), result("S52", Level.SHOULD, Outcome.ABORTED, ""));
    assertTrue(r.compatible(B), r.toText());
    assertTrue(r.verdict(B).contains("1 optional (SHOULD) not met"), r.verdict(B));
  }

  @Test
  void aSkipForAnUndeclaredCapabilityIsAcceptedAndTheRuleDoesNotApply() {
    TckReport r = report(pass("S1"), capabilitySkip("S4", Capability.FORWARD));
    assertTrue(r.compatible(B), r.toText());
    assertEquals(List.of(), r.mustRulesWithoutPass(B));
    assertTrue(r.verdict(B).contains("1 skipped for undeclared capabilities"), r.verdict(B));
  }

  /** The old verdict let up to half the tests be skipped for any reason. */
  @Test
  void oneSkipWithoutACapabilityReasonIsNotVerified() {
    List<TckResult> rs = new ArrayList<>();
    for (String id : List.of("S1", "S2", "S3", "S5", "S6", "S8", "S9", "S11", "S12")) {
      rs.add(pass(id));
    }
    rs.add(result("S14", Level.MUST, Outcome.SKIPPED, "test bed unavailable on backend 'b'"));
    TckReport r = new TckReport(rs, List.of());
    assertFalse(r.compatible(B), r.toText());
    assertFalse(r.failed(B), "unverified is not failed");
    assertEquals(1, r.unexcusedSkips(B).size());
    assertTrue(
        r.verdict(B)
            .startsWith(
                "NOT VERIFIED: backend 'b': 1 of 10 TCK tests were skipped without a"
                    + " declared-capability reason: test bed unavailable"),
        r.verdict(B));
  }

  /** A gated test skipped because the test bed was unavailable is not a capability skip. */
  @Test
  void aGatedTestSkippedForAnotherReasonIsNotExcused() {
    TckReport r =
        report(
            pass("S1"),
            result(
                "S4",
                Level.MUST,
                List.of(Capability.FORWARD),
                Outcome.SKIPPED,
                "backend 'b' is unavailable"));
    assertFalse(r.compatible(B));
    assertTrue(r.verdict(B).startsWith("NOT VERIFIED"), r.verdict(B));
  }

  /** A rule of the run's scope that no test checked is a MUST rule without a passing test. */
  @Test
  void aMustRuleOfTheScopeWithoutAnyTestIsNotCompatible() {
    TckReport r = report(pass("S1")).scoped(List.of("S1", "S2", "S52"));
    assertEquals(List.of("S2"), r.mustRulesWithoutPass(B), "S52 is a SHOULD rule");
    assertFalse(r.compatible(B));
    assertTrue(r.failed(B));
    assertEquals(
        "NOT COMPATIBLE: backend 'b': MUST rules that apply have no passing test (S2)",
        r.verdict(B));
  }

  /** A rule whose MUST test is gated away but whose SHOULD test ran still needs its pass. */
  @Test
  void aRuleWithOnlyAnAbortedShouldTestLeftHasNoPass() {
    TckReport r =
        report(
            pass("S1"),
            capabilitySkip("S12", Capability.FORWARD),
            result("S12", Level.MUST, Outcome.PASSED, ""),
            result(
                "S13",
                Level.MUST,
                List.of(Capability.FORWARD),
                Outcome.SKIPPED,
                "S13 needs" + " capability FORWARD, which backend 'b' does not declare"),
            result("S13", Level.SHOULD, Outcome.ABORTED, "not met"));
    assertEquals(List.of("S13"), r.mustRulesWithoutPass(B));
    assertFalse(r.compatible(B));
  }

  @Test
  void anErrorOutsideAnyTestIsNotCompatible() {
    TckReport r = new TckReport(List.of(pass("S1")), List.of("X could not run"));
    assertFalse(r.compatible(B));
    assertTrue(r.failed(B));
  }

  @Test
  void noResultsIsNotVerified() {
    TckReport r = report();
    assertFalse(r.compatible(B));
    assertFalse(r.compatible());
    assertTrue(r.verdict(B).startsWith("NOT VERIFIED"));
  }

  @Test
  void mergingKeepsTheScopes() {
    TckReport a = report(pass("S1")).scoped(List.of("S2"));
    TckReport m = TckReport.merge(List.of(a, report(pass("S1"))));
    assertEquals(Set.of("S1", "S2"), m.scope());
    assertFalse(m.compatible(B));
  }

  /** The collector turns a MUST test's abort into a failure, and keeps a SHOULD test's abort. */
  @Test
  void anAbortingMustTestFailsThroughTheWholeMachinery() {
    FakeProvider fake = new FakeProvider("fake-abort", Availability.ok(), Set.of());
    TckReport report = Tck.builder().provider(fake).classes(FakeAbortingVerification.class).run();
    assertEquals(2, report.results().size(), report.toText());
    for (TckResult r : report.results()) {
      if (r.ruleId().equals("S1")) {
        assertEquals(Outcome.FAILED, r.outcome(), r.toString());
        assertTrue(r.reason().startsWith("MUST test aborted"), r.reason());
        assertTrue(r.reason().contains("the receive never blocked"), r.reason());
      } else {
        assertEquals(Outcome.ABORTED, r.outcome(), r.toString());
      }
    }
    assertTrue(report.failed("fake-abort"));
  }

  /** A full run of the standard verifications is scoped to every rule of SEMANTICS.md. */
  @Test
  void aFullRunIsScopedToTheWholeCatalogue() {
    TckReport report = Tck.run("tck-selftest-unavailable", TckListener.NONE);
    assertEquals(Set.copyOf(SpecRules.ids()), Set.copyOf(report.scope()));
    TckReport some = Tck.builder().backend("tck-selftest-unavailable").rules("S2").run();
    assertEquals(Set.of("S2"), some.scope());
  }
}
