package org.divert4j.tck;

/**
 * Follows a TCK run test by test, e.g. to print progress in {@code divert tck}. Called on the
 * thread that runs the tests; implementations should return quickly.
 */
public interface TckListener {
  /** A listener that ignores everything. */
  TckListener NONE = new TckListener() {};

  /**
   * A test is about to run.
   *
   * @param backend the backend's name
   * @param testName the test method's name
   */
  default void testStarted(String backend, String testName) {}

  /**
   * A test has an outcome (also for skipped tests, which never start).
   *
   * @param result the outcome
   */
  default void testFinished(TckResult result) {}
}
