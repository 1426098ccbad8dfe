package org.divert4j.tck;

/** Area G of SEMANTICS.md: Injection direction. */
@SpecArea(id = "G", title = "Injection direction")
public class InjectionVerification extends TckVerification {
  /** For the JUnit engine and subclasses. */
  public InjectionVerification() {}
}
