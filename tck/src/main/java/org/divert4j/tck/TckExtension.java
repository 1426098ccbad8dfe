package org.divert4j.tck;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.divert4j.Capability;
import org.divert4j.IpFamily;
import org.divert4j.spi.DivertProvider;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ExtensionContext.Namespace;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.junit.jupiter.api.extension.TestExecutionExceptionHandler;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/**
 * Turns a test's {@link SpecRule} into its outcome, and gives tests their {@link TckContext}:
 *
 * <ul>
 *   <li><b>Condition.</b> Skips the test, with the reason, when the backend is not found or is
 *       unavailable (unless {@value TckSettings#REQUIRE_AVAILABLE} is true: then the test runs and
 *       fails at once with the reason), when an earlier test of the run found its test bed
 *       unavailable, or when the rule needs a capability the backend does not declare.
 *   <li><b>Exception handler.</b> A failing {@link Level#SHOULD} test is reported as aborted with
 *       "SHOULD rule ... not met" and the failure as the cause. A failing capability-gated test is
 *       a failure whose message says the backend declared the capability.
 *   <li><b>Parameters.</b> {@link TckContext} and {@link DivertProvider}.
 *   <li><b>Report entry.</b> Publishes the backend's name ({@value #BACKEND_ENTRY}) for each test,
 *       so that the report can group results by backend.
 * </ul>
 *
 * <p>The backend is resolved once per run (per JUnit engine execution) and cached in the root
 * context's store; see {@link ResolvedBackend#resolve}.
 */
