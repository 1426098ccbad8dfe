package org.divert4j.tck;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.reporting.ReportEntry;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;

/**
 * Prints the TCK report at the end of every JUnit Platform run that ran TCK tests (Surefire,
 * Gradle, an IDE), so that a run that skipped most tests never looks green. Registered through
 * {@code META-INF/services/org.junit.platform.launcher.TestExecutionListener} in the TCK jar; runs
 * without TCK tests print nothing. With {@value TckSettings#REPORT_DIR} set it also writes {@code
 * divert-tck-<backend>.txt}, {@code .json} and {@code .xml} there.
 *
 * <p>{@link Tck} leaves it out of its own runs (it returns the report instead).
 */
public final class TckSummaryListener implements TestExecutionListener {
  private final TckCollector collector = new TckCollector(TckListener.NONE);
  private final PrintStream out;
  private volatile Optional<String> reportDir = Optional.empty();

  /** Created by the JUnit Platform through the service loader; prints to standard output. */
  public TckSummaryListener() {
    this(System.out);
  }

  TckSummaryListener(PrintStream out) {
    this.out = out;
  }

  @Override
  public void testPlanExecutionStarted(TestPlan plan) {
    collector.testPlanExecutionStarted(plan);
    try {
      reportDir =
          TckSettings.read(plan.getConfigurationParameters()::get, System.getenv()).reportDir();
    } catch (RuntimeException e) {
      reportDir = Optional.empty();
    }
  }

  @Override
  public void reportingEntryPublished(TestIdentifier id, ReportEntry entry) {
    collector.reportingEntryPublished(id, entry);
  }

  @Override
  public void executionStarted(TestIdentifier id) {
    collector.executionStarted(id);
  }

  @Override
  public void executionSkipped(TestIdentifier id, String reason) {
    collector.executionSkipped(id, reason);
  }

  @Override
  public void executionFinished(TestIdentifier id, TestExecutionResult result) {
    collector.executionFinished(id, result);
  }

  @Override
  public void testPlanExecutionFinished(TestPlan plan) {
    TckReport report = collector.report();
    if (report.results().isEmpty() && report.errors().isEmpty()) {
      return;
    }
    out.println(report.toText());
    out.flush();
    reportDir.ifPresent(dir -> write(report, Path.of(dir)));
  }

  private void write(TckReport report, Path dir) {
    try {
      Files.createDirectories(dir);
      String name =
          "divert-tck-"
              + String.join("-", report.backends())
                  .replaceAll("[^A-Za-z0-9._-]", "_")
                  .toLowerCase(Locale.ROOT);
      Files.writeString(dir.resolve(name + ".txt"), report.toText(), StandardCharsets.UTF_8);
      Files.writeString(dir.resolve(name + ".json"), report.toJson(), StandardCharsets.UTF_8);
      Files.writeString(dir.resolve(name + ".xml"), report.toJUnitXml(), StandardCharsets.UTF_8);
      out.println("divert4j TCK report written to " + dir.resolve(name + ".{txt,json,xml}"));
    } catch (IOException | RuntimeException e) {
      out.println("divert4j TCK: could not write the report to " + dir + ": " + e);
    }
  }
}
