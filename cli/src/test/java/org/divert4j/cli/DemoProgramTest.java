package org.divert4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import org.divert4j.Divert;
import org.divert4j.DivertRule;
import org.divert4j.InstalledRule;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.junit.jupiter.api.Test;

/** The demo's program thread: counting per rule, and failing without a stack trace. */
class DemoProgramTest {
  @Test
  void countsWhatItDidPerRule() throws Exception {
    StringWriter text = new StringWriter();
    try (TestBed bed = Divert.provider("sim").testBed(TestBedOptions.defaults())) {
      InstalledRule rule = bed.host().addRule(DivertRule.parse("input udp port 1234"));
      try (DemoProgram p =
          new DemoProgram(
                  bed.host().bind(1234),
                  new PrintWriter(text, true),
                  (packet, v) ->
                      v.destinationPort() == 9
                          ? DemoProgram.Decision.drop()
                          : DemoProgram.Decision.reinject())
              .start()) {
        bed.peer().sendUdp(bed.hostNode().address(), 1, 9, new byte[1]);
        bed.peer().sendUdp(bed.hostNode().address(), 1, 10, new byte[1]);
        assertTrue(p.awaitHandled(2, Duration.ofSeconds(10)), text::toString);
        assertArrayEquals(new long[] {2, 1, 1, 0}, p.tally(rule.id()));
        assertArrayEquals(new long[] {0, 0, 0, 0}, p.tally(rule.id() + 1));
      }
    }
    assertTrue(text.toString().contains(":9 UDP len=29  -> drop\n"), text::toString);
  }

  @Test
  void aFailingPolicyStopsTheProgramAndIsReportedNotThrown() throws Exception {
    StringWriter text = new StringWriter();
    try (TestBed bed = Divert.provider("sim").testBed(TestBedOptions.defaults())) {
      bed.host().addRule(DivertRule.parse("input udp port 1234"));
      try (DemoProgram p =
          new DemoProgram(
                  bed.host().bind(1234),
                  new PrintWriter(text, true),
                  (packet, v) -> {
                    throw new IllegalStateException("policy bug");
                  })
              .start()) {
        bed.peer().sendUdp(bed.hostNode().address(), 1, 9, new byte[1]);
        long start = System.nanoTime();
        assertFalse(p.awaitHandled(1, Duration.ofSeconds(10)));
        assertTrue(System.nanoTime() - start < Duration.ofSeconds(5).toNanos(), "no long wait");
        assertEquals("java.lang.IllegalStateException: policy bug", p.failure().toString());
      }
    }
    assertEquals("", text.toString());
  }
}
