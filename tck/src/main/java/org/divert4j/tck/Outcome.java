package org.divert4j.tck;

/** The outcome of one TCK test, as the report counts it. */
public enum Outcome {
  /** The backend meets the rule as far as this test checks it. */
  PASSED,
  /** A required rule (MUST, or a declared capability's rule) is broken. */
  FAILED,
  /** An optional (SHOULD) rule is not met; the reason says how. Not a failure. */
  ABORTED,
  /**
   * The test did not run here: the backend is missing or unavailable, or does not declare a
   * capability the rule needs. Nothing was verified.
   */
  SKIPPED
}
