package org.divert4j.tck;

/** Area I of SEMANTICS.md: Loops and re-entry. */
@SpecArea(id = "I", title = "Loops and re-entry")
public class LoopVerification extends TckVerification {
  /** For the JUnit engine and subclasses. */
  public LoopVerification() {}
}
