package org.divert4j.tck;

/** Area L of SEMANTICS.md: Lifecycle. */
@SpecArea(id = "L", title = "Lifecycle")
public class LifecycleVerification extends TckVerification {
  /** For the JUnit engine and subclasses. */
  public LifecycleVerification() {}
}
