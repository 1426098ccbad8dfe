package org.divert4j.sim.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.divert4j.tck.Tck;
import org.divert4j.tck.TckListener;
import org.divert4j.tck.TckReport;
import org.divert4j.tck.TckResult;
import org.junit.jupiter.api.Test;

/** The subclass way finds its provider and gives the same outcomes as the named way. */
class SubclassWayTest {
  @Test
  void aTckSuiteSubclassRunsTheWholeTckOnItsProvider() {
    TckReport subclass = Tck.builder().classes(SimTckSuite.class).run();
    TckReport named = Tck.run("sim", TckListener.NONE);
    assertEquals(List.of("sim"), subclass.backends(), subclass.toText());
    assertEquals(outcomes(named), outcomes(subclass), subclass.toText());
  }

  private static Map<String, String> outcomes(TckReport report) {
    Map<String, String> m = new TreeMap<>();
    for (TckResult r : report.results()) {
      m.put(r.displayName(), r.outcome().name());
    }
    return m;
  }
}
