package org.divert4j.tck;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.divert4j.spi.DivertProvider;
import org.junit.platform.engine.DiscoverySelector;
import org.junit.platform.engine.FilterResult;
import org.junit.platform.engine.support.descriptor.MethodSource;
import org.junit.platform.launcher.EngineFilter;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.PostDiscoveryFilter;
import org.junit.platform.launcher.core.LauncherConfig;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * Runs the TCK from code, on the JUnit Platform Launcher, and returns the report: what {@code
 * divert tck} and the TCK's self-tests use. One JVM can run several backends in sequence; each run
 * passes its settings as JUnit configuration parameters, so runs do not share state.
 *
 * <pre>{@code
 * TckReport report = Tck.run("sim", TckListener.NONE);
 * System.out.println(report.toText());
 * boolean ok = report.compatible("sim");
 * }</pre>
 *
 * <p>Thread-safe; runs block the calling thread until the tests finish.
 */
public final class Tck {
  private static final List<Class<?>> VERIFICATIONS =
      List.of(
          SocketsAndRulesVerification.class,
          DeliveryVerification.class,
          NoListenerVerification.class,
          PerFragmentVerification.class,
          AlwaysDefragmentVerification.class,
          MtuVerification.class,
          InjectionVerification.class,
          HeaderFixupVerification.class,
          LoopVerification.class,
          ErrorVerification.class,
          LifecycleVerification.class);

  private Tck() {}

  /**
   * @return the verification classes, one per area, in specification order
   */
  public static List<Class<?>> verifications() {
    return VERIFICATIONS;
  }

  /**
   * Runs the whole TCK on a backend found by name among the providers on the class path.
   *
   * @param backend the provider's name, e.g. {@code sim}
   * @param progress told about each test as it runs
   * @return the report
   */
  public static TckReport run(String backend, TckListener progress) {
    return builder().backend(backend).listener(progress).run();
  }

  /**
   * Runs the whole TCK on a provider object (which need not be registered as a service), e.g. a
   * deliberately broken backend in a self-test.
   *
   * @param provider the provider
   * @param progress told about each test as it runs
   * @return the report
   */
  public static TckReport run(DivertProvider provider, TckListener progress) {
    return builder().provider(provider).listener(progress).run();
  }

  /**
   * @return a builder for a run with more choices (a subset of rules, settings)
   */
  public static Builder builder() {
    return new Builder();
  }

  /** Configures and starts one TCK run. Not thread-safe; {@link #run()} may be called again. */
  public static final class Builder {
    private String backend;
    private DivertProvider provider;
    private TckListener listener = TckListener.NONE;
    private final Set<String> rules = new LinkedHashSet<>();
    private final List<Class<?>> classes = new ArrayList<>();
    private final Map<String, String> parameters = new LinkedHashMap<>();

    private Builder() {}

    /**
     * @param name the provider's name; replaces {@link #provider(DivertProvider)}
     * @return this builder
     */
    public Builder backend(String name) {
      this.backend = Objects.requireNonNull(name, "name");
      this.provider = null;
      return this;
    }

    /**
     * @param provider a provider object; replaces {@link #backend(String)}
     * @return this builder
     */
    public Builder provider(DivertProvider provider) {
      this.provider = Objects.requireNonNull(provider, "provider");
      this.backend = null;
      return this;
    }

    /**
     * @param listener told about each test as it runs
     * @return this builder
     */
    public Builder listener(TckListener listener) {
      this.listener = Objects.requireNonNull(listener, "listener");
      return this;
    }

    /**
     * Restricts the run to the tests of some rules.
     *
     * @param ids rule ids such as {@code S27}; none means every rule
     * @return this builder
     */
    public Builder rules(String... ids) {
      rules.addAll(List.of(ids));
      return this;
    }

    /**
     * Runs these test classes instead of the standard verifications (for the TCK's own tests, or a
     * backend's extra verifications written with {@link SpecRule}).
     *
     * @param testClasses test classes
     * @return this builder
     */
    public Builder classes(Class<?>... testClasses) {
      classes.addAll(List.of(testClasses));
      return this;
    }

    /**
     * @param require true to fail instead of skip when the backend is unavailable
     * @return this builder
     */
    public Builder requireAvailable(boolean require) {
      return parameter(TckSettings.REQUIRE_AVAILABLE, Boolean.toString(require));
    }

    /**
     * @param timeout how long tests wait for something that must happen
     * @return this builder
     */
    public Builder timeout(Duration timeout) {
      return parameter(TckSettings.TIMEOUT, timeout.toMillis() + "ms");
    }

    /**
     * @param key a JUnit configuration parameter, e.g. one of {@link TckSettings}
     * @param value its value
     * @return this builder
     */
    public Builder parameter(String key, String value) {
      parameters.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
      return this;
    }

    /**
     * Runs the tests and waits for them.
     *
     * @return the report
     * @throws IllegalStateException if neither a backend nor a provider was given
     */
    public TckReport run() {
      if (backend == null && provider == null) {
        throw new IllegalStateException("name a backend or give a provider");
      }
      String ref = provider == null ? null : ProviderRegistry.register(provider);
      try {
        List<DiscoverySelector> selectors = new ArrayList<>();
        for (Class<?> c : classes.isEmpty() ? VERIFICATIONS : classes) {
          selectors.add(selectClass(c));
        }
        LauncherDiscoveryRequestBuilder request =
            LauncherDiscoveryRequestBuilder.request()
                .selectors(selectors)
                .filters(EngineFilter.includeEngines("junit-jupiter"))
                .configurationParameters(parameters);
        if (ref != null) {
          request.configurationParameter(TckSettings.PROVIDER_REF, ref);
          request.configurationParameter(TckSettings.BACKEND, provider.name());
        } else {
          request.configurationParameter(TckSettings.BACKEND, backend);
        }
        if (!rules.isEmpty()) {
          Set<String> wanted = Set.copyOf(rules);
          request.filters(
              (PostDiscoveryFilter)
                  descriptor -> {
                    if (!(descriptor.getSource().orElse(null) instanceof MethodSource ms)) {
                      return FilterResult.included("container");
                    }
                    SpecRule r = ms.getJavaMethod().getAnnotation(SpecRule.class);
                    return r != null && wanted.contains(r.id())
                        ? FilterResult.included("rule selected")
                        : FilterResult.excluded("rule not selected");
                  });
        }
        LauncherDiscoveryRequest built = request.build();
        TckCollector collector = new TckCollector(listener);
        // Listeners found through the service loader (TckSummaryListener among them) stay out of
        // this run: the caller gets the report and decides what to print.
        Launcher launcher =
            LauncherFactory.create(
                LauncherConfig.builder()
                    .enableTestExecutionListenerAutoRegistration(false)
                    .build());
        launcher.execute(built, collector);
        return collector.report();
      } finally {
        if (ref != null) {
          ProviderRegistry.unregister(ref);
        }
      }
    }
  }
}
