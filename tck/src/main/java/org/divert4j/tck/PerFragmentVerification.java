package org.divert4j.tck;

/** Area D of SEMANTICS.md: Per-fragment mode. */
@SpecArea(id = "D", title = "Per-fragment mode")
public class PerFragmentVerification extends TckVerification {
  /** For the JUnit engine and subclasses. */
  public PerFragmentVerification() {}
}
