package org.divert4j.cli;

import static org.junit.platform.engine.discovery.ClassNameFilter.includeClassNamePatterns;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectPackage;

import java.lang.annotation.Annotation;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.platform.engine.FilterResult;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.support.descriptor.ClassSource;
import org.junit.platform.engine.support.descriptor.MethodSource;
import org.junit.platform.launcher.EngineFilter;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.PostDiscoveryFilter;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherConfig;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * Runs the TCK's verifications (the JUnit tests in package {@code org.divert4j.tck} whose class
 * names end in {@code Verification}) on one backend, on the JUnit Platform Launcher, passing the
 * backend as the configuration parameter {@value #BACKEND}. Reads each test's spec area and rule
 * from the TCK's {@code @SpecArea} and {@code @SpecRule} annotations by name, so the cli compiles
 * without the TCK's classes.
 *
 * <p>This is the stand-in the cli uses until the TCK module's own launcher API ({@code
 * org.divert4j.tck.Tck}) is on main; the command only sees {@link Result}s, so swapping the runner
 * changes nothing else.
 */
final class TckRunner {
  /** The configuration parameter that names the backend the TCK tests. */
  static final String BACKEND = "divert.tck.backend";

  /** The configuration parameter that turns skips for an unavailable backend into failures. */
  static final String REQUIRE_AVAILABLE = "divert.tck.requireAvailable";

  static final String PACKAGE = "org.divert4j.tck";

  private static final Pattern RULE_IN_NAME = Pattern.compile("^(S\\d+)_");

  /** What each test did. */
  enum Outcome {
    PASSED,
    FAILED,
    ABORTED,
    SKIPPED
  }

  /**
   * One test's outcome.
   *
   * @param backend the backend
   * @param area the spec area's letter
   * @param areaTitle the area's title
   * @param rule the rule id, e.g. S27
   * @param level MUST or SHOULD
   * @param test the test method's name
   * @param testClass the verification class
   * @param outcome what happened
   * @param reason why it failed, aborted or was skipped
   * @param millis how long it took
   */
  record Result(
      String backend,
      String area,
      String areaTitle,
      String rule,
      String level,
      String test,
      String testClass,
      Outcome outcome,
      String reason,
      long millis) {}

  /** Told about each test as it finishes; called on the thread that runs the tests. */
  interface Progress {
    void finished(Result result);
  }

  /**
   * What a run produced: the results, and failures outside any test.
   *
   * @param results every test's outcome
   * @param errors verification classes that could not run, one line each
   */
  record Run(List<Result> results, List<String> errors) {}

  private TckRunner() {}

  /**
   * Runs the TCK on a backend and waits for it.
   *
   * @param backend the provider's name
   * @param requireAvailable true to fail instead of skip when the backend is unavailable
   * @param rules rule ids to run (e.g. S27); empty for all
   * @param progress told about each test
   * @return the outcomes
   */
  static Run run(String backend, boolean requireAvailable, Set<String> rules, Progress progress) {
    LauncherDiscoveryRequestBuilder request =
        LauncherDiscoveryRequestBuilder.request()
            .selectors(selectPackage(PACKAGE))
            .filters(
                includeClassNamePatterns(".*Verification"),
                EngineFilter.includeEngines("junit-jupiter"))
            .configurationParameter(BACKEND, backend)
            .configurationParameter(REQUIRE_AVAILABLE, Boolean.toString(requireAvailable));
    if (!rules.isEmpty()) {
      request.filters(
          (PostDiscoveryFilter)
              d -> {
                if (!(d.getSource().orElse(null) instanceof MethodSource ms)) {
                  return FilterResult.included("container");
                }
                return rules.contains(ruleOf(ms))
                    ? FilterResult.included("rule selected")
                    : FilterResult.excluded("rule not selected");
              });
    }
    LauncherDiscoveryRequest built = request.build();
    Collector collector = new Collector(backend, progress);
    // Listeners registered through the service loader (the TCK's own summary printer) stay out:
    // the command decides what to print.
    Launcher launcher =
        LauncherFactory.create(
            LauncherConfig.builder().enableTestExecutionListenerAutoRegistration(false).build());
    launcher.execute(built, collector);
    return collector.run();
  }

