package org.divert4j.sim.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.divert4j.Capability;
import org.divert4j.sim.SimProvider;
import org.divert4j.spi.DivertProvider;
import org.divert4j.tck.Outcome;
import org.divert4j.tck.Tck;
import org.divert4j.tck.TckReport;
import org.divert4j.tck.TckResult;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * The TCK tests itself: the reference simulation passes it, and each deliberately broken backend
 * ({@link BrokenEngines}, {@link BrokenDecorators}) fails exactly the rules its fault breaks, no
 * more and no fewer.
 *
 * <p>Each broken backend is the simulation plus one fault, so its signature is measured against the
 * reference run: the rules of the tests that fail (or abort) on the broken backend but not on the
 * reference. That way a bug of the reference itself shows once, in {@link
 * #theReferenceSimulationPassesEveryRule()}, instead of in every self-test.
 */
class BrokenBackendsTest {
  private static TckReport reference;

  /**
   * The simulation answers at once, so a short timeout keeps the broken runs (whose failing tests
   * wait for packets that never come) fast without making any test flaky.
   */
  private static TckReport run(DivertProvider provider) {
    return Tck.builder().provider(provider).timeout(Duration.ofMillis(200)).run();
  }

  private static synchronized TckReport reference() {
    if (reference == null) {
      reference = run(new SimProvider());
    }
    return reference;
  }

  private static void assertFailsExactly(DivertProvider provider, String... rules) {
    assertOutcomes(provider, Set.of(rules), Set.of());
  }

  /**
   * Checks the rules whose tests fail, and those whose SHOULD tests abort, on the broken backend
   * and not on the reference; and that nothing was skipped.
   */
  private static TckReport assertOutcomes(
      DivertProvider provider, Set<String> failedRules, Set<String> abortedRules) {
    TckReport report = run(provider);
    String name = provider.name();
    record(report, name);
    assertEquals(
        new TreeSet<>(failedRules),
        newRules(report, name, Outcome.FAILED),
        "rules failed by " + name + ":\n" + report.toText());
    assertEquals(
        new TreeSet<>(abortedRules),
        newRules(report, name, Outcome.ABORTED),
        "SHOULD rules not met by " + name + ":\n" + report.toText());
    assertNoSkips(report, name);
    return report;
  }

  /**
   * Rules gated on a capability the simulation does not declare, so its TCK skips their tests: S69
   * (SEGMENT_OFFLOAD; the user-space stack has no TCP and no GSO/GRO, docs/backends.md).
   */
  private static final Set<String> NOT_DECLARED = Set.of("S69");

  /**
   * Nothing was skipped, except the tests of {@link #NOT_DECLARED}, the IPv6 runs of tests whose
   * rule has no IPv6 reading ({@code Ipv4Only}), and the IPv6 runs and area K while the simulation
   * does not declare {@link Capability#IPV6}.
   */
  private static void assertNoSkips(TckReport report, String name) {
    boolean ipv6 = new SimProvider().capabilities().contains(Capability.IPV6);
    for (TckResult r : report.results(name)) {
      if (r.outcome() == Outcome.SKIPPED) {
        assertTrue(
            NOT_DECLARED.contains(r.ruleId())
                || TckReport.skippedAsNotApplicable(r)
                || (!ipv6
                    && TckReport.skippedForCapability(r)
                    && r.capabilities().contains(Capability.IPV6)),
            "skipped: " + r + "\n" + report.toText());
      }
    }
  }

  /** Per broken backend, the tests it fails (or aborts) that pass on the reference. */
  private static final Map<String, Set<String>> CAUGHT = new TreeMap<>();

  private static void record(TckReport report, String name) {
    Set<String> onReference = new TreeSet<>();
    for (TckResult r : reference().results("sim")) {
      if (r.outcome() != Outcome.PASSED) {
        onReference.add(r.displayName());
      }
    }
    Set<String> tests = new TreeSet<>();
    for (TckResult r : report.results(name)) {
      if (r.outcome() != Outcome.PASSED && !onReference.contains(r.displayName())) {
        tests.add(r.ruleId() + " " + r.testName());
      }
    }
    synchronized (CAUGHT) {
      CAUGHT.put(name, tests);
    }
  }

  /**
   * Writes target/broken-backends.md: for each rule, the broken backends that fail it and the tests
   * that catch them, the table tck/README.md copies.
   */
  @AfterAll
  static void writeTable() throws java.io.IOException {
    Map<String, Map<String, Set<String>>> byRule =
        new TreeMap<>(
            java.util.Comparator.comparingInt((String id) -> Integer.parseInt(id.substring(1))));
    synchronized (CAUGHT) {
      for (Map.Entry<String, Set<String>> e : CAUGHT.entrySet()) {
        for (String t : e.getValue()) {
          String rule = t.substring(0, t.indexOf(' '));
          byRule
              .computeIfAbsent(rule, k -> new TreeMap<>())
              .computeIfAbsent(e.getKey(), k -> new TreeSet<>())
              .add(t.substring(t.indexOf(' ') + 1));
        }
      }
    }
    StringBuilder sb = new StringBuilder("| rule | broken backend | tests that catch it |\n");
    sb.append("|---|---|---|\n");
    for (Map.Entry<String, Map<String, Set<String>>> r : byRule.entrySet()) {
      for (Map.Entry<String, Set<String>> b : r.getValue().entrySet()) {
        sb.append("| ").append(r.getKey()).append(" | `").append(b.getKey()).append("` | ");
        sb.append(String.join(", ", b.getValue())).append(" |\n");
      }
    }
    java.nio.file.Path out = java.nio.file.Path.of("target", "broken-backends.md");
    java.nio.file.Files.createDirectories(out.getParent());
    java.nio.file.Files.writeString(out, sb.toString());
  }

  private static Set<String> newRules(TckReport report, String name, Outcome outcome) {
    Set<String> onReference = new TreeSet<>();
    for (TckResult r : reference().results("sim")) {
      if (r.outcome() == outcome) {
        onReference.add(r.displayName());
      }
    }
    Set<String> rules = new TreeSet<>();
    for (TckResult r : report.results(name)) {
      if (r.outcome() == outcome && !onReference.contains(r.displayName())) {
        rules.add(r.ruleId());
      }
    }
    return rules;
  }

  /** The reference meets every rule; when it does not, the report says which test and why. */
  @Test
  void theReferenceSimulationPassesEveryRule() {
    TckReport report = reference();
    assertTrue(report.compatible("sim"), report.toText());
    assertEquals(0, report.count("sim", Outcome.FAILED), report.toText());
    assertNoSkips(report, "sim");
    assertEquals(0, report.count("sim", Outcome.ABORTED), report.toText());
    // Area K (S54-S63) is verified once the simulation declares IPV6; until then its tests are
    // skipped for the capability, and they are the only rules without a passing test.
    java.util.List<String> unverified = new java.util.ArrayList<>();
    if (!new SimProvider().capabilities().contains(Capability.IPV6)) {
      for (org.divert4j.tck.SpecRules.Rule r : org.divert4j.tck.SpecRules.all()) {
        if (r.section().equals("K")) {
          unverified.add(r.id());
        }
      }
    }
    unverified.addAll(NOT_DECLARED);
    assertEquals(unverified, report.rulesWithoutPass("sim"), report.toText());
  }

  @Test
  void aBackendThatNeverDropsWithoutListenerFailsS11() {
    assertFailsExactly(BrokenEngines.neverDropsWithoutListener(), "S11", "S13");
  }

  @Test
  void aBackendThatReassemblesInPerFragmentModeFailsS16AndS7() {
    // S65 too: its filters see the reassembled datagram, so a later fragment has ports after all;
    // and the IPv6 readings, S56 (ports in the first fragment only) and S57 (per fragment);
    // S70: the reassembled datagram is larger than the MTU although segment offload is off
    assertFailsExactly(
        BrokenEngines.reassemblesInPerFragmentMode(),
        "S7",
        "S16",
        "S17",
        "S18",
        "S56",
        "S57",
        "S65",
        "S70");
  }

  @Test
  void aBackendThatSendsOversizePacketsFailsS27AndS28() {
    assertFailsExactly(BrokenEngines.sendsOversizePackets(), "S27", "S28", "S29", "S30", "S59");
  }

  @Test
  void aBackendThatSkipsTheChecksumFixUpFailsS38() {
    assertFailsExactly(BrokenEngines.skipsChecksumFixUp(), "S38");
  }

  @Test
  void aBackendThatLetsItsOwnInjectionsComeBackFailsS45() {
    assertFailsExactly(BrokenEngines.redivertsOwnInjections(), "S45");
  }

  /**
   * A written-back packet is diverted again by the same rule, forever, so it never travels on: S43
   * and S44 fail, and so does every rule whose test needs a written-back packet to arrive somewhere
   * (S4 forward order, S7 non-first fragments, S8 taken-not-copied, S73 and S74 marks leaving with
   * written-back packets, ...). Rules whose tests never write a packet back (S1, S2, S5, S6, S9,
   * S11, S14-S16, S18-S21, S24, S27-S31, S39 to S41, S46, S47, S49, S51-S53) must still pass.
   */
  @Test
  void aBackendThatRedivertsItsReinjectionsFailsS43AndS44() {
    assertFailsExactly(
        BrokenEngines.redivertsReinjections(),
        "S4",
        "S7",
        "S8",
        "S12",
        "S13",
        "S17",
        "S22",
        "S23",
        "S25",
        "S33",
        "S35",
        "S38",
        "S42",
        "S43",
        "S44",
        "S45",
        "S50",
        "S55",
        "S56",
        "S57",
        "S58",
        "S60",
        "S73",
        "S74",
        "S68", // S68 writes back the first packets of each connection
        "S72"); // S72 writes back the packet its later rule diverted
  }

  @Test
  void aBackendThatNeverFragmentsInjectionsFailsS29() {
    assertFailsExactly(BrokenEngines.neverFragmentsInjections(), "S23", "S25", "S29", "S30", "S58");
  }

  @Test
  void aBackendThatLeavesIdZeroFailsS39() {
    assertFailsExactly(BrokenEngines.keepsZeroId(), "S39");
  }

  @Test
  void aBackendThatTrustsTheTotalLengthFieldFailsS40() {
    assertFailsExactly(BrokenEngines.trustsTotalLength(), "S40", "S61");
  }

  @Test
  void aBackendThatResetsTheTtlFailsS41() {
    assertFailsExactly(BrokenEngines.resetsTtl(), "S41", "S61");
  }

  /**
   * Refusing MTU-sized packets also refuses MTU-sized fragments written back (S17), and the
   * 65535-byte datagrams written back over a 65535-byte link (S8 on output and forward).
   */
  @Test
  void aBackendWithAnMtuOffByOneFailsS28() {
    assertFailsExactly(BrokenEngines.mtuOffByOne(), "S8", "S17", "S28", "S29", "S30", "S59");
  }

  /** S12's SHOULD half (later rules of the chain) cannot be met without passing through. */
  @Test
  void aBackendThatNeverPassesThroughFailsS12() {
    assertOutcomes(BrokenEngines.neverPassesThrough(), Set.of("S12", "S13"), Set.of("S12"));
  }

  @Test
  void aBackendThatNeverReassemblesFailsS21ToS24() {
    // and the IPv6 readings: S58 (reassembly) and S63 (each family's datagram reassembled)
    assertFailsExactly(BrokenEngines.neverReassembles(), "S21", "S22", "S23", "S24", "S58", "S63");
  }

  @Test
  void aBackendThatCountsEveryReassemblyDiscardAsMemoryFailsS24() {
    assertFailsExactly(BrokenDecorators.mislabelsReassemblyDrops(), "S24");
  }

  @Test
  void aBackendThatSkipsTheRestOfTheChainFailsS44() {
    // S56's fragment test writes the first fragment back through a later rule (S44).
    assertFailsExactly(BrokenEngines.skipsRestOfChain(), "S44", "S56");
  }

  // ---- faults outside the engine's hooks, expressed by decorators (Decorated)

  @Test
  void aBackendThatReportsTheWrongInterfaceFailsS6() {
    // S55 and S60 check the interface of IPv6 packets too.
    assertFailsExactly(BrokenDecorators.wrongInterface(), "S6", "S55", "S60");
  }

  @Test
  void aBackendThatReinjectsPendingPacketsOnCloseFailsS14() {
    assertFailsExactly(BrokenDecorators.reinjectsPendingOnClose(), "S14");
  }

  @Test
  void aBackendThatInjectsOutboundForANonLocalAddressFailsS36() {
    assertFailsExactly(BrokenDecorators.fallsBackToOutbound(), "S36", "S60");
  }

  @Test
  void aBackendThatDropsMalformedPacketsSilentlyFailsS47() {
    assertFailsExactly(BrokenDecorators.dropsMalformedSilently(), "S47", "S62");
  }

  @Test
  void aBackendThatSwallowsNoRouteFailsS49() {
    // S60's link-local destination without an interface has no route either.
    assertFailsExactly(BrokenDecorators.swallowsNoRoute(), "S49", "S60");
  }

  @Test
  void aBackendWhoseClosedSocketAnswersNullFailsS51() {
    assertFailsExactly(BrokenDecorators.closedReceiveReturnsNull(), "S51");
  }

  @Test
  void aBackendThatLetsEpermEscapeFailsS46() {
    assertFailsExactly(BrokenDecorators.rawPermissionError(), "S46");
  }

  @Test
  void aBackendThatReordersDoesNotMeetS52ButPasses() {
    DivertProvider p = BrokenDecorators.reorders();
    // one run judged twice: a second run could differ from the one whose outcomes were checked
    TckReport report = assertOutcomes(p, Set.of(), Set.of("S52"));
    assertEquals(
        reference().count("sim", Outcome.FAILED),
        report.count(p.name(), Outcome.FAILED),
        "a SHOULD rule not met must not fail a test");
  }

  /** It also names the MTU, not the IPv4 maximum, as the limit a 65536-byte packet exceeded. */
  @Test
  void aBackendThatLimitsInboundInjectionToTheMtuFailsS53() {
    assertFailsExactly(BrokenDecorators.limitsInboundInjectionToTheMtu(), "S31", "S53");
  }

  @Test
  void aBackendThatTruncatesTo65535BytesFailsS31() {
    assertFailsExactly(BrokenDecorators.truncatesTo65535(), "S31");
  }

  // ---- one broken backend per MUST rule not broken above on its own (BrokenRules)

  @Test
  void aBackendWhoseSocketServesOneChainFailsS1() {
    // S9, S43 and S68 use one socket for the input and the output chain too.
    assertFailsExactly(BrokenRules.servesOneChainPerSocket(), "S1", "S9", "S43", "S68");
  }

  @Test
  void aBackendThatIgnoresFiltersFailsS64ToS68() {
    // S66 too: it accepts a long filter and then does not evaluate it; S67: what the filter
    // rejects waits for the program
    assertFailsExactly(BrokenRules.ignoresFilters(), "S64", "S65", "S66", "S67", "S68");
  }

  @Test
  void aBackendThatCountsOneDirectionOfEachConnectionFailsS68() {
    assertFailsExactly(BrokenEngines.countsOneDirectionOfEachConnection(), "S68");
  }

  @Test
  void aBackendThatIgnoresTheRuleFamilyFailsS54() {
    assertFailsExactly(BrokenRules.ignoresRuleFamily(), "S54");
  }

  @Test
  void aBackendWhoseSecondBindSucceedsFailsS2() {
    assertFailsExactly(BrokenRules.secondBindSucceeds(), "S2");
  }

  @Test
  void aBackendThatRemovesRulesLazilyFailsS3() {
    assertFailsExactly(BrokenRules.removalIsDeferred(), "S3");
  }

  @Test
  void aBackendThatDoesNotCountASniffersLostCopiesFailsS71() {
    assertFailsExactly(BrokenRules.snifferLosesCopiesUncounted(), "S71");
  }

  @Test
  void aBackendWhoseSnifferRuleAcceptsThePacketFailsS72() {
    assertFailsExactly(BrokenRules.snifferRuleAcceptsThePacket(), "S72");
  }

  @Test
  void aBackendThatAppendsInsertedRulesFailsS5() {
    assertFailsExactly(BrokenRules.appendsInsertedRules(), "S5");
  }

  @Test
  void aBackendThatPutsForwardRulesOnInputFailsS4() {
    // S6's forward test sees the packet on the wrong chain.
    assertFailsExactly(BrokenRules.forwardRulesOnInput(), "S4", "S6");
  }

  @Test
  void aBackendThatTruncatesAtTheNetlinkCopyRangeFailsS8() {
    assertFailsExactly(BrokenRules.truncatesAtTheNetlinkCopyRange(), "S8");
  }

  @Test
  void aBackendThatReportsAbsentMetadataAsZeroFailsS75() {
    assertFailsExactly(BrokenRules.zeroForAbsentMetadata(), "S75");
  }

  @Test
  void aBackendWhoseDropAcceptsFailsS9() {
    assertFailsExactly(BrokenRules.dropAccepts(), "S9");
  }

  @Test
  void aBackendThatIgnoresFailOpenFailsS15() {
    assertFailsExactly(BrokenRules.ignoresFailOpen(), "S15");
  }

  @Test
  void aBackendThatHidesLaterOutputFragmentsFailsS19() {
    // S17 writes back the fragments the output chain sees.
    // S57 is S19's IPv6 reading.
    assertFailsExactly(BrokenRules.hidesLaterOutputFragments(), "S17", "S19", "S57");
  }

  @Test
  void aBackendThatRefusesSendWithoutAddressFailsS32() {
    assertFailsExactly(BrokenRules.refusesSendWithoutAddress(), "S32", "S60");
  }

  @Test
  void aBackendThatLosesInboundInjectionsFailsS33() {
    // Every rule whose test needs an inbound injection to arrive fails with it (S71: a sniffer's).
    assertFailsExactly(
        BrokenRules.losesInboundInjections(),
        "S33",
        "S36",
        "S38",
        "S39",
        "S41",
        "S45",
        "S47",
        "S71");
  }

  @Test
  void aBackendThatReinjectsIcmpOutboundFailsS35() {
    assertFailsExactly(BrokenRules.reinjectsIcmpOutbound(), "S35");
  }

  @Test
  void aBackendThatSkipsChecksOnWriteBackFailsS42() {
    assertFailsExactly(BrokenRules.skipsChecksOnWriteBack(), "S42");
  }

  @Test
  void aBackendThatIgnoresAResizedWriteBackFailsS25() {
    // S27 and S42 write back rewritten packets of another length too.
    assertFailsExactly(BrokenRules.ignoresResizedWriteBack(), "S25", "S27", "S42");
  }

  @Test
  void aBackendThatStopsReceivingAfterAnOverflowFailsS50() {
    // S71: a stopped sniffer's queue overflows, and it must receive again after the drain.
    assertFailsExactly(BrokenRules.stopsReceivingAfterOverflow(), "S50", "S71");
  }
}
