package org.divert4j.tck;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.divert4j.Capability;
import org.divert4j.IpFamily;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.TestSource;
import org.junit.platform.engine.reporting.ReportEntry;
import org.junit.platform.engine.support.descriptor.MethodSource;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;

/**
 * Collects the outcomes of the TCK tests in a JUnit Platform run into a {@link TckReport}. Tests
 * without {@link SpecRule} are ignored, so it can listen to a whole Surefire run. Thread-safe
 * (JUnit may report from several threads).
 */
class TckCollector implements TestExecutionListener {
  private final TckListener progress;
  private final Map<String, String> backendOf = new ConcurrentHashMap<>();
  private final Map<String, String> familyOf = new ConcurrentHashMap<>();
  private final Map<String, Long> startedAt = new ConcurrentHashMap<>();
  private final List<TckResult> results = new ArrayList<>();
  private final List<String> errors = new ArrayList<>();
  private volatile String defaultBackend = "(unknown)";

  TckCollector(TckListener progress) {
    this.progress = progress;
  }

  @Override
  public void testPlanExecutionStarted(TestPlan plan) {
    synchronized (this) {
      results.clear();
      errors.clear();
    }
    backendOf.clear();
    familyOf.clear();
    startedAt.clear();
    try {
      TckSettings s = TckSettings.read(plan.getConfigurationParameters()::get, System.getenv());
      defaultBackend = s.backend().orElse("(none)");
    } catch (RuntimeException e) {
      defaultBackend = "(unknown)";
    }
  }

  @Override
  public void reportingEntryPublished(TestIdentifier id, ReportEntry entry) {
    String backend = entry.getKeyValuePairs().get(TckExtension.BACKEND_ENTRY);
    if (backend != null) {
      backendOf.put(id.getUniqueId(), backend);
    }
    String family = entry.getKeyValuePairs().get(TckExtension.FAMILY_ENTRY);
    if (family != null) {
      familyOf.put(id.getUniqueId(), family);
    }
  }

  @Override
  public void executionStarted(TestIdentifier id) {
    if (!id.isTest() || rule(id).isEmpty()) {
      return;
    }
    startedAt.put(id.getUniqueId(), System.nanoTime());
    progress.testStarted(backend(id), methodName(id));
  }

  @Override
  public void executionSkipped(TestIdentifier id, String reason) {
    if (id.isTest() && rule(id).isPresent()) {
      add(id, Outcome.SKIPPED, reason == null ? "" : reason, "");
    }
  }

  @Override
  public void executionFinished(TestIdentifier id, TestExecutionResult result) {
    Throwable t = result.getThrowable().orElse(null);
    if (!id.isTest()) {
      if (result.getStatus() == TestExecutionResult.Status.FAILED && isTckContainer(id)) {
        synchronized (this) {
          errors.add(id.getDisplayName() + " could not run: " + describe(t));
        }
      }
      return;
    }
    if (rule(id).isEmpty()) {
      return;
    }
    switch (result.getStatus()) {
      case SUCCESSFUL -> add(id, Outcome.PASSED, "", "");
      case ABORTED -> {
        if (t instanceof TckSkippedException) {
          add(id, Outcome.SKIPPED, describe(t), stackTrace(t));
        } else if (rule(id).orElseThrow().level() == Level.SHOULD) {
          add(id, Outcome.ABORTED, describe(t), stackTrace(t));
        } else {
          // A MUST test that stops itself (an assumption) did not show its rule held, and no
          // declared capability excuses it: that is a failure, not an optional miss.
          add(
              id,
              Outcome.FAILED,
              "MUST test aborted, which counts as a failure: " + describe(t),
              stackTrace(t));
        }
      }
      case FAILED -> add(id, Outcome.FAILED, describe(t), stackTrace(t));
    }
  }

  private boolean isTckContainer(TestIdentifier id) {
    return id.getSource()
        .filter(s -> s instanceof org.junit.platform.engine.support.descriptor.ClassSource)
        .map(
            s ->
                ((org.junit.platform.engine.support.descriptor.ClassSource) s)
                        .getJavaClass()
                        .getAnnotation(SpecArea.class)
                    != null)
        .orElse(false);
  }

  private void add(TestIdentifier id, Outcome outcome, String reason, String detail) {
    Method m = method(id).orElseThrow();
    SpecRule rule = m.getAnnotation(SpecRule.class);
    Class<?> cls = ((MethodSource) id.getSource().orElseThrow()).getJavaClass();
    SpecArea area = cls.getAnnotation(SpecArea.class);
    Long start = startedAt.remove(id.getUniqueId());
    long millis = start == null ? 0 : (System.nanoTime() - start) / 1_000_000;
    String family = familyOf.getOrDefault(id.getUniqueId(), "");
    List<Capability> capabilities = new ArrayList<>(List.of(rule.capabilities()));
    if (family.equals(IpFamily.IPV6.toString()) && !capabilities.contains(Capability.IPV6)) {
      // The IPv6 run of a rule of sections A-J needs what area K needs (SEMANTICS.md K).
      capabilities.add(Capability.IPV6);
    }
    TckResult r =
        new TckResult(
            backend(id),
            area == null ? "?" : area.id(),
            area == null ? cls.getSimpleName() : area.title(),
            rule.id(),
            rule.level(),
            capabilities,
            m.getDeclaringClass().getName(),
            m.getName(),
            outcome,
            reason,
            detail,
            millis,
            family);
    synchronized (this) {
      results.add(r);
    }
    progress.testFinished(r);
  }

  private String backend(TestIdentifier id) {
    return backendOf.getOrDefault(id.getUniqueId(), defaultBackend);
  }

  private static Optional<Method> method(TestIdentifier id) {
    Optional<TestSource> source = id.getSource();
    if (source.isEmpty() || !(source.get() instanceof MethodSource ms)) {
      return Optional.empty();
    }
    try {
      return Optional.of(ms.getJavaMethod());
    } catch (RuntimeException e) {
      return Optional.empty();
    }
  }

  private static Optional<SpecRule> rule(TestIdentifier id) {
    return method(id).map(m -> m.getAnnotation(SpecRule.class));
  }

  private static String methodName(TestIdentifier id) {
    return method(id).map(Method::getName).orElse(id.getDisplayName());
  }

  private static String describe(Throwable t) {
    if (t == null) {
      return "";
    }
    String m = t.getMessage();
    if (t instanceof AssertionError || t instanceof org.opentest4j.TestAbortedException) {
      return m == null ? t.getClass().getSimpleName() : m;
    }
    return t.getClass().getName() + (m == null ? "" : ": " + m);
  }

  private static String stackTrace(Throwable t) {
    if (t == null) {
      return "";
    }
    StringWriter w = new StringWriter();
    t.printStackTrace(new PrintWriter(w));
    return w.toString();
  }

  synchronized TckReport report() {
    return new TckReport(results, errors);
  }
}
