package org.divert4j.rawsocket.internal;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.divert4j.Chain;

/** The state of the namespace's divert rules. */
public final class RuleState {
  final RuleTable raw;
  final RuleTable mangle;
  final Map<Chain, List<RuleGroup>> groups = new LinkedHashMap<>();
  final List<RuleLine> defrag = new ArrayList<>();
  final List<String> rawExtra = new ArrayList<>();
  final List<String> mangleExtra = new ArrayList<>();

  /** The first chain-end line found (it tells the mark layout in use), or null. */
  String endLine;

  /** The chain of {@link #endLine}. */
  Chain endChain;

  RuleState(RuleTable raw, RuleTable mangle) {
    this.raw = raw;
    this.mangle = mangle;
    for (Chain c : Chain.values()) {
      groups.put(c, new ArrayList<>());
    }
  }

  /**
   * @param c a chain
   * @return its rules, in evaluation order (mutable)
   */
  public List<RuleGroup> groups(Chain c) {
    return groups.get(c);
  }

  /**
   * @return the NFQUEUE queues of the port chains that are armed (hold their NFQUEUE line) in this
   *     state, in either table
   */
  Set<Integer> armedQueues() {
    Set<Integer> q = new HashSet<>();
    for (RuleTable t : new RuleTable[] {raw, mangle}) {
      for (Map.Entry<String, List<RuleLine>> e : t.chains.entrySet()) {
        int port = RuleText.portOfChain(e.getKey());
        if (port < 0) {
          continue;
        }
        for (RuleLine l : e.getValue()) {
          if (RuleText.PORT.equals(l.comment)) {
            for (int i = 0; i < RuleText.queuesOfChain(e.getKey()); i++) {
              q.add(port + i);
            }
            break;
          }
        }
      }
    }
    return q;
  }

  /**
   * @return the defrag-enabling lines (mutable)
   */
  public List<RuleLine> defrag() {
    return defrag;
  }

  /**
   * @return true if any divert rule is left in the state
   */
  boolean hasRules() {
    for (List<RuleGroup> l : groups.values()) {
      if (!l.isEmpty()) {
        return true;
      }
    }
    return false;
  }

  /**
   * @return every tag in use in the namespace
   */
  public Set<Integer> tags() {
    Set<Integer> s = new HashSet<>();
    for (List<RuleGroup> l : groups.values()) {
      for (RuleGroup g : l) {
        s.add(g.tag);
      }
    }
    return s;
  }

  /**
   * @return every line of ours in a built-in chain (jumps, probes)
   */
  public List<RuleLine> builtinLines() {
    List<RuleLine> l = new ArrayList<>(raw.builtinOurs);
    l.addAll(mangle.builtinOurs);
    return l;
  }

  /**
   * Queues the deletion of a line of ours in a built-in chain.
   *
   * @param l the line
   */
  public void deleteBuiltin(RuleLine l) {
    String cmd = "-D " + l.chain + " " + l.rule;
    (raw.builtinOurs.contains(l) ? rawExtra : mangleExtra).add(cmd);
  }

  /**
   * Queues a raw command for one table (e.g. inserting a probe rule).
   *
   * @param table raw or mangle
   * @param command an iptables-restore command line
   */
  public void extra(String table, String command) {
    ("raw".equals(table) ? rawExtra : mangleExtra).add(command);
  }
}
