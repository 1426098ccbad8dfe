package org.divert4j.sim;

import org.divert4j.spi.DivertProvider;
import org.divert4j.tck.reliability.ConcurrencyVerification;
import org.divert4j.tck.reliability.Figures;
import org.divert4j.tck.reliability.LeakVerification;
import org.divert4j.tck.reliability.OverloadVerification;
import org.divert4j.tck.reliability.ReliabilityBackend;
import org.divert4j.tck.reliability.ShutdownVerification;
import org.junit.jupiter.api.Nested;

/** Overload, shutdown, leaks and concurrency on the simulation (issue 8). */
class SimReliabilityTest extends ReliabilityBackend {
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

  @Nested
  class Overload extends OverloadVerification {
    Overload() {
      super(SimReliabilityTest.this);
    }
  }

  @Nested
  class Shutdown extends ShutdownVerification {
    Shutdown() {
      super(SimReliabilityTest.this);
    }
  }

  @Nested
  class Leaks extends LeakVerification {
    Leaks() {
      super(SimReliabilityTest.this);
    }
  }

  @Nested
  class Concurrency extends ConcurrencyVerification {
    Concurrency() {
      super(SimReliabilityTest.this);
    }
  }
}
