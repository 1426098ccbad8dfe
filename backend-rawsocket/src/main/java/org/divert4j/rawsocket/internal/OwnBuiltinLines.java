package org.divert4j.rawsocket.internal;

import org.divert4j.Chain;

/**
 * Recognises the lines divert4j writes in the kernel's built-in chains: the jump to one of its main
 * chains ({@link RuleText#jump}, or as older versions wrote it, {@link RuleText#legacyJump}) and a
 * host's fragment probe line ({@link FragmentProbe}). Cleanup, a host's open and close, and the
 * mark overlap check ask it which lines of a built-in chain they may delete, change or skip; any
 * line it does not recognise is another program's. Writing those lines is {@link RuleText}'s job.
 * Stateless.
 */
final class OwnBuiltinLines {
  private OwnBuiltinLines() {}

  /**
   * @param rule a rule text after {@code -A CHAIN}
   * @return whether it is exactly a bare jump to one of the main chains ({@link RuleText#jump})
   */
  static boolean isBareJump(String rule) {
    String r = rule.replace("\"", "").trim().replaceAll("\\s+", " ");
    for (Chain c : Chain.values()) {
      if (r.equals(RuleText.jump(c))) {
        return true;
      }
    }
    return false;
  }

  /**
   * Whether a line of a built-in chain is one divert4j writes there: the jump to one of its chains
   * ({@link RuleText#jump}: nothing but {@code -j DIVERT4J-<CHAIN>}, a chain only divert4j creates;
   * or as older versions wrote it, the base comment and a {@code DIVERT4J-} target), or a host's
   * fragment probe line (protocol 253, fragments only, no target, comment {@code
   * divert4j:<host>:<pid>:probe}; for IPv6 ::1 to ::1 with {@code -m frag}). Any other line is
   * another program's, even when its comment imitates divert4j's, and divert4j never deletes or
   * changes it (cleanup, a host's open and close).
   *
   * @param rule the rule text after {@code -A CHAIN}, as iptables-save prints it
   * @param comment its divert4j comment, or null
   * @return true if the line is divert4j's
   */
  static boolean isOwn(String rule, String comment) {
    if (comment == null) {
      return isBareJump(rule);
    }
    String r = " " + rule.replace("\"", "").trim() + " ";
    int target = r.indexOf(" -j ");
    if (RuleText.BASE.equals(comment)) {
      return target >= 0
          && r.startsWith(RuleText.CHAIN_PREFIX, target + 4)
          && r.indexOf(" -j ", target + 1) < 0;
    }
    // the IPv4 probe: protocol 253, non-first fragments; the IPv6 one (ip6tables has no -f): one
    // local IPv6 address (::1, or an interface's where IPv6 is off on lo) to itself with a
    // Fragment header
    return comment.endsWith(":probe")
        && comment.split(":").length == 4
        && target < 0
        && ((r.contains(" -p 253 ") && r.contains(" -f "))
            || (r.contains(" -m frag ") && toItself6(r)));
  }

  /** Whether a rule's text has {@code -s A/128 -d A/128} for one IPv6 address A. */
  private static boolean toItself6(String r) {
    int s = r.indexOf(" -s ");
    int d = r.indexOf(" -d ");
    if (s < 0 || d < 0) {
      return false;
    }
    String src = r.substring(s + 4, r.indexOf(' ', s + 4));
    String dst = r.substring(d + 4, r.indexOf(' ', d + 4));
    return src.equals(dst) && src.endsWith("/128") && src.contains(":");
  }
}
