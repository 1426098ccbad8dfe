package org.divert4j.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.xml.parsers.DocumentBuilderFactory;
import org.divert4j.Capability;
import org.divert4j.spi.Availability;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.platform.engine.discovery.DiscoverySelectors;
import org.junit.platform.launcher.core.LauncherConfig;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/** Checks how the TCK turns rules, capabilities and availability into outcomes and reports. */
class TckMachineryTest {
  private static Map<String, TckResult> byName(TckReport report) {
    Map<String, TckResult> m = new HashMap<>();
    for (TckResult r : report.results()) {
      m.put(r.testName(), r);
    }
    return m;
  }

  @Test
  void levelsAndCapabilitiesGiveTheirOutcomes() {
    FakeProvider fake = new FakeProvider("fake-a", Availability.ok(), Set.of());
    TckReport report = Tck.builder().provider(fake).classes(FakeVerification.class).run();
    Map<String, TckResult> r = byName(report);
    assertEquals(5, report.results().size(), report.toText());
    assertEquals(Outcome.PASSED, r.get("S1_passes").outcome());
    assertEquals(Outcome.FAILED, r.get("S2_failsAMustRule").outcome());
    assertTrue(r.get("S2_failsAMustRule").reason().contains("the port was not in use"));
    TckResult should = r.get("S52_failsAShouldRule");
    assertEquals(Outcome.ABORTED, should.outcome());
    assertTrue(should.reason().startsWith("SHOULD rule S52 is not met"), should.reason());
    assertTrue(should.reason().contains("packets came out of order"), should.reason());
    TckResult gated = r.get("S4_failsAGatedRule");
    assertEquals(Outcome.SKIPPED, gated.outcome());
    assertEquals(
        "S4 needs capability FORWARD, which backend 'fake-a' does not declare", gated.reason());
    assertEquals(Outcome.SKIPPED, r.get("S3_needsSharedRules").outcome());
    assertEquals("fake-a", should.backend());
    assertEquals("X", should.areaId());
    assertTrue(report.verdict("fake-a").startsWith("NOT COMPATIBLE"), report.verdict("fake-a"));
  }

  @Test
  void aDeclaredCapabilityThatBreaksItsRuleFails() {
    FakeProvider fake =
        new FakeProvider("fake-b", Availability.ok(), EnumSet.of(Capability.FORWARD));
    TckReport report = Tck.builder().provider(fake).classes(FakeVerification.class).run();
    TckResult gated = byName(report).get("S4_failsAGatedRule");
    assertEquals(Outcome.FAILED, gated.outcome());
    assertTrue(gated.reason().contains("declares the capability"), gated.reason());
    assertTrue(gated.reason().contains("forward came before input"), gated.reason());
  }

  @Test
  void ruleFilterRunsOnlyTheNamedRules() {
    FakeProvider fake = new FakeProvider("fake-c", Availability.ok(), Set.of());
    TckReport report =
        Tck.builder().provider(fake).classes(FakeVerification.class).rules("S1", "S52").run();
    assertEquals(Set.of("S1_passes", "S52_failsAShouldRule"), byName(report).keySet());
  }

  @Test
  void anUnavailableBackendIsSkippedWithItsReasonAndNotVerified() {
    TckReport report = Tck.run("tck-selftest-unavailable", TckListener.NONE);
    int total = report.results().size();
    assertTrue(total > 50, "every TCK test must be reported, got " + total);
    assertEquals(total, report.count(Outcome.SKIPPED), report.toText());
    for (TckResult r : report.results()) {
      assertTrue(
          r.reason().contains("needs a kernel module that does not exist"),
          r.testName() + ": " + r.reason());
    }
    assertFalse(report.compatible("tck-selftest-unavailable"));
    assertTrue(report.verdict("tck-selftest-unavailable").startsWith("NOT VERIFIED"));
    assertTrue(report.toText().contains("NOT VERIFIED"), report.toText());
    assertEquals(SpecRules.ids(), report.rulesWithoutPass("tck-selftest-unavailable"));
  }

  @Test
  void anUnavailableBackendFailsWhenAvailabilityIsRequired() {
    TckReport report =
        Tck.builder().backend("tck-selftest-unavailable").requireAvailable(true).run();
    assertEquals(report.results().size(), report.count(Outcome.FAILED), report.toText());
    assertTrue(
        report.results().get(0).reason().contains(TckSettings.REQUIRE_AVAILABLE),
        report.results().get(0).reason());
  }

  @Test
  void aMissingBackendIsSkippedNamingTheProvidersFound() {
    TckReport report = Tck.builder().backend("no-such-backend").rules("S1").run();
    assertFalse(report.results().isEmpty());
    for (TckResult r : report.results()) {
      assertEquals(Outcome.SKIPPED, r.outcome());
      assertTrue(r.reason().contains("'no-such-backend' was not found"), r.reason());
      assertTrue(r.reason().contains("tck-selftest-unavailable"), r.reason());
    }
  }