  private static String ruleOf(MethodSource ms) {
    try {
      Object id = attribute(ms.getJavaMethod(), "SpecRule", "id");
      if (id != null) {
        return id.toString();
      }
    } catch (RuntimeException e) {
      // fall back to the name
    }
    Matcher m = RULE_IN_NAME.matcher(ms.getMethodName());
    return m.find() ? m.group(1) : "?";
  }

  /** The value of an annotation's attribute, found by the annotation's simple name. */
  private static Object attribute(java.lang.reflect.AnnotatedElement e, String type, String name) {
    for (Annotation a : e.getAnnotations()) {
      if (a.annotationType().getSimpleName().equals(type)) {
        try {
          Method m = a.annotationType().getMethod(name);
          return m.invoke(a);
        } catch (ReflectiveOperationException ex) {
          return null;
        }
      }
    }
    return null;
  }

  /** Collects outcomes; JUnit may report from several threads. */
  private static final class Collector implements TestExecutionListener {
    private final String backend;
    private final Progress progress;
    private final Map<String, Long> started = new ConcurrentHashMap<>();
    private final List<Result> results = new ArrayList<>();
    private final List<String> errors = new ArrayList<>();

    Collector(String backend, Progress progress) {
      this.backend = backend;
      this.progress = progress;
    }

    @Override
    public void executionStarted(TestIdentifier id) {
      if (id.isTest()) {
        started.put(id.getUniqueId(), System.nanoTime());
      }
    }

    @Override
    public void executionSkipped(TestIdentifier id, String reason) {
      if (id.isTest()) {
        add(id, Outcome.SKIPPED, reason == null ? "" : reason);
      }
    }

    @Override
    public void executionFinished(TestIdentifier id, TestExecutionResult result) {
      Throwable t = result.getThrowable().orElse(null);
      if (!id.isTest()) {
        if (result.getStatus() == TestExecutionResult.Status.FAILED
            && id.getSource().orElse(null) instanceof ClassSource) {
          synchronized (this) {
            errors.add(id.getDisplayName() + " could not run: " + describe(t));
          }
        }
        return;
      }
      switch (result.getStatus()) {
        case SUCCESSFUL -> add(id, Outcome.PASSED, "");
        case ABORTED ->
            add(
                id,
                // The TCK marks "does not apply here" skips with its own exception type.
                t != null && t.getClass().getSimpleName().equals("TckSkippedException")
                    ? Outcome.SKIPPED
                    : Outcome.ABORTED,
                describe(t));
        case FAILED -> add(id, Outcome.FAILED, describe(t));
      }
    }

    private void add(TestIdentifier id, Outcome outcome, String reason) {
      if (!(id.getSource().orElse(null) instanceof MethodSource ms)) {
        return;
      }
      Class<?> cls = ms.getJavaClass();
      Object areaId = attribute(cls, "SpecArea", "id");
      Object areaTitle = attribute(cls, "SpecArea", "title");
      Object level = null;
      try {
        level = attribute(ms.getJavaMethod(), "SpecRule", "level");
      } catch (RuntimeException e) {
        // no level: MUST
      }
      String simple = cls.getSimpleName();
      Long start = started.remove(id.getUniqueId());
      Result r =
          new Result(
              backend,
              areaId == null ? simple.replace("Verification", "") : areaId.toString(),
              areaTitle == null ? simple.replace("Verification", "") : areaTitle.toString(),
              ruleOf(ms),
              level == null ? "MUST" : level.toString(),
              ms.getMethodName(),
              cls.getName(),
              outcome,
              reason,
              start == null ? 0 : (System.nanoTime() - start) / 1_000_000);
      synchronized (this) {
        results.add(r);
      }
      progress.finished(r);
    }

    synchronized Run run() {
      return new Run(List.copyOf(results), List.copyOf(errors));
    }

    private static String describe(Throwable t) {
      if (t == null) {
        return "";
      }
      String m = t.getMessage();
      if (t instanceof AssertionError || t instanceof org.opentest4j.TestAbortedException) {
        return m == null ? t.getClass().getSimpleName() : Main.oneLine(m);
      }
      return t.getClass().getName() + (m == null ? "" : ": " + Main.oneLine(m));
    }
  }
}
