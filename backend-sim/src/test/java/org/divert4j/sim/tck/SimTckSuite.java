package org.divert4j.sim.tck;

import org.divert4j.sim.SimProvider;
import org.divert4j.spi.DivertProvider;
import org.divert4j.tck.TckSuite;

/**
 * The "tiny subclass" way to run the TCK, as a backend author would write it. Its name does not end
 * in Test, so Surefire does not run it a second time next to the scanned TCK; {@link
 * SubclassWayTest} runs it through the launcher instead.
 */
class SimTckSuite extends TckSuite {
  @Override
  public DivertProvider provider() {
    return new SimProvider();
  }
}
