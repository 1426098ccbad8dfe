package org.divert4j.rawsocket.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** One divert rule: its lines in a main chain, with the owner from its comment. */
public final class RuleGroup {
  private static final Pattern JUMP = Pattern.compile("-j (DIVERT4J-\\S+)");

  final List<RuleLine> lines = new ArrayList<>();
  final String comment;
  final String host;
  final long pid;
  final int tag;

  RuleGroup(String comment) {
    this.comment = comment;
    String[] f = comment.split(":");
    this.host = f.length > 1 ? f[1] : "";
    long p = -1;
    int t = 0;
    try {
      p = f.length > 2 ? Long.parseLong(f[2]) : -1;
      t = f.length > 3 ? Integer.parseInt(f[3]) : 0;
    } catch (NumberFormatException e) {
      // not one of ours after all; treated as foreign-owned
    }
    this.pid = p;
    this.tag = t;
  }

  /**
   * @return the tag (rule id)
   */
  public int tag() {
    return tag;
  }

  /**
   * @return the owning host's name
   */
  public String host() {
    return host;
  }

  /**
   * @return the owning process
   */
  public long pid() {
    return pid;
  }

  /**
   * @return the comment naming the owner, {@code divert4j:<host>:<pid>:<tag>}
   */
  public String comment() {
    return comment;
  }

  /**
   * @return its lines in the main chain: A (match), B (to the port chain), C (resume)
   */
  public List<RuleLine> lines() {
    return lines;
  }

  /**
   * @return the port chain line B jumps to, or null
   */
  public String portChain() {
    for (RuleLine l : lines) {
      Matcher m = JUMP.matcher(l.rule);
      if (m.find() && RuleText.portOfChain(m.group(1)) > 0) {
        return m.group(1);
      }
    }
    return null;
  }
}
