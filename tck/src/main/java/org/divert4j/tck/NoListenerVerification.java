package org.divert4j.tck;

/** Area C of SEMANTICS.md: No listener. */
@SpecArea(id = "C", title = "No listener")
public class NoListenerVerification extends TckVerification {
  /** For the JUnit engine and subclasses. */
  public NoListenerVerification() {}
}
