package org.divert4j.tck;

/** Area J of SEMANTICS.md: Errors and bad input. */
@SpecArea(id = "J", title = "Errors and bad input")
public class ErrorVerification extends TckVerification {
  /** For the JUnit engine and subclasses. */
  public ErrorVerification() {}
}
