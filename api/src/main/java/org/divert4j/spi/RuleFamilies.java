package org.divert4j.spi;

import org.divert4j.DivertException;
import org.divert4j.DivertRule;
import org.divert4j.IpFamily;

/**
 * The family check every backend applies in {@code addRule} (S54): a backend that does not declare
 * {@link org.divert4j.Capability#IPV6} refuses a rule restricted to IPv6, so nothing is installed
 * that could never match. Stateless and thread-safe.
 */
public final class RuleFamilies {
  private RuleFamilies() {}

  /**
   * @param rule the rule being added
   * @param ipv6 whether the backend diverts IPv6
   * @param backend the backend's name, for the message
   * @throws DivertException naming the rule and the missing capability, if the rule matches IPv6
   *     only and the backend does not divert IPv6
   */
  public static void check(DivertRule rule, boolean ipv6, String backend) throws DivertException {
    if (!ipv6 && rule.family().orElse(null) == IpFamily.IPV6) {
      throw new DivertException(
          "backend '"
              + backend
              + "' does not divert IPv6 (it does not declare the IPV6 capability): cannot add '"
              + rule
              + "'");
    }
  }
}
