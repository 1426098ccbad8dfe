package org.divert4j;

/**
 * A divert rule installed on a host. Removing it stops diversion at once (S3); closing the host
 * removes it too (S51). Thread-safe.
 */
public interface InstalledRule {
  /**
   * @return the rule's id on its host: positive, unique among the host's rules, and the value
   *     {@link DivertAddress#ruleId()} reports for packets it diverted
   */
  int id();

  /**
   * @return the rule
   */
  DivertRule rule();

  /**
   * @return true until the rule is removed or its host is closed
   */
  boolean isInstalled();

  /**
   * Removes the rule. Packets matched after this returns are not diverted by it. Idempotent: a
   * second call, or a call after the host closed, does nothing. Blocks while the backend updates
   * the firewall (the kernel backend runs iptables).
   *
   * @throws DivertException if the backend failed to remove it; the rule is then still installed
   */
  void remove() throws DivertException;
}
