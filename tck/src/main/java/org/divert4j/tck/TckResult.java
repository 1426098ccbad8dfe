package org.divert4j.tck;

import java.util.List;
import org.divert4j.Capability;

/**
 * The outcome of one TCK test. Immutable.
 *
 * @param backend the backend's name
 * @param areaId the area letter ({@link SpecArea#id()})
 * @param areaTitle the area's title
 * @param ruleId the rule id, e.g. {@code S27}
 * @param level MUST or SHOULD
 * @param capabilities the capabilities the test needs (empty for most)
 * @param testClass the verification class's name
 * @param testName the test method's name, e.g. {@code S27_oversizeInjectionIsRefusedWithMtu}
 * @param outcome passed, failed, aborted or skipped
 * @param reason why it failed, aborted or was skipped; empty when passed
 * @param detail the stack trace of a failure or abort; empty otherwise
 * @param millis how long it took
 */
public record TckResult(
    String backend,
    String areaId,
    String areaTitle,
    String ruleId,
    Level level,
    List<Capability> capabilities,
    String testClass,
    String testName,
    Outcome outcome,
    String reason,
    String detail,
    long millis) {
  /**
   * Copies the list.
   *
   * @param backend the backend's name
   * @param areaId the area letter ({@link SpecArea#id()})
   * @param areaTitle the area's title
   * @param ruleId the rule id, e.g. {@code S27}
   * @param level MUST or SHOULD
   * @param capabilities the capabilities the test needs (empty for most)
   * @param testClass the verification class's name
   * @param testName the test method's name, e.g. {@code S27_oversizeInjectionIsRefusedWithMtu}
   * @param outcome passed, failed, aborted or skipped
   * @param reason why it failed, aborted or was skipped; empty when passed
   * @param detail the stack trace of a failure or abort; empty otherwise
   * @param millis how long it took
   */
  public TckResult {
    capabilities = List.copyOf(capabilities);
  }

  @Override
  public String toString() {
    return backend
        + " "
        + testName
        + ": "
        + outcome
        + (reason.isEmpty() ? "" : " (" + reason + ")");
  }
}
