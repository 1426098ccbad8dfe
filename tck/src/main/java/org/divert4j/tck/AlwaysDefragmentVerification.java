package org.divert4j.tck;

/** Area E of SEMANTICS.md: Always-defragment mode. */
@SpecArea(id = "E", title = "Always-defragment mode")
public class AlwaysDefragmentVerification extends TckVerification {
  /** For the JUnit engine and subclasses. */
  public AlwaysDefragmentVerification() {}
}
