package org.divert4j.bench.kernel;

import java.util.Locale;

/**
 * {@link KernelBench}'s simulation section: the simulation backend's divert-and-reinject rate on
 * one thread ({@code SimDivertBenchmark} through JMH, one fork) next to a plain copy loop, for
 * issue 7 target 6. Needs the {@code benchmarks.jar} class path; says so when JMH cannot run.
 */
final class SimThroughput {
  private double simMpps = Double.NaN;
  private double copyMpps = Double.NaN;

  /** Runs SimDivertBenchmark through JMH (one fork); needs the benchmarks.jar class path. */
  void measure() {
    try {
      var opts =
          new org.openjdk.jmh.runner.options.OptionsBuilder()
              .include(org.divert4j.bench.SimDivertBenchmark.class.getName())
              .forks(1)
              .warmupIterations(3)
              .warmupTime(org.openjdk.jmh.runner.options.TimeValue.seconds(2))
              .measurementIterations(5)
              .measurementTime(org.openjdk.jmh.runner.options.TimeValue.seconds(2))
              .verbosity(org.openjdk.jmh.runner.options.VerboseMode.SILENT)
              .build();
      for (var r : new org.openjdk.jmh.runner.Runner(opts).run()) {
        String name = r.getParams().getBenchmark();
        double mpps = r.getPrimaryResult().getScore() / 1e6;
        System.out.printf(
            Locale.ROOT,
            "sim: %s %.3f Mpps (+- %.3f, 99.9%% CI, %d x 2 s after 3 x 2 s warm-up, one fork)%n",
            name.substring(name.lastIndexOf('.') + 1),
            mpps,
            r.getPrimaryResult().getScoreError() / 1e6,
            r.getPrimaryResult().getSampleCount());
        if (name.endsWith("divertAndReinject")) {
          simMpps = mpps;
        } else if (name.endsWith("copyBaseline")) {
          copyMpps = mpps;
        }
      }
    } catch (Exception | LinkageError e) {
      System.out.println("sim: JMH did not run (" + e + "); run from bench/target/benchmarks.jar");
    }
  }

  /** Prints target 6's row for {@link KernelBench}'s target table, if JMH ran. */
  void targetRow() {
    if (Double.isNaN(simMpps)) {
      return;
    }
    System.out.printf(
        Locale.ROOT,
        "| 6 | sim divert+reinject, one thread (Mpps; copy loop %.1f Mpps, ratio %.3f) | %.2f |"
            + " >= 5.0 | %s |%n",
        copyMpps,
        simMpps / copyMpps,
        simMpps,
        simMpps >= 5.0 ? "yes" : "no");
  }
}
