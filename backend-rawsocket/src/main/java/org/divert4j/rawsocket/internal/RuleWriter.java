package org.divert4j.rawsocket.internal;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.divert4j.Chain;
import org.divert4j.linux.Iptables;

/**
 * Writes a family's {@link RuleState} back ({@link RuleSet#store}): divert4j's chains of each table
 * whose content changes are regenerated whole with one iptables-restore {@code --noflush} per table
 * (declaring a chain flushes it), keeping the counters of unchanged lines; the port chains of bound
 * ports are armed, unused port chains and empty main chains (with their jumps) removed; the input
 * chain is put in the table {@link RuleText#table(Chain, boolean)} says. Stateless; the caller
 * holds the rule lock.
 */
final class RuleWriter {
  private RuleWriter() {}

  /**
   * Writes one family's state back.
   *
   * @param ipt that family's iptables
   * @param nsPath the namespace, or null for the caller's
   * @param marks the mark layout the lines are written with
   * @param s the family's state, as changed by the caller
   * @param bound the queue numbers bound now, and the NFLOG groups of sniffers negated
   * @throws IOException if iptables-restore fails
   */
  static void store(Iptables ipt, String nsPath, Marks marks, RuleState s, Set<Integer> bound)
      throws IOException {
    Map<String, List<String>> rawChains = new LinkedHashMap<>();
    Map<String, List<String>> mangleChains = new LinkedHashMap<>();
    for (Chain c : Chain.values()) {
      List<RuleGroup> groups = s.groups.get(c);
      if (groups.isEmpty()) {
        continue;
      }
      Map<String, List<String>> target =
          RuleText.table(c, countsInput(s)).equals("raw") ? rawChains : mangleChains;
      List<String> lines = new ArrayList<>();
      for (RuleGroup g : groups) {
        for (RuleLine l : g.lines) {
          lines.add(l.rule);
        }
      }
      lines.add(RuleText.endLine(marks, c));
      target.put(RuleText.mainChain(c), lines);
      for (RuleGroup g : groups) {
        String pc = g.portChain();
        if (pc != null && !target.containsKey(pc)) {
          int port = RuleText.portOfChain(pc);
          target.put(
              pc, RuleText.portChainLines(marks, pc, bound.contains(port), bound.contains(-port)));
        }
      }
    }
    if (!s.defrag.isEmpty()) {
      List<String> lines = new ArrayList<>();
      for (RuleLine l : s.defrag) {
        lines.add(l.rule);
      }
      rawChains.put(RuleText.DEFRAG_CHAIN, lines);
    }
    // the input chain moves between the tables when its first connbytes rule comes or its last
    // goes: the table it leaves is written first, so no packet is diverted by it twice (between
    // the two iptables-restore runs, input rules are briefly in neither table)
    if (countsInput(s)) {
      apply(ipt, nsPath, s.raw, rawChains, s.rawExtra, List.of(Chain.INPUT));
      apply(ipt, nsPath, s.mangle, mangleChains, s.mangleExtra, List.of(Chain.values()));
    } else {
      apply(ipt, nsPath, s.mangle, mangleChains, s.mangleExtra, List.of(Chain.values()));
      apply(ipt, nsPath, s.raw, rawChains, s.rawExtra, List.of(Chain.INPUT));
    }
  }

  /**
   * Whether a family's input chain holds a rule that counts packets per connection (S68), which
   * puts the whole input chain in the mangle table ({@link RuleText#table(Chain, boolean)}).
   *
   * @param s one family's state
   * @return true if an input rule's line uses {@code -m connbytes}
   */
  static boolean countsInput(RuleState s) {
    for (RuleGroup g : s.groups.get(Chain.INPUT)) {
      for (RuleLine l : g.lines) {
        if (l.rule.contains("-m connbytes")) {
          return true;
        }
      }
    }
    return false;
  }

