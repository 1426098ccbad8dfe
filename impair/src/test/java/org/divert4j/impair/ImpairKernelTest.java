package org.divert4j.impair;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.DivertRule;
import org.divert4j.linux.Shell;
import org.divert4j.rawsocket.RawSocketProvider;
import org.divert4j.spi.Availability;
import org.divert4j.testbed.TestBed;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The impairer on the kernel backend, as root, in the namespaces of its test bed, on the real
 * clock: pings see the delay, and closing removes the rule (UDP on every backend: {@link
 * ImpairEveryBackendTest}). Skips without root or when the backend is unavailable.
 */
class ImpairKernelTest {
  private static final long DELAY_NANOS = 30_000_000L;

  @BeforeEach
  void kernel() {
    assumeTrue(Shell.isRoot(), "needs root (CAP_NET_ADMIN, CAP_NET_RAW): skipped");
    Availability a = new RawSocketProvider().availability();
    assumeTrue(a.available(), () -> "rawsocket unavailable: " + a.reason());
  }

  @Test
  void pingsSeeTheAddedDelayAndTheRuleIsRemovedOnClose() throws Exception {
    Impairment m = Impairment.builder().delay(Duration.ofNanos(DELAY_NANOS)).build();
    List<Throwable> failures = new ArrayList<>();
    try (TestBed bed = RealRun.bed(new RawSocketProvider(), m)) {
      Impairer imp =
          Impairer.builder(bed.host(), 77)
              .rule(DivertRule.parse("input icmp", 77), m)
              .seed(1)
              .start();
      Thread t = RealRun.driver(imp, failures);
      try {
        for (int i = 0; i < 5; i++) {
          long start = System.nanoTime();
          assertTrue(bed.peer().ping(bed.hostNode().address(), 56, Duration.ofSeconds(2)));
          long rtt = System.nanoTime() - start;
          assertTrue(rtt >= DELAY_NANOS, "round trip " + rtt + " ns");
        }
      } finally {
        imp.stop();
        t.join();
        imp.close();
      }
      assertEquals(List.of(), failures);
      assertEquals(5, imp.stats().sent());
      assertTrue(bed.host().rules().isEmpty(), "rules left: " + bed.host().rules());
      // Without the rule the ping is answered at once (no listener would drop it otherwise).
      assertTrue(bed.peer().ping(bed.hostNode().address(), 56, Duration.ofSeconds(2)));
    }
  }
}
