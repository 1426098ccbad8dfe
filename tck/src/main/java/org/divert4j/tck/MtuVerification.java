package org.divert4j.tck;

/** Area F of SEMANTICS.md: MTU limit on injection. */
@SpecArea(id = "F", title = "MTU limit on injection")
public class MtuVerification extends TckVerification {
  /** For the JUnit engine and subclasses. */
  public MtuVerification() {}
}
