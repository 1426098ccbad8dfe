package org.divert4j.rawsocket.internal;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.divert4j.Chain;
import org.divert4j.IpFamily;

/**
 * The state of the namespace's divert rules: the iptables tables, and with {@link #six()} the
 * ip6tables ones, laid out the same way. A rule of both families has a group with the same comment
 * (and tag) in each; a rule of one family only in that family's tables.
 */
public final class RuleState {
  final RuleTable raw;
  final RuleTable mangle;
  final Map<Chain, List<RuleGroup>> groups = new LinkedHashMap<>();
  final List<RuleLine> defrag = new ArrayList<>();
  final List<String> rawExtra = new ArrayList<>();
  final List<String> mangleExtra = new ArrayList<>();
  RuleState six;

  /**
   * True for a state read for {@link RuleCounts} only ({@link NftCounters}): its lines hold their
   * counters, comments and jumps but not the rest of their text, so it must never be stored.
   */
  final boolean countsOnly;

  /** The first chain-end line found (it tells the mark layout in use), or null. */
  String endLine;

  /** The chain of {@link #endLine}. */
  Chain endChain;

  RuleState(RuleTable raw, RuleTable mangle) {
    this(raw, mangle, false);
  }

  private RuleState(RuleTable raw, RuleTable mangle, boolean countsOnly) {
    this.raw = raw;
    this.mangle = mangle;
    this.countsOnly = countsOnly;
    for (Chain c : Chain.values()) {
      groups.put(c, new ArrayList<>());
    }
  }

  /**
   * The state of one family from its two tables: the divert rules of each main chain grouped by
   * their owner comments, the defragmentation lines, the first chain-end line.
   *
   * @param raw the raw table
   * @param mangle the mangle table
   * @param countsOnly true if the lines hold only what {@link RuleCounts} reads ({@link
   *     #countsOnly})
   * @return the state
   */
  static RuleState assemble(RuleTable raw, RuleTable mangle, boolean countsOnly) {
    RuleState s = new RuleState(raw, mangle, countsOnly);
    for (Chain c : Chain.values()) {
      List<RuleLine> lines = new ArrayList<>();
      if (c == Chain.INPUT) {
        // raw, or mangle while an input rule counts per connection (RuleText#table); both only
        // if a move between them failed half-way, which the next store repairs
        lines.addAll(raw.chains.getOrDefault(RuleText.mainChain(c), List.of()));
      }
      lines.addAll(mangle.chains.getOrDefault(RuleText.mainChain(c), List.of()));
      RuleGroup g = null;
      for (RuleLine l : lines) {
        if (l.comment == null || l.comment.equals(RuleText.BASE)) {
          if (l.rule.contains(" -j MARK ") && s.endLine == null) {
            s.endLine = l.rule;
            s.endChain = c;
          }
          g = null;
          continue;
        }
        if (g == null || !g.comment.equals(l.comment)) {
          g = new RuleGroup(l.comment);
          s.groups.get(c).add(g);
        }
        g.lines.add(l);
      }
    }
    s.defrag.addAll(raw.chains.getOrDefault(RuleText.DEFRAG_CHAIN, List.of()));
    return s;
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
   *     state, in either table, and negated the ports whose chains a sniffer armed (NFLOG line)
   */
  Set<Integer> armedQueues() {
    Set<Integer> q = new HashSet<>();
    for (RuleTable t : new RuleTable[] {raw, mangle}) {
      for (Map.Entry<String, List<RuleLine>> e : t.chains.entrySet()) {
        int port = RuleText.portOfChain(e.getKey());
        if (port < 0) {
          continue;
        }
        for (int i = 0; i < e.getValue().size(); i++) {
          if (!RuleText.isListenerLine(e.getValue(), i)) {
            continue;
          }
          if (e.getValue().get(i).rule.contains(" NFLOG ")) {
            q.add(-port); // a sniffer's chain (see NamespaceCounters#bound)
            break;
          }
          for (int k = 0; k < RuleText.queuesOfChain(e.getKey()); k++) {
            q.add(port + k);
          }
          break;
        }
      }
    }
    if (six != null) {
      q.addAll(six.armedQueues()); // an IPv6-only rule arms its port in ip6tables only
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
   * @return the IPv6 (ip6tables) state, or null when this is the IPv6 state or ip6tables is missing
   */
  public RuleState six() {
    return six;
  }

  /**
   * @return this state and its IPv6 state, if any
   */
  public List<RuleState> families() {
    return six == null ? List.of(this) : List.of(this, six);
  }

  /**
   * @param f a family
   * @return its state, or null when its tables cannot be used (no ip6tables)
   */
  public RuleState of(IpFamily f) {
    return f == IpFamily.IPV4 ? this : six;
  }

  /**
   * @return every tag in use in the namespace (both families)
   */
  public Set<Integer> tags() {
    Set<Integer> s = new HashSet<>();
    for (RuleState st : families()) {
      for (List<RuleGroup> l : st.groups.values()) {
        for (RuleGroup g : l) {
          s.add(g.tag);
        }
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