public final class TckExtension
    implements ExecutionCondition,
        BeforeEachCallback,
        AfterEachCallback,
        ParameterResolver,
        TestExecutionExceptionHandler {
  /** The report entry key under which the backend's name is published. */
  public static final String BACKEND_ENTRY = "divert.tck.backend";

  /**
   * The report entry key under which the address family of a {@link FamilyVerification}'s run is
   * published ({@code IPv4} or {@code IPv6}).
   */
  public static final String FAMILY_ENTRY = "divert.tck.family";

  private static final Namespace NS = Namespace.create(TckExtension.class);
  private static final String SETTINGS = "settings";
  private static final String BED_UNAVAILABLE = "bedUnavailable:";

  /** Created by JUnit. */
  public TckExtension() {}

  @Override
  public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
    Optional<Method> method = context.getTestMethod();
    if (method.isEmpty()) {
      return ConditionEvaluationResult.enabled("containers always run; each test decides");
    }
    SpecRule rule = method.get().getAnnotation(SpecRule.class);
    if (rule == null) {
      return ConditionEvaluationResult.enabled("not a TCK rule test");
    }
    TckSettings settings = settings(context);
    ResolvedBackend backend = backend(context, settings);
    context.publishReportEntry(BACKEND_ENTRY, backend.name());
    if (!backend.available()) {
      return settings.requireAvailable()
          ? ConditionEvaluationResult.enabled("runs to fail: the backend is unavailable")
          : ConditionEvaluationResult.disabled(backend.unavailableReason());
    }
    String bedUnavailable =
        context.getRoot().getStore(NS).get(BED_UNAVAILABLE + backend.name(), String.class);
    if (bedUnavailable != null && !settings.requireAvailable()) {
      return ConditionEvaluationResult.disabled(bedUnavailable);
    }
    IpFamily family = family(context);
    if (family != null) {
      context.publishReportEntry(FAMILY_ENTRY, family.toString());
    }
    Ipv4Only ipv4Only = method.get().getAnnotation(Ipv4Only.class);
    if (family == IpFamily.IPV6 && ipv4Only != null) {
      return ConditionEvaluationResult.disabled(
          rule.id() + TckReport.FAMILY_SKIP + ipv4Only.value());
    }
    Set<Capability> missing = missingCapabilities(rule, backend, family);
    if (!missing.isEmpty()) {
      return ConditionEvaluationResult.disabled(
          rule.id()
              + TckReport.CAPABILITY_SKIP
              + join(missing)
              + ", which backend '"
              + backend.name()
              + "' does not declare");
    }
    return ConditionEvaluationResult.enabled("backend '" + backend.name() + "' is available");
  }

  @Override
  public void beforeEach(ExtensionContext context) {
    SpecRule rule = rule(context);
    if (rule == null) {
      return;
    }
    TckSettings settings = settings(context);
    ResolvedBackend backend = backend(context, settings);
    if (!backend.available()) {
      throw new AssertionFailedError(
          backend.unavailableReason()
              + " (failing instead of skipping because "
              + TckSettings.REQUIRE_AVAILABLE
              + "=true)");
    }
  }

  @Override
  public void afterEach(ExtensionContext context) {
    TckContext tck = context.getStore(NS).get(TckContext.class, TckContext.class);
    if (tck != null) {
      tck.closeAll();
    }
  }

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    Class<?> type = parameter.getParameter().getType();
    return type == TckContext.class || type == DivertProvider.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    TckContext tck = tckContext(context);
    if (parameter.getParameter().getType() == DivertProvider.class) {
      return tck.provider();
    }
    return tck;
  }

  private TckContext tckContext(ExtensionContext context) {
    ExtensionContext.Store store = context.getStore(NS);
    TckContext tck = store.get(TckContext.class, TckContext.class);
    if (tck == null) {
      TckSettings settings = settings(context);
      ResolvedBackend backend = backend(context, settings);
      ExtensionContext.Store root = context.getRoot().getStore(NS);
      tck =
          new TckContext(
              backend,
              settings,
              rule(context),
              family(context),
              reason -> root.put(BED_UNAVAILABLE + backend.name(), reason));
      store.put(TckContext.class, tck);
    }
    return tck;
  }

  @Override
  public void handleTestExecutionException(ExtensionContext context, Throwable throwable)
      throws Throwable {
    SpecRule rule = rule(context);
    if (rule == null || throwable instanceof TestAbortedException) {
      throw throwable;
    }
    if (rule.level() == Level.SHOULD) {
      throw new TestAbortedException(
          "SHOULD rule "
              + rule.id()
              + " is not met (optional: reported as aborted, not failed): "
              + describe(throwable),
          throwable);
    }
    Set<Capability> needed = needed(rule, family(context));
    if (!needed.isEmpty()) {
      ResolvedBackend backend = backend(context, settings(context));
      throw new AssertionFailedError(
          rule.id()
              + " [cap: "
              + join(needed)
              + "]: backend '"
              + backend.name()
              + "' declares the capability, so the rule is required, and it is not met: "
              + describe(throwable),
          throwable);
    }
    throw throwable;
  }

  private static String describe(Throwable t) {
    String m = t.getMessage();
    if (t instanceof AssertionError) {
      return m == null ? "assertion failed" : m;
    }
    return t.getClass().getSimpleName() + (m == null ? "" : ": " + m);
  }

  private static SpecRule rule(ExtensionContext context) {
    return context.getTestMethod().map(m -> m.getAnnotation(SpecRule.class)).orElse(null);
  }

  /**
   * @return the family of the running {@link FamilyVerification} (from its test instance), or null
   *     for a verification that does not run per family
   */
  static IpFamily family(ExtensionContext context) {
    return context
        .getTestInstance()
        .filter(FamilyVerification.class::isInstance)
        .map(i -> ((FamilyVerification) i).family())
        .orElse(null);
  }

  /** The rule's capabilities, and IPV6 for the IPv6 run of a per-family verification. */
  private static Set<Capability> needed(SpecRule rule, IpFamily family) {
    Set<Capability> needed = EnumSet.noneOf(Capability.class);
    needed.addAll(List.of(rule.capabilities()));
    if (family == IpFamily.IPV6) {
      needed.add(Capability.IPV6);
    }
    return needed;
  }

  private static Set<Capability> missingCapabilities(
      SpecRule rule, ResolvedBackend backend, IpFamily family) {
    Set<Capability> missing = EnumSet.noneOf(Capability.class);
    Set<Capability> declared = backend.capabilities();
    for (Capability c : needed(rule, family)) {
      if (!declared.contains(c)) {
        missing.add(c);
      }
    }
    return missing;
  }

  private static String join(Set<Capability> caps) {
    List<String> names = new ArrayList<>();
    for (Capability c : caps) {
      names.add(c.name());
    }
    return String.join(" and ", names);
  }

  static TckSettings settings(ExtensionContext context) {
    return context
        .getRoot()
        .getStore(NS)
        .getOrComputeIfAbsent(
            SETTINGS,
            k -> TckSettings.read(context::getConfigurationParameter, System.getenv()),
            TckSettings.class);
  }

  static ResolvedBackend backend(ExtensionContext context, TckSettings settings) {
    List<Class<?>> classes = new ArrayList<>();
    for (ExtensionContext c = context; c != null; c = c.getParent().orElse(null)) {
      c.getTestClass().ifPresent(classes::add);
    }
    Class<?> source = ResolvedBackend.providerSource(classes);
    String key = "backend:" + (source == null ? "" : source.getName());
    return context
        .getRoot()
        .getStore(NS)
        .getOrComputeIfAbsent(
            key, k -> ResolvedBackend.resolve(source, settings), ResolvedBackend.class);
  }
}
