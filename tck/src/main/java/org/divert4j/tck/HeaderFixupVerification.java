package org.divert4j.tck;

/** Area H of SEMANTICS.md: Header fix-ups on injection. */
@SpecArea(id = "H", title = "Header fix-ups on injection")
public class HeaderFixupVerification extends TckVerification {
  /** For the JUnit engine and subclasses. */
  public HeaderFixupVerification() {}
}
