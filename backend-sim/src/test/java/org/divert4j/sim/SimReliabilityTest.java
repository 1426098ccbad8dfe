package org.divert4j.sim;

import org.divert4j.spi.DivertProvider;
import org.divert4j.tck.reliability.Figures;
import org.divert4j.tck.reliability.ReliabilityContract;

/** Overload, shutdown, leaks and concurrency on the simulation (issue 8). */
class SimReliabilityTest extends ReliabilityContract {
  @Override
  protected DivertProvider provider() {
    return new SimProvider();
  }

  @Override
  protected int socketCycles() {
    return 10_000;
  }

  @Override
  protected int hostCycles() {
    return Figures.pick(1000, 10_000);
  }
}
