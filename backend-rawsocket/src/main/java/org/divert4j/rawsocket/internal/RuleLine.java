package org.divert4j.rawsocket.internal;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** One iptables rule line. */
public final class RuleLine {
  static final Pattern COMMENT = Pattern.compile("--comment \"?(divert4j:[^\" ]*)\"?");

  final String counters;
  final String chain;
  final String rule;
  final String comment;

  RuleLine(String counters, String chain, String rule) {
    this.counters = counters == null ? "[0:0]" : counters.trim();
    this.chain = chain;
    this.rule = rule;
    Matcher m = COMMENT.matcher(rule);
    this.comment = m.find() ? m.group(1) : null;
  }

  /**
   * @return the rule text after {@code -A CHAIN}
   */
  public String rule() {
    return rule;
  }

  /**
   * @return the chain
   */
  public String chain() {
    return chain;
  }

  /**
   * @return the divert4j comment, or null
   */
  public String comment() {
    return comment;
  }

  /**
   * @return the packet counter
   */
  public long packets() {
    int colon = counters.indexOf(':');
    try {
      return Long.parseLong(counters.substring(1, colon));
    } catch (RuntimeException e) {
      return 0;
    }
  }
}
