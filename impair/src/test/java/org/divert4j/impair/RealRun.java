package org.divert4j.impair;

import java.util.List;
import org.divert4j.HostOptions;
import org.divert4j.spi.DivertProvider;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;

/**
 * What the tests of an impairer on a backend's test bed and the real clock share (the simulation's
 * virtual clock has {@link SimRig}): the test bed, and the thread that runs the impairer.
 */
final class RealRun {
  private RealRun() {}

  /**
   * @return the provider's test bed, its host able to hold packets as long as {@code m} needs, with
   *     a queue deep enough for a test's burst
   */
  static TestBed bed(DivertProvider provider, Impairment m) throws Exception {
    return provider.testBed(
        TestBedOptions.builder()
            .host(
                HostOptions.builder()
                    .holdTimeout(Impairer.requiredHoldTimeout(List.of(m)))
                    .queueLength(8192)
                    .build())
            .build());
  }

  /**
   * Starts a thread that runs {@code imp} until it is stopped; what the run throws is added to
   * {@code failures}, for the test to assert none.
   *
   * @return the started thread, to join after {@link Impairer#stop()}
   */
  static Thread driver(Impairer imp, List<Throwable> failures) {
    Thread t =
        new Thread(
            () -> {
              try {
                imp.run();
              } catch (Throwable e) {
                failures.add(e);
              }
            },
            "impairer");
    t.start();
    return t;
  }
}
