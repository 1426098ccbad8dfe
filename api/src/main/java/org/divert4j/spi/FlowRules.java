package org.divert4j.spi;

import org.divert4j.DivertException;
import org.divert4j.DivertRule;

/**
 * The connection-count check every backend applies in {@code addRule} (S68, S66): a backend or host
 * that cannot count packets per connection (one without {@link org.divert4j.Capability#FLOW_COUNT},
 * or the kernel backend's per-fragment hosts) refuses a rule whose filter uses {@code
 * flow.Packets}, with the reason, so nothing is installed that it would evaluate wrongly. Stateless
 * and thread-safe.
 */
public final class FlowRules {
  private FlowRules() {}

  /**
   * @param rule the rule being added
   * @param flowCount whether the backend (or this host of it) counts packets per connection
   * @param backend the backend's name, for the message
   * @param why why the backend does not count, appended to the message; may be empty
   * @throws DivertException naming the rule and the missing capability, if the rule's filter uses
   *     {@code flow.Packets} and the backend does not count
   */
  public static void check(DivertRule rule, boolean flowCount, String backend, String why)
      throws DivertException {
    if (!flowCount && rule.filter() != null && rule.filter().usesFlow()) {
      throw new DivertException(
          "backend '"
              + backend
              + "' cannot count packets per connection here"
              + (why.isEmpty() ? " (it does not declare the FLOW_COUNT capability)" : ": " + why)
              + "): cannot add '"
              + rule
              + "', whose filter uses flow.Packets (S68)");
    }
  }
}
