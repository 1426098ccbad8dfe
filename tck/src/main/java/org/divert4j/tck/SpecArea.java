package org.divert4j.tck;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Names the area of SEMANTICS.md a verification class covers; the report counts outcomes per area.
 * Inherited, so a backend's subclass of a verification keeps its area.
 */
@Documented
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface SpecArea {
  /**
   * @return the area's letter in SEMANTICS.md ({@code A}..{@code J}), or {@code L} for lifecycle
   */
  String id();

  /**
   * @return the area's title, e.g. {@code MTU limit on injection}
   */
  String title();
}
