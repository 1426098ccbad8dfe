package org.divert4j.rawsocket.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.Chain;

/**
 * Who owns the rules and lines in a namespace, and whether that owner still runs: every rule and
 * line divert4j installs carries a comment {@code divert4j:<host>:<pid>:<what>}, and a host name
 * {@code j<ticks>-<n>} carries its process's start time, so a reused pid is not taken for the
 * owner. Crash cleanup (S51) removes what dead owners left; the same cleanup runs when a host opens
 * or closes and for {@code divert rules cleanup}. Stateless; thread-safe.
 */
final class RuleOwners {
  /** This process. */
  static final long PID = ProcessHandle.current().pid();

  /** This process's start time in clock ticks since boot (field 22 of /proc/PID/stat). */
  static final long START = startTicks(PID);

  private RuleOwners() {}

  private static long startTicks(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return Long.parseLong(f[19]); // field 22 counted from 1, 20 after "pid (comm) "
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  /**
   * Whether the owner of a rule still runs: its pid exists and, when the host name carries the
   * process start time ({@code j<ticks>-<n>}), the process with that pid started then (pid reuse).
   */
  static boolean alive(String host, long pid) {
    if (RuleText.isStatic(host)) {
      return true; // static rules belong to no process: never a dead owner's
    }
    if (pid <= 0) {
      return true; // not ours to judge
    }
    if (ProcessHandle.of(pid).isEmpty()) {
      return false;
    }
    if (host.startsWith("j") && host.indexOf('-') > 1) {
      try {
        long ticks = Long.parseLong(host.substring(1, host.indexOf('-')));
        return ticks == 0 || ticks == startTicks(pid);
      } catch (NumberFormatException e) {
        return true;
      }
    }
    return true;
  }

  /**
   * @param comment a line's comment
   * @return its fields {@code divert4j, host, pid, what}, or null if it is not one of ours
   */
  static String[] owner(String comment) {
    String[] f = comment == null ? new String[0] : comment.split(":");
    return f.length >= 4 ? f : null;
  }

  /**
   * @param comment a line's comment
   * @param host a host name
   * @return true if the line belongs to that host
   */
  static boolean ownedBy(String comment, String host) {
    String[] o = owner(comment);
    return o != null && o[1].equals(host);
  }

  /**
   * Removes from a state everything whose owner is dead: its rules, its defragmentation enablers,
   * its lines in built-in chains (an interrupted fragment probe). Static rules are never a dead
   * owner's.
   *
   * @param s the state, changed in place
   * @return a description of each removed item that is not a rule (the caller sees the rules)
   */
  static List<String> removeDead(RuleState s) {
    List<String> removed = new ArrayList<>();
    if (s.six() != null) {
      for (String r : removeDead(s.six())) {
        removed.add("IPv6 " + r);
      }
    }
    for (Chain c : Chain.values()) {
      s.groups(c).removeIf(g -> !alive(g.host(), g.pid()));
    }
    s.defrag()
        .removeIf(
            l -> {
              String[] o = owner(l.comment());
              boolean dead = o != null && !alive(o[1], parsePid(o[2]));
              if (dead) {
                removed.add(
                    "defragmentation enabler of host " + o[1] + " (pid " + o[2] + ", dead)");
              }
              return dead;
            });
    for (RuleLine l : s.builtinLines()) {
      String[] o = owner(l.comment());
      if (o != null && !alive(o[1], parsePid(o[2]))) {
        s.deleteBuiltin(l);
        removed.add(
            l.chain() + " line '" + o[3] + "' of host " + o[1] + " (pid " + o[2] + ", dead)");
      }
    }
    return removed;
  }

  /**
   * Removes from a state everything a host owns, and what dead owners left.
   *
   * @param s the state, changed in place
   * @param host the host's name
   */
  static void removeHost(RuleState s, String host) {
    if (s.six() != null) {
      removeHost(s.six(), host);
    }
    for (Chain c : Chain.values()) {
      s.groups(c).removeIf(g -> g.host().equals(host));
    }
    s.defrag().removeIf(l -> ownedBy(l.comment(), host));
    for (RuleLine l : s.builtinLines()) {
      if (ownedBy(l.comment(), host)) {
        s.deleteBuiltin(l);
      }
    }
    removeDead(s);
  }

  private static long parsePid(String s) {
    try {
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      return -1;
    }
  }
}
