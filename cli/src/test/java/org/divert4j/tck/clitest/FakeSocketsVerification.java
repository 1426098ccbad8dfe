package org.divert4j.tck.clitest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * A stand-in TCK verification for the cli's tests of {@code divert tck}: one area, four outcomes.
 * Its class name ends in "Verification" so the cli's runner finds it; Surefire does not run it.
 * System property {@value #FAIL} names a rule to fail, so a test can check the exit status.
 */
@SpecArea(id = "A", title = "Sockets, ports, rules, chains")
@ExtendWith(FakeSocketsVerification.Backend.class)
public class FakeSocketsVerification {
  public static final String FAIL = "divert.cli.test.failRule";

  /** Injects the backend named by the configuration parameter, as the real TCK reads it. */
  static final class Backend implements ParameterResolver {
    @Override
    public boolean supportsParameter(ParameterContext p, ExtensionContext e) {
      return p.getParameter().getType() == String.class;
    }

    @Override
    public Object resolveParameter(ParameterContext p, ExtensionContext e) {
      return e.getConfigurationParameter("divert.tck.backend").orElse("(none)");
    }
  }

  private static void maybeFail(String rule) {
    if (rule.equals(System.getProperty(FAIL))) {
      fail("deliberately broken for the cli's test: " + rule);
    }
  }

  @Test
  @SpecRule(id = "S1")
  void S1_receivesNothingUntilBound(String backend) {
    assertEquals("sim", backend);
    maybeFail("S1");
  }

  @Test
  @SpecRule(id = "S2")
  void S2_portsAreIndependent(String backend, TestInfo info) {
    maybeFail("S2");
  }

  @Test
  @SpecRule(id = "S3")
  void S3_sharedRules() {
    throw new TckSkippedException("the backend does not declare SHARED_RULES");
  }

  @Test
  @SpecRule(id = "S52", level = "SHOULD")
  void S52_arrivalOrder() {
    throw new org.opentest4j.TestAbortedException("SHOULD not met: packets were reordered");
  }
}
