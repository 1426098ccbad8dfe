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
          QueueVerification.class,
          NoListenerVerification.class,
          PerFragmentVerification.class,
          AlwaysDefragmentVerification.class,
          MtuVerification.class,
          InjectionVerification.class,
          HeaderFixupVerification.class,
          LoopVerification.class,
          ErrorVerification.class,
          SegmentOffloadVerification.class,
          FilterVerification.class,
          Ipv6Verification.class,
          Ipv6FragmentVerification.class,
          Ipv6InjectionVerification.class,
          LifecycleVerification.class,
          MarkVerification.class,
          MetadataVerification.class,
          SniffVerification.class);

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
   * Runs the TCK from a command line and prints the report: {@code java -cp ...
   * org.divert4j.tck.Tck [--json FILE] [--xml FILE] [--rules S1,S27] BACKEND...}. With no backend
   * named, runs every provider on the class path. Exits with 0 if every backend is compatible, 1 if
   * one fails a required rule, 2 if one was not verified (most tests skipped), 64 on bad usage.
   *
   * @param args options and backend names
   */
  public static void main(String... args) {
    System.exit(runMain(args, System.out));
  }

  static int runMain(String[] args, java.io.PrintStream out) {
    List<String> backends = new ArrayList<>();
    String json = null;
    String xml = null;
    List<String> ruleIds = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if ((a.equals("--json") || a.equals("--xml") || a.equals("--rules")) && i + 1 < args.length) {
        String v = args[++i];
        switch (a) {
          case "--json" -> json = v;
          case "--xml" -> xml = v;
          default -> ruleIds.addAll(List.of(v.split(",")));
        }
      } else if (a.startsWith("-")) {
        out.println(
            "usage: org.divert4j.tck.Tck [--json FILE] [--xml FILE] [--rules S1,S27] [BACKEND...]");
        return 64;
      } else {
        backends.add(a);
      }
    }
    if (backends.isEmpty()) {
      for (DivertProvider p : org.divert4j.Divert.providers()) {
        backends.add(p.name());
      }
    }
    List<TckReport> reports = new ArrayList<>();
    for (String b : backends) {
      out.println("divert4j TCK: verifying backend '" + b + "'...");
      reports.add(builder().backend(b).rules(ruleIds.toArray(new String[0])).run());
    }
    TckReport report = TckReport.merge(reports);
    out.println(report.toText());
    try {
      if (json != null) {
        java.nio.file.Files.writeString(java.nio.file.Path.of(json), report.toJson());
      }
      if (xml != null) {
        java.nio.file.Files.writeString(java.nio.file.Path.of(xml), report.toJUnitXml());
      }
    } catch (java.io.IOException e) {
      out.println("divert4j TCK: could not write the report: " + e);
      return 1;
    }
    int code = 0;
    for (String b : report.backends()) {
      if (report.failed(b)) {
        return 1;
      }
      if (!report.compatible(b)) {
        code = 2;
      }
    }
    return report.backends().isEmpty() ? 2 : code;
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
     * Runs the tests and waits for them. Without {@link #backend} or {@link #provider}, the backend
     * comes from {@value TckSettings#BACKEND} (system property or environment), or from {@link
     * TckProviderSource} test classes given to {@link #classes}.
     *
     * @return the report
     */
    public TckReport run() {
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
        } else if (backend != null) {
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
        TckReport report = collector.report();
        // The standard verifications are a full run of the chosen rules (every rule when none was
        // chosen): a MUST rule among them that no test checked leaves the backend unverified.
        return classes.isEmpty()
            ? report.scoped(rules.isEmpty() ? SpecRules.ids() : rules)
            : report;
      } finally {
        if (ref != null) {
          ProviderRegistry.unregister(ref);
        }
      }
    }
  }
}