  @Test
  void aTestBedThatTurnsOutUnavailableSkipsTheRun() {
    FakeProvider fake =
        new FakeProvider("fake-d", Availability.ok(), EnumSet.noneOf(Capability.class));
    TckReport report = Tck.run(fake, TckListener.NONE);
    assertEquals(report.results().size(), report.count(Outcome.SKIPPED), report.toText());
    boolean sawBedReason = false;
    for (TckResult r : report.results()) {
      if (r.reason().contains("test bed unavailable on backend 'fake-d'")) {
        sawBedReason = true;
      } else {
        assertTrue(r.reason().contains("needs capability"), r.testName() + ": " + r.reason());
      }
    }
    assertTrue(sawBedReason, report.toText());
    assertTrue(report.verdict("fake-d").startsWith("NOT VERIFIED"), report.verdict("fake-d"));
  }

  @Test
  void theSubclassWayFindsItsProvider() {
    TckReport report = Tck.builder().backend("ignored").classes(FakeSuite.class).rules("S2").run();
    assertFalse(report.results().isEmpty(), "the nested verifications must be discovered");
    for (TckResult r : report.results()) {
      assertEquals("fake-suite", r.backend(), r.toString());
      assertEquals(Outcome.SKIPPED, r.outcome(), r.toString());
      assertTrue(r.reason().contains("test bed unavailable"), r.reason());
    }
  }

  @Test
  void reportsRenderAsTextJsonAndWellFormedJUnitXml() throws Exception {
    FakeProvider fake = new FakeProvider("fake-e", Availability.ok(), Set.of());
    TckReport report = Tck.builder().provider(fake).classes(FakeVerification.class).run();
    String text = report.toText();
    assertTrue(text.contains("backend 'fake-e'"), text);
    assertTrue(text.contains("Failed (required rules broken)"), text);
    assertTrue(text.contains("Aborted (optional SHOULD rules not met)"), text);
    assertTrue(text.contains("Rules with no passing test: S2, S3, S4"), text);
    String json = report.toJson();
    assertTrue(json.startsWith("{\"compatible\":false,\"backends\":[{\"name\":\"fake-e\""), json);
    assertTrue(json.contains("\"S52\":{\"tests\":1,\"passed\":0,\"failed\":0,\"aborted\":1"), json);
    String xml = report.toJUnitXml();
    DocumentBuilderFactory.newInstance()
        .newDocumentBuilder()
        .parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)));
    assertTrue(xml.contains("<failure message="), xml);
  }

  @Test
  void theSummaryListenerPrintsALoudVerdictAndWritesTheReports(@TempDir Path dir) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    TckSummaryListener listener =
        new TckSummaryListener(new PrintStream(bytes, true, StandardCharsets.UTF_8));
    LauncherFactory.create(
            LauncherConfig.builder().enableTestExecutionListenerAutoRegistration(false).build())
        .execute(
            LauncherDiscoveryRequestBuilder.request()
                .selectors(DiscoverySelectors.selectClass(SocketsAndRulesVerification.class))
                .configurationParameter(TckSettings.BACKEND, "tck-selftest-unavailable")
                .configurationParameter(TckSettings.REPORT_DIR, dir.toString())
                .build(),
            listener);
    String out = bytes.toString(StandardCharsets.UTF_8);
    assertTrue(out.contains("NOT VERIFIED: backend 'tck-selftest-unavailable'"), out);
    // area A's 12 tests run once per address family
    assertTrue(out.contains("24 x backend 'tck-selftest-unavailable' is unavailable"), out);
    for (String ext : List.of("txt", "json", "xml")) {
      assertTrue(
          Files.exists(dir.resolve("divert-tck-tck-selftest-unavailable." + ext)), "." + ext);
    }
  }

  @Test
  void theSummaryListenerIsSilentWithoutTckTests() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    LauncherFactory.create(
            LauncherConfig.builder().enableTestExecutionListenerAutoRegistration(false).build())
        .execute(
            LauncherDiscoveryRequestBuilder.request()
                .selectors(DiscoverySelectors.selectClass(TckSettingsTest.class))
                .build(),
            new TckSummaryListener(new PrintStream(bytes, true, StandardCharsets.UTF_8)));
    assertEquals("", bytes.toString(StandardCharsets.UTF_8));
  }

  @Test
  void aSingleVerificationCanBeSubclassedToo() {
    TckReport report = Tck.builder().classes(FakeMtu.class).run();
    assertFalse(report.results().isEmpty());
    assertEquals(List.of("fake-single"), report.backends(), report.toText());
    assertEquals("F", report.results().get(0).areaId());
  }

  /** One verification with its provider. */
  static class FakeMtu extends MtuVerification implements TckProviderSource {
    @Override
    public org.divert4j.spi.DivertProvider provider() {
      return new FakeProvider("fake-single", Availability.ok(), Set.of());
    }
  }

  /** The subclass way, with a provider that has no test beds. */
  static class FakeSuite extends TckSuite {
    @Override
    public org.divert4j.spi.DivertProvider provider() {
      return new FakeProvider("fake-suite", Availability.ok(), Set.of());
    }
  }
}
