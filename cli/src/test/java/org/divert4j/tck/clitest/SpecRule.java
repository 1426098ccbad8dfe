package org.divert4j.tck.clitest;

import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;

/** Stands for the TCK's annotation of the same simple name, which the cli reads by name. */
@Retention(RetentionPolicy.RUNTIME)
public @interface SpecRule {
  String id();

  String level() default "MUST";
}
