package org.divert4j.cli;

import java.time.Duration;
import org.divert4j.Divert;
import org.divert4j.spi.DivertProvider;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;

/**
 * Run by {@link ModulePathTest} in a child JVM with the divert4j modules on the module path: lists
 * the providers with their modules and pings across a simulated test bed.
 */
public final class ModulePathCheck {
  private ModulePathCheck() {}

  public static void main(String[] args) throws Exception {
    for (DivertProvider p : Divert.providers()) {
      System.out.println(
          p.name() + " " + p.getClass().getModule().getName() + " " + p.availability());
    }
    try (TestBed bed = Divert.provider("sim").testBed(TestBedOptions.defaults())) {
      System.out.println("ping " + bed.peer().ping(bed.hostNode().address(), 56, Duration.ZERO));
    }
  }
}
