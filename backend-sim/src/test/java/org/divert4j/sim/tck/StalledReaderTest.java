package org.divert4j.sim.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.divert4j.DivertAddress;
import org.divert4j.DivertException;
import org.divert4j.spi.DivertProvider;
import org.divert4j.tck.Outcome;
import org.divert4j.tck.Tck;
import org.divert4j.tck.TckReport;
import org.junit.jupiter.api.Test;

/**
 * The TCK's waiting holds on a loaded machine: a test thread that gets no CPU for longer than the
 * timeout, after the packets it waits for have arrived, still reads them, and the backend still
 * passes.
 *
 * <p>The stall is made deterministic by a socket of the simulation whose first receive that returns
 * a packet keeps the calling thread away for three timeouts, as a descheduled thread on a busy
 * machine would be. The simulation itself is unchanged: it queues every packet before the send
 * returns, so nothing the TCK waits for arrives late.
 */
class StalledReaderTest {
  private static final Duration TIMEOUT = Duration.ofMillis(100);

  /**
   * Area M's bench sends each filter's packets, then reads one packet per socket per pass. It used
   * to give up once a full timeout had passed after its deadline, although the packets were still
   * being read: under load, the broken backends' self-tests then failed S64 and S65 on a backend
   * that meets them ({@code aBackendThatReordersDoesNotMeetS52ButPasses}, and S65 beside S51 on
   * {@code broken-closed-receive}).
   */
  @Test
  void filterVerdictsAreReadWhenTheReaderStallsPastTheTimeout() {
    AtomicBoolean stalled = new AtomicBoolean();
    DivertProvider provider =
        Decorated.sockets(
            "stalled-reader",
            s ->
                new Decorated.Forwarding(s) {
                  @Override
                  public DivertAddress receive(ByteBuffer dst, Duration timeout)
                      throws DivertException {
                    DivertAddress a = super.receive(dst, timeout);
                    if (a != null && stalled.compareAndSet(false, true)) {
                      stall(TIMEOUT.multipliedBy(3));
                    }
                    return a;
                  }
                });
    TckReport report = Tck.builder().provider(provider).rules("S64", "S65").timeout(TIMEOUT).run();
    assertTrue(stalled.get(), "no packet was received:\n" + report.toText());
    assertEquals(0, report.count(provider.name(), Outcome.FAILED), "failed:\n" + report.toText());
    assertEquals(0, report.count(provider.name(), Outcome.ABORTED), "aborted:\n" + report.toText());
    assertEquals(4, report.count(provider.name(), Outcome.PASSED), "passed:\n" + report.toText());
  }

  /** The reading thread gets no CPU for {@code d}: what a loaded machine does to it. */
  private static void stall(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
