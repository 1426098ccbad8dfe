package org.divert4j.tck.reliability;

import java.util.List;
import java.util.OptionalLong;
import org.divert4j.HostOptions;
import org.divert4j.spi.DivertProvider;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;

/**
 * The backend under a reliability verification and what it says about itself: the provider, when it
 * cannot run here, its own queue and counters, and how much load suits it. Each backend has one
 * subclass (as {@code *ReliabilityTest}) that overrides what differs from the defaults and nests
 * one short class per verification ({@link OverloadVerification}, {@link ShutdownVerification},
 * {@link LeakVerification}, {@link ConcurrencyVerification}), each handed this backend.
 */
public abstract class ReliabilityBackend {
  /**
   * @return the backend under test
   */
  protected abstract DivertProvider provider();

  /** Skips (with the reason) when the backend cannot run here; called before each test. */
  protected void assumeAvailable() {}

  /**
   * @param options the test bed's options
   * @return a new test bed
   * @throws Exception if it cannot be built
   */
  protected TestBed newBed(TestBedOptions options) throws Exception {
    return provider().testBed(options);
  }

  /**
   * @param bed the test bed
   * @param port a divert port
   * @return how many packets the backend's own queue for the port holds now, where the backend has
   *     one outside the JVM (NFQUEUE's queue_total)
   */
  protected OptionalLong backendQueueDepth(TestBed bed, int port) {
    return OptionalLong.empty();
  }

  /**
   * @param bed the test bed
   * @param port a divert port
   * @return the backend's own counters for the port, as text for the report, or ""
   */
  protected String backendCounters(TestBed bed, int port) {
    return "";
  }

  /**
   * @return the rate at which the overloaded program consumes, packets per second; the peer offers
   *     ten times as much
   */
  protected int consumeRate() {
    return 250;
  }

  /**
   * @return socket bind/close cycles of the leak test (CI, long)
   */
  protected int socketCycles() {
    return Figures.pick(1000, 10_000);
  }

  /**
   * @return host open/close cycles of the leak test (CI, long)
   */
  protected int hostCycles() {
    return Figures.pick(200, 10_000);
  }

  /**
   * @param bed the test bed
   * @param resources where to register what must be closed after the cycles
   * @return the options of the hosts the host-cycle test opens with {@link #provider()}; by default
   *     the test bed host's, after closing that host (a backend may allow one per segment)
   * @throws Exception if they cannot be prepared
   */
  protected HostOptions hostCycleOptions(TestBed bed, List<AutoCloseable> resources)
      throws Exception {
    bed.host().close();
    return bed.host().options();
  }

  /**
   * @param perSecond the offered rate
   * @return how many packets a close under traffic may count twice (socket and host): zero where
   *     the backend counts from one source; a kernel reads two counters that move independently. A
   *     packet counted nowhere (offered but neither delivered nor counted) always fails.
   */
  protected long closeRaceTolerance(int perSecond) {
    return 0;
  }
}
