package org.divert4j.tck.clitest;

import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;

/** Stands for the TCK's annotation of the same simple name, which the cli reads by name. */
@Inherited
@Retention(RetentionPolicy.RUNTIME)
public @interface SpecArea {
  String id();

  String title();
}
