package org.divert4j.examples;

import org.divert4j.Divert;
import org.divert4j.spi.DivertProvider;
import org.divert4j.tck.TckSuite;

/**
 * The whole TCK against the backend this project runs on: the simulation by default, the one named
 * by -Ddivert.backend otherwise.
 */
class BackendTckTest extends TckSuite {
  @Override
  public DivertProvider provider() {
    return Divert.requireProvider(System.getProperty("divert.backend", "sim"));
  }
}
