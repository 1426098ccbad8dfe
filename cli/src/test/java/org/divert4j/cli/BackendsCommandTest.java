package org.divert4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class BackendsCommandTest {
  @Test
  void listsTheSimulationWithItsCapabilitiesAndSelection() {
    Cli.Result r = Cli.run("backends");
    assertEquals(ExitCodes.OK, r.status(), r::toString);
    List<String> lines = r.outLines();
    assertEquals("BACKEND      STATUS       PRIORITY  SELECTION", lines.get(0));
    assertTrue(
        r.out().contains("\nsim          available           0  by name only\n"), r::toString);
    assertTrue(
        r.out()
            .contains(
                "  capabilities: FORWARD, SHARED_RULES, EXACT_INBOUND_INTERFACE,"
                    + " MULTIPLE_INTERFACES, VIRTUAL_TIME, WHOLE_LOCAL_OUTPUT, IPV6,"
                    + " INTACT_ATOMIC_FRAGMENTS, TRUNCATED_CHAINS_CONTINUE, IPV6_REASSEMBLY_COUNTERS,"
                    + " PACKET_MARK, PACKET_META, KERNEL_FILTER, SNIFF, FLOW_COUNT\n"),
        r::toString);
    assertTrue(
        lines.get(lines.size() - 1).startsWith("Selected when none is named: "), r::toString);
    assertEquals("", r.err());
  }

  @Test
  void takesNoArguments() {
    Cli.Result r = Cli.run("backends", "sim");
    assertEquals(ExitCodes.USAGE, r.status());
    assertTrue(r.err().startsWith("divert backends: "), r::toString);
  }
}
