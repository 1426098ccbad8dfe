package org.divert4j.tck;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a test of a {@link FamilyVerification} whose rule has no IPv6 reading, so that its IPv6 run
 * is skipped with {@link #value()} as the reason (SEMANTICS.md K names the substitutions: IPv6 has
 * no header checksum, no Don't Fragment flag, no Identification outside the Fragment header). Such
 * a skip is not held against the backend; the rule's IPv6 counterpart is tested in area K.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
public @interface Ipv4Only {
  /**
   * @return why the rule does not apply to IPv6, and where its IPv6 reading is tested
   */
  String value();
}
