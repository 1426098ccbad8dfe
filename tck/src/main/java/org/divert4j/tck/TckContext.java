package org.divert4j.tck;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import org.divert4j.BackendUnavailableException;
import org.divert4j.Capability;
import org.divert4j.DivertException;
import org.divert4j.IpFamily;
import org.divert4j.spi.DivertProvider;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.opentest4j.AssertionFailedError;

/**
 * What a TCK test gets from {@link TckExtension} as a parameter: the backend under test, the
 * settings, and fresh test beds. Every test bed opened here is closed after the test even if the
 * test forgot to (tests still close their own with try-with-resources). One per test; used by the
 * test's thread.
 */
public final class TckContext {
  private final ResolvedBackend backend;
  private final TckSettings settings;
  private final SpecRule rule;
  private final IpFamily family;
  private final Consumer<String> onBedUnavailable;
  private final List<TestBed> opened = new ArrayList<>();

  TckContext(
      ResolvedBackend backend,
      TckSettings settings,
      SpecRule rule,
      IpFamily family,
      Consumer<String> onBedUnavailable) {
    this.backend = backend;
    this.settings = settings;
    this.rule = rule;
    this.family = family;
    this.onBedUnavailable = onBedUnavailable;
  }

  /**
   * @return the provider under test
   */
  public DivertProvider provider() {
    return backend.provider();
  }

  /**
   * @return the backend's name
   */
  public String backend() {
    return backend.name();
  }

  /**
   * @return the capabilities the backend declares
   */
  public Set<Capability> capabilities() {
    return backend.capabilities();
  }

  /**
   * @return the run's settings
   */
  public TckSettings settings() {
    return settings;
  }

  /**
   * @return how long to wait for something that must happen
   */
  public Duration timeout() {
    return settings.timeout();
  }

  /**
   * @return the address family of the running test: the family of a {@link FamilyVerification}'s
   *     run; IPv4 for the verifications that do not run per family (area K's tests name IPv6
   *     themselves)
   */
  public IpFamily family() {
    return family == null ? IpFamily.IPV4 : family;
  }

  /**
   * @return the rule of the running test, or null for a test without {@link SpecRule}
   */
  public SpecRule rule() {
    return rule;
  }

  /**
   * Opens a fresh test bed. If the backend says it is unavailable only now, the test is skipped (or
   * fails, with {@value TckSettings#REQUIRE_AVAILABLE}), and so are the rest of the run's tests on
   * this backend.
   *
   * @param options the test bed's options
   * @return the test bed; closed by the caller, and in any case after the test
   * @throws DivertException if the backend fails to build it for another reason (a failure)
   */
  public TestBed testBed(TestBedOptions options) throws DivertException {
    TestBed bed;
    try {
      bed = provider().testBed(options);
    } catch (BackendUnavailableException e) {
      onBedUnavailable(e);
      throw new AssertionError("unreachable", e);
    }
    if (bed == null) {
      throw new AssertionFailedError(
          "backend '" + backend() + "' returned no test bed for options " + options);
    }
    opened.add(bed);
    return bed;
  }

  private void onBedUnavailable(BackendUnavailableException e) {
    String reason = "test bed unavailable on backend '" + backend() + "': " + e.getMessage();
    onBedUnavailable.accept(reason);
    if (settings.requireAvailable()) {
      throw new AssertionFailedError(
          reason + " (failing because " + TckSettings.REQUIRE_AVAILABLE + "=true)", e);
    }
    throw new TckSkippedException(reason, e);
  }

  /**
   * Opens a test bed with default options (MTU 1500, DROP, PER_FRAGMENT, no far peer).
   *
   * @return the test bed
   * @throws DivertException if the backend fails to build it
   */
  public TestBed testBed() throws DivertException {
    return testBed(TestBedOptions.defaults());
  }

  void closeAll() {
    for (TestBed bed : opened) {
      try {
        bed.close();
      } catch (RuntimeException e) {
        // TestBed.close never throws by contract; a broken one must not hide the test's outcome
      }
    }
    opened.clear();
  }
}
