package org.divert4j.tck;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.divert4j.Capability;

/**
 * Marks a TCK test with the rule of SEMANTICS.md it checks. The test method's name starts with the
 * rule id ({@code S27_oversizeInjectionIsRefusedWithMtu}); {@link TckExtension} uses this
 * annotation to decide the test's outcome:
 *
 * <ul>
 *   <li>{@link Level#MUST}: a failure is a failure;
 *   <li>{@link Level#SHOULD}: a failure is reported as aborted, with the reason;
 *   <li>{@link #capabilities()} not empty: the test is skipped, naming the capability, when the
 *       backend does not declare every one of them; when it declares them, a failure is a failure
 *       (a declared capability is a promise).
 * </ul>
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
public @interface SpecRule {
  /**
   * @return the rule id, e.g. {@code S27}
   */
  String id();

  /**
   * @return how binding the part of the rule this test checks is
   */
  Level level() default Level.MUST;

  /**
   * @return the capabilities the backend must declare for this test to apply (all of them)
   */
  Capability[] capabilities() default {};
}
