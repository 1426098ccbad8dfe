package org.divert4j.tck;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/**
 * Tests that stop themselves with an assumption, run by {@link TckReportTest} through {@link Tck}:
 * a MUST test that aborts is a failure, a SHOULD test that aborts is an optional miss. Not run by
 * Surefire directly.
 */
@SpecArea(id = "X", title = "Fake area")
public class FakeAbortingVerification extends TckVerification {
  /** For the JUnit engine. */
  public FakeAbortingVerification() {}

  /** A MUST test that gives up. */
  @Test
  @SpecRule(id = "S1")
  public void S1_abortsAMustRule(TckContext tck) {
    assumeTrue(tck.backend().isEmpty(), "the receive never blocked, so nothing was checked");
  }

  /** A SHOULD test that gives up. */
  @Test
  @SpecRule(id = "S52", level = Level.SHOULD)
  public void S52_abortsAShouldRule(TckContext tck) {
    assumeTrue(tck.backend().isEmpty(), "one reader only");
  }
}
