package org.divert4j.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import org.divert4j.Capability;
import org.junit.jupiter.api.Test;

/**
 * Tests with known outcomes, run by {@link TckMachineryTest} through {@link Tck} to check how the
 * extension turns rule levels and capabilities into outcomes. Not run by Surefire directly.
 */
@SpecArea(id = "X", title = "Fake area")
public class FakeVerification extends TckVerification {
  /** For the JUnit engine. */
  public FakeVerification() {}

  /** Passes. */
  @Test
  @SpecRule(id = "S1")
  public void S1_passes(TckContext tck) {
    assertEquals("fake", tck.backend().substring(0, 4));
  }

  /** Fails a MUST rule. */
  @Test
  @SpecRule(id = "S2")
  public void S2_failsAMustRule(TckContext tck) {
    fail("the port was not in use");
  }

  /** Fails a SHOULD rule: reported as aborted. */
  @Test
  @SpecRule(id = "S52", level = Level.SHOULD)
  public void S52_failsAShouldRule(TckContext tck) {
    fail("packets came out of order");
  }

  /** Fails a rule gated on FORWARD: skipped, or failed if FORWARD is declared. */
  @Test
  @SpecRule(id = "S4", capabilities = Capability.FORWARD)
  public void S4_failsAGatedRule(TckContext tck) {
    fail("forward came before input");
  }

  /** Needs SHARED_RULES, which no fake declares: always skipped. */
  @Test
  @SpecRule(id = "S3", capabilities = Capability.SHARED_RULES)
  public void S3_needsSharedRules(TckContext tck) {
    fail("must not run");
  }
}
