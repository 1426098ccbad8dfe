package org.divert4j.rawsocket.internal;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What a loaded {@link RuleState} says about the port chains and the packets its lines counted:
 * which port chains exist and are armed, which the rules use, and the iptables counters of the
 * no-listener and queue lines (both families add up). Stateless.
 */
final class RuleCounts {
  private RuleCounts() {}

  /**
   * The port chains that exist now (as loaded), with whether each is armed (holds the NFQUEUE line
   * a bound socket needs).
   *
   * @param s the state as loaded
   * @return chain name to armed, in table order
   */
  static Map<String, Boolean> portChains(RuleState s) {
    Map<String, Boolean> m = new LinkedHashMap<>();
    for (RuleTable t : tables(s)) {
      for (Map.Entry<String, List<RuleLine>> e : t.chains.entrySet()) {
        if (RuleText.portOfChain(e.getKey()) > 0) {
          boolean armed = false;
          for (int i = 0; i < e.getValue().size(); i++) {
            armed |= RuleText.isListenerLine(e.getValue(), i);
          }
          m.put(e.getKey(), armed);
        }
      }
    }
    return m;
  }

  /**
   * The port chains the rules of a state use (what {@link #store} keeps).
   *
   * @param s a state
   * @return their names
   */
  static Set<String> usedPortChains(RuleState s) {
    Set<String> used = new HashSet<>();
    for (List<RuleGroup> l : groups(s)) {
      for (RuleGroup g : l) {
        String pc = g.portChain();
        if (pc != null) {
          used.add(pc);
        }
      }
    }
    return used;
  }

  /**
   * Sums the packet counters of the no-listener lines of port chains for some ports.
   *
   * @param s the state
   * @param ports the ports
   * @param drop true for DROP port chains (drops), false for PASS_THROUGH ones (passes)
   * @return the packet count
   */
  static long noListenerPackets(RuleState s, Set<Integer> ports, boolean drop) {
    long n = 0;
    for (RuleTable t : tables(s)) {
      for (Map.Entry<String, List<RuleLine>> e : t.chains.entrySet()) {
        String name = e.getKey();
        int port = RuleText.portOfChain(name);
        if (port < 0 || !ports.contains(port)) {
          continue;
        }
        boolean isDrop = name.charAt(RuleText.CHAIN_PREFIX.length()) == 'D';
        if (isDrop != drop) {
          continue;
        }
        for (int i = 0; i < e.getValue().size(); i++) {
          if (RuleText.isNoListenerLine(e.getValue(), i)) {
            n += e.getValue().get(i).packets();
          }
        }
      }
    }
    return n;
  }

  /**
   * Sums the packet counters of the B lines (the packets the rules sent towards a port).
   *
   * @param s the state
   * @param port the port
   * @return the packet count
   */
  static long queuedPackets(RuleState s, int port) {
    long n = 0;
    for (List<RuleGroup> l : groups(s)) {
      for (RuleGroup g : l) {
        String pc = g.portChain();
        if (pc != null && RuleText.portOfChain(pc) == port) {
          for (RuleLine line : g.lines) {
            if (line.rule.contains("-j " + pc)) {
              n += line.packets();
            }
          }
        }
      }
    }
    return n;
  }

  /**
   * The B lines that send packets towards a port, one by one: what {@link #queuedPackets} sums,
   * keyed so that a line keeps its key across rewrites exactly while the rule writer keeps its
   * counter (by family, chain and text), for {@link QueueLineCounter}.
   *
   * @param s the state
   * @param port the port
   * @return each line's key and packet count
   */
  static Map<String, Long> queueLines(RuleState s, int port) {
    Map<String, Long> m = new LinkedHashMap<>();
    List<RuleState> families = s.families();
    for (int f = 0; f < families.size(); f++) {
      for (Map.Entry<?, List<RuleGroup>> e : families.get(f).groups.entrySet()) {
        for (RuleGroup g : e.getValue()) {
          String pc = g.portChain();
          if (pc != null && RuleText.portOfChain(pc) == port) {
            for (RuleLine line : g.lines) {
              if (line.rule.contains("-j " + pc)) {
                m.merge(f + " " + line.chain + " " + line.rule, line.packets(), Long::sum);
              }
            }
          }
        }
      }
    }
    return m;
  }

  /** The tables of both families (counters of IPv4 and IPv6 lines add up). */
  private static List<RuleTable> tables(RuleState s) {
    List<RuleTable> l = new ArrayList<>();
    for (RuleState f : s.families()) {
      l.add(f.raw);
      l.add(f.mangle);
    }
    return l;
  }

  /** The rule groups of both families, chain by chain. */
  private static List<List<RuleGroup>> groups(RuleState s) {
    List<List<RuleGroup>> l = new ArrayList<>();
    for (RuleState f : s.families()) {
      l.addAll(f.groups.values());
    }
    return l;
  }
}
