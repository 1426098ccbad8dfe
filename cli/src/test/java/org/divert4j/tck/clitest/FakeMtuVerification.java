package org.divert4j.tck.clitest;

import static org.junit.jupiter.api.Assertions.fail;

import org.junit.jupiter.api.Test;

/** A second stand-in area, so the matrix has more than one row. */
@SpecArea(id = "F", title = "MTU limit on injection")
public class FakeMtuVerification {
  @Test
  @SpecRule(id = "S27")
  void S27_oversizeInjectionIsRefused() {
    if ("S27".equals(System.getProperty(FakeSocketsVerification.FAIL))) {
      fail("deliberately broken for the cli's test: S27");
    }
  }

  @Test
  @SpecRule(id = "S28")
  void S28_exactlyMtuIsSent() {}
}
