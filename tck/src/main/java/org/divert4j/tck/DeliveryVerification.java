package org.divert4j.tck;

/** Area B of SEMANTICS.md: Delivery. */
@SpecArea(id = "B", title = "Delivery")
public class DeliveryVerification extends TckVerification {
  /** For the JUnit engine and subclasses. */
  public DeliveryVerification() {}
}
