package org.divert4j.tck;

/** How binding a rule of SEMANTICS.md is, and so what its failure means in a TCK run. */
public enum Level {
  /**
   * Required: a backend that fails the rule is not compatible. A failing test is reported as
   * failed.
   */
  MUST,
  /**
   * Optional (SEMANTICS.md marks it SHOULD): a failing test is reported as aborted, with the
   * reason, and does not make the run fail.
   */
  SHOULD
}
