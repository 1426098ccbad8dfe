package org.divert4j.sim.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.divert4j.tck.Outcome;
import org.divert4j.tck.Tck;
import org.divert4j.tck.TckReport;
import org.junit.jupiter.api.Test;

/** The subclass way finds its provider and runs every verification, as the scanned way does. */
class SubclassWayTest {
  @Test
  void aTckSuiteSubclassRunsTheWholeTckOnItsProvider() {
    TckReport subclass = Tck.builder().classes(SimTckSuite.class).run();
    TckReport scanned = Tck.run("sim", org.divert4j.tck.TckListener.NONE);
    assertEquals(java.util.List.of("sim"), subclass.backends(), subclass.toText());
    assertEquals(scanned.results().size(), subclass.results().size(), subclass.toText());
    assertEquals(subclass.results().size(), subclass.count(Outcome.PASSED), subclass.toText());
    assertTrue(subclass.compatible("sim"), subclass.toText());
  }
}