  private static void apply(
      Iptables ipt,
      String nsPath,
      RuleTable t,
      Map<String, List<String>> desired,
      List<String> extra,
      List<Chain> mains)
      throws IOException {
    StringBuilder body = new StringBuilder();
    boolean changed = !extra.isEmpty();
    // chains whose content changes are declared (which flushes them) and refilled
    for (Map.Entry<String, List<String>> e : desired.entrySet()) {
      List<RuleLine> old = t.chains.get(e.getKey());
      if (old == null || !sameRules(old, e.getValue())) {
        changed = true;
      }
    }
    for (String name : t.chains.keySet()) {
      if (!desired.containsKey(name)) {
        changed = true;
      }
    }
    for (Chain c : mains) {
      boolean want = desired.containsKey(RuleText.mainChain(c));
      if (want ? !hasCurrentJump(t, c) : hasJump(t, c)) {
        changed = true; // missing, left over, or an older version's jump to replace
      }
    }
    if (!changed) {
      return;
    }
    body.append('*').append(t.name).append('\n');
    Set<String> declared = new HashSet<>();
    for (String name : desired.keySet()) {
      body.append(':').append(name).append(" - [0:0]\n");
      declared.add(name);
    }
    for (String name : t.chains.keySet()) {
      if (declared.add(name)) {
        body.append(':').append(name).append(" - [0:0]\n");
      }
    }
    for (Chain c : mains) {
      boolean want = desired.containsKey(RuleText.mainChain(c));
      if (want && !hasCurrentJump(t, c)) {
        body.append("-I ").append(RuleText.builtin(c)).append(" 1 ").append(RuleText.jump(c));
        body.append('\n');
      }
      // without the chain, every jump to it goes; with it, the jumps of older versions (base
      // comment) give way to the one above, which is first in the built-in chain either way
      for (RuleLine l : t.builtinOurs) {
        if (isJump(l, c) && (!want || !isCurrentJump(l))) {
          body.append("-D ").append(l.chain).append(' ').append(l.rule).append('\n');
        }
      }
    }
    for (String x : extra) {
      body.append(x).append('\n');
    }
    for (Map.Entry<String, List<String>> e : desired.entrySet()) {
      for (String rule : e.getValue()) {
        String counters = t.counters.getOrDefault(e.getKey() + " " + rule, "[0:0]");
        body.append(counters).append(" -A ").append(e.getKey()).append(' ').append(rule);
        body.append('\n');
      }
    }
    for (String name : t.chains.keySet()) {
      if (!desired.containsKey(name)) {
        body.append("-X ").append(name).append('\n');
      }
    }
    body.append("COMMIT\n");
    ipt.restore(nsPath, body.toString());
  }

  private static boolean sameRules(List<RuleLine> old, List<String> rules) {
    if (old.size() != rules.size()) {
      return false;
    }
    for (int i = 0; i < rules.size(); i++) {
      if (!normalize(old.get(i).rule).equals(normalize(rules.get(i)))) {
        return false;
      }
    }
    return true;
  }

  private static String normalize(String rule) {
    return rule.replace("\"", "").replaceAll("\\s+", " ").trim();
  }

  /** A jump to c's main chain, of this version or an older one (lines of {@code builtinOurs}). */
  private static boolean isJump(RuleLine l, Chain c) {
    return l.chain.equals(RuleText.builtin(c))
        && (l.comment == null || RuleText.BASE.equals(l.comment))
        && l.rule.trim().endsWith("-j " + RuleText.mainChain(c));
  }

  /** The jump as this version writes it, without comment ({@link RuleText#jump}). */
  private static boolean isCurrentJump(RuleLine l) {
    return l.comment == null && OwnBuiltinLines.isBareJump(l.rule);
  }

  private static boolean hasJump(RuleTable t, Chain c) {
    for (RuleLine l : t.builtinOurs) {
      if (isJump(l, c)) {
        return true;
      }
    }
    return false;
  }

  private static boolean hasCurrentJump(RuleTable t, Chain c) {
    for (RuleLine l : t.builtinOurs) {
      if (isJump(l, c) && isCurrentJump(l)) {
        return true;
      }
    }
    return false;
  }
}
