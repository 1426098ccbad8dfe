package org.divert4j.junit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.divert4j.DivertHost;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * Runs small test classes through the JUnit launcher with the extension and checks what happened to
 * them: closing after a failure, skipping or failing on an unavailable backend, options. The
 * backend is named by a configuration parameter, which wins over the divert.backend system property
 * that Surefire sets.
 */
class ExtensionLifecycleTest {
  /**
   * Set only by {@link #runOne}: the fixtures are disabled when a build discovers them directly.
   */
  static final String FIXTURES = "divert.junit.test.fixtures";

  /** Enables the fixtures only when run through {@link #runOne}. */
  static final class OnlyThroughRunOne implements ExecutionCondition {
    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
      return context.getConfigurationParameter(FIXTURES).isPresent()
          ? ConditionEvaluationResult.enabled("run by ExtensionLifecycleTest")
          : ConditionEvaluationResult.disabled("a fixture of ExtensionLifecycleTest");
    }
  }

  static volatile TestBed seen;
  static volatile TestBedOptionsSeen options;

  record TestBedOptionsSeen(int peerMtu, boolean farPeer) {}

  /** Outcome of one test: its status and the throwable's message, if any. */
  record Outcome(TestExecutionResult.Status status, String message, Throwable throwable) {}

  private static Outcome runOne(Class<?> fixture, Map<String, String> parameters) {
    LauncherDiscoveryRequest request =
        LauncherDiscoveryRequestBuilder.request()
            .selectors(selectClass(fixture))
            .configurationParameters(parameters)
            .configurationParameter(FIXTURES, "true")
            .build();
    List<Outcome> outcomes = new ArrayList<>();
    Launcher launcher = LauncherFactory.create();
    launcher.execute(
        request,
        new TestExecutionListener() {
          @Override
          public void executionFinished(TestIdentifier id, TestExecutionResult result) {
            if (id.isTest()) {
              Throwable t = result.getThrowable().orElse(null);
              outcomes.add(new Outcome(result.getStatus(), t == null ? null : t.getMessage(), t));
            }
          }

          @Override
          public void executionSkipped(TestIdentifier id, String reason) {
            fail("not expected to be disabled: " + id + ": " + reason);
          }
        });
    assertEquals(1, outcomes.size(), outcomes.toString());
    return outcomes.get(0);
  }

  @Test
  void theTestBedIsClosedAfterAFailingTest() {
    seen = null;
    Outcome o = runOne(FailsWithBed.class, Map.of("divert.backend", "sim"));
    assertEquals(TestExecutionResult.Status.FAILED, o.status());
    assertEquals("the test's own failure", o.message());
    assertNotNull(seen, "the test ran with a test bed");
    assertFalse(seen.host().isOpen(), "the test bed was closed after the failure");
  }

  @Test
  void anUnavailableBackendSkipsTheTestWithTheReason() {
    seen = null;
    // not required here, whatever the surrounding build sets (CI runs with it required)
    Outcome o =
        runOne(
            FailsWithBed.class,
            Map.of("divert.backend", "nosuch", "divert.tck.requireAvailable", "false"));
    assertEquals(TestExecutionResult.Status.ABORTED, o.status(), o.message());
    assertTrue(o.message().contains("divert backend 'nosuch' was not found"), o.message());
    assertTrue(o.message().contains("sim"), "the reason lists the providers: " + o.message());
    assertNull(seen, "the test body did not run");
  }

  @Test
  void anUnavailableBackendFailsTheTestWhenRequired() {
    seen = null;
    Outcome o =
        runOne(
            FailsWithBed.class,
            Map.of("divert.backend", "nosuch", "divert.tck.requireAvailable", "true"));
    assertEquals(TestExecutionResult.Status.FAILED, o.status());
    assertTrue(o.message().contains("'nosuch' was not found"), o.message());
    assertTrue(o.message().contains("divert.tck.requireAvailable=true"), o.message());
    assertNull(seen, "the test body did not run");
  }

  @Test
  void aBadRequireAvailableValueIsNamed() {
    Outcome o =
        runOne(
            FailsWithBed.class,
            Map.of("divert.backend", "sim", "divert.tck.requireAvailable", "yes"));
    assertEquals(TestExecutionResult.Status.FAILED, o.status());
    assertTrue(o.message().contains("must be true or false, not 'yes'"), o.message());
  }

  @Test
  void aTestNodeMustSayWhichNode() {
    Outcome o = runOne(UnnamedNode.class, Map.of("divert.backend", "sim"));
    assertEquals(TestExecutionResult.Status.FAILED, o.status());
    assertTrue(o.message().contains("@Peer, @HostNode or @FarPeer"), o.message());
  }

  @Test
  void optionsComeFromTheAnnotationAndAFarPeerParameter() {
    options = null;
    Outcome o = runOne(WithOptions.class, Map.of("divert.backend", "sim"));
    assertEquals(TestExecutionResult.Status.SUCCESSFUL, o.status(), String.valueOf(o.throwable()));
    assertEquals(new TestBedOptionsSeen(1280, true), options);
  }

  @Test
  void aTestWithoutDivertParametersGetsNoTestBed() {
    Outcome o = runOne(NoBed.class, Map.of("divert.backend", "nosuch"));
    assertEquals(TestExecutionResult.Status.SUCCESSFUL, o.status(), String.valueOf(o.throwable()));
  }

  // Fixtures: run only through runOne (static nested classes, which Surefire does not pick up).

  @DivertTestBed
  @ExtendWith(OnlyThroughRunOne.class)
  static class FailsWithBed {
    @Test
    void test(TestBed bed, DivertHost host) {
      seen = bed;
      assertTrue(host.isOpen());
      fail("the test's own failure");
    }
  }

  @DivertTestBed
  @ExtendWith(OnlyThroughRunOne.class)
  static class UnnamedNode {
    @Test
    void test(TestNode node) {
      fail("not reached: " + node);
    }
  }

  @DivertTestBed(peerMtu = 1280)
  @ExtendWith(OnlyThroughRunOne.class)
  static class WithOptions {
    @Test
    void test(TestBed bed, @FarPeer TestNode far) {
      options = new TestBedOptionsSeen(bed.options().peerMtu(), bed.options().farPeer());
      assertEquals(bed.farPeer().orElseThrow(), far);
    }
  }

  @DivertTestBed
  @ExtendWith(OnlyThroughRunOne.class)
  static class NoBed {
    @Test
    void test() {
      assertEquals(2, 1 + 1);
    }
  }
}
