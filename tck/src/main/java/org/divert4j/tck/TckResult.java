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
 * @param family the address family of the run, {@code IPv4} or {@code IPv6}, for a verification
 *     that runs once per family ({@link FamilyVerification}); empty for the others
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
    long millis,
    String family) {
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
   * @param family {@code IPv4}, {@code IPv6}, or empty for a verification not run per family
   */
  public TckResult {
    capabilities = List.copyOf(capabilities);
    family = family == null ? "" : family;
  }

  /**
   * A result of a verification that does not run per family.
   *
   * @param backend the backend's name
   * @param areaId the area letter ({@link SpecArea#id()})
   * @param areaTitle the area's title
   * @param ruleId the rule id, e.g. {@code S27}
   * @param level MUST or SHOULD
   * @param capabilities the capabilities the test needs (empty for most)
   * @param testClass the verification class's name
   * @param testName the test method's name
   * @param outcome passed, failed, aborted or skipped
   * @param reason why it failed, aborted or was skipped; empty when passed
   * @param detail the stack trace of a failure or abort; empty otherwise
   * @param millis how long it took
   */
  public TckResult(
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
    this(
        backend,
        areaId,
        areaTitle,
        ruleId,
        level,
        capabilities,
        testClass,
        testName,
        outcome,
        reason,
        detail,
        millis,
        "");
  }

  /**
   * @return the test's name, followed by {@code [IPv6]} (or {@code [IPv4]}) for a run of a
   *     verification that runs once per family
   */
  public String displayName() {
    return family.isEmpty() ? testName : testName + "[" + family + "]";
  }

  @Override
  public String toString() {
    return backend
        + " "
        + displayName()
        + ": "
        + outcome
        + (reason.isEmpty() ? "" : " (" + reason + ")");
  }
}
