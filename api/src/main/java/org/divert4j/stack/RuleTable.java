package org.divert4j.stack;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.divert4j.Chain;
import org.divert4j.DivertRule;
import org.divert4j.NoListenerPolicy;

/**
 * What the engine's handles installed: each chain's rules in order and the socket bound to each
 * divert port. The packet's path reads it; handles change it. Changes replace a chain's array, so a
 * walk in progress keeps the array it started with. Used inside the engine's section, except {@link
 * #bound()}, which may be read from any thread.
 */
final class RuleTable {
  private static final RuleEntry[] NO_RULES = new RuleEntry[0];

  private final RuleEntry[][] chains = {NO_RULES, NO_RULES, NO_RULES};
  private final EngineSocket[] sockets = new EngineSocket[65536];
  private volatile EngineSocket[] bound = new EngineSocket[0];
  private int nextRuleId = 1;
  private int nextSocketSerial = 1;

  /** The chain's rules in order; the caller must not modify the array. */
  RuleEntry[] rules(Chain chain) {
    return chains[chain.ordinal()];
  }

  /** The socket bound to a divert port, or null. */
  EngineSocket socketAt(int port) {
    return sockets[port];
  }

  /** The bound sockets in binding order; the caller must not modify the array. */
  EngineSocket[] bound() {
    return bound;
  }

  /** The serial number for the next socket bound, 16 bits. */
  int nextSerial() {
    return nextSocketSerial++ & 0xffff;
  }

  /** Binds a socket to its port, which must be free: diversion to it starts now (S13). */
  void bind(EngineSocket s) {
    sockets[s.port] = s;
    EngineSocket[] b = Arrays.copyOf(bound, bound.length + 1);
    b[b.length - 1] = s;
    bound = b;
  }

  /** Unbinds a socket if it is the one bound to its port: no-listener behaviour from now (S13). */
  void unbind(EngineSocket s) {
    if (sockets[s.port] != s) {
      return;
    }
    sockets[s.port] = null;
    EngineSocket[] b = new EngineSocket[Math.max(0, bound.length - 1)];
    int n = 0;
    for (EngineSocket x : bound) {
      if (x != s && n < b.length) {
        b[n++] = x;
      }
    }
    bound = n == b.length ? b : Arrays.copyOf(b, n);
  }

  /**
   * Adds a rule for a handle.
   *
   * @param ownIndex where among the handle's rules in that chain, -1 for after all rules
   * @throws IndexOutOfBoundsException if the handle has fewer rules than {@code ownIndex}
   */
  RuleEntry add(EngineHost owner, int ownIndex, DivertRule rule, NoListenerPolicy noListener) {
    int c = rule.chain().ordinal();
    RuleEntry[] old = chains[c];
    RuleEntry e = new RuleEntry(rule, nextRuleId++, noListener, owner);
    int at = old.length;
    if (ownIndex >= 0) {
      int seen = 0;
      for (int i = 0; i < old.length; i++) {
        if (old[i].owner == owner) {
          if (seen == ownIndex) {
            at = i;
            break;
          }
          seen++;
        }
      }
      if (at == old.length && seen < ownIndex) {
        throw new IndexOutOfBoundsException(
            "index "
                + ownIndex
                + " but this host has "
                + seen
                + " rules in "
                + rule.chain().keyword());
      }
    }
    RuleEntry[] n = new RuleEntry[old.length + 1];
    System.arraycopy(old, 0, n, 0, at);
    n[at] = e;
    System.arraycopy(old, at, n, at + 1, old.length - at);
    chains[c] = n;
    return e;
  }

  /** Removes a rule if it is still installed. */
  void remove(RuleEntry e) {
    if (!e.installed) {
      return;
    }
    e.installed = false;
    int c = e.rule.chain().ordinal();
    RuleEntry[] old = chains[c];
    int at = Arrays.asList(old).indexOf(e);
    if (at >= 0) {
      RuleEntry[] n = new RuleEntry[old.length - 1];
      System.arraycopy(old, 0, n, 0, at);
      System.arraycopy(old, at + 1, n, at, old.length - at - 1);
      chains[c] = n;
    }
  }

  /** A handle's rules, chain by chain in order. */
  List<RuleEntry> rulesOf(EngineHost owner) {
    List<RuleEntry> out = new ArrayList<>();
    for (RuleEntry[] chain : chains) {
      for (RuleEntry e : chain) {
        if (e.owner == owner) {
          out.add(e);
        }
      }
    }
    return out;
  }

  /** The lines of {@link DivertEngine#state()}: rules in chain order, then ports bound. */
  List<String> state() {
    List<String> out = new ArrayList<>();
    Chain[] names = Chain.values();
    for (int c = 0; c < chains.length; c++) {
      for (RuleEntry e : chains[c]) {
        out.add(
            "rule "
                + names[c]
                + " #"
                + e.id
                + " -> "
                + e.port
                + " "
                + e.noListener
                + ": "
                + e.rule);
      }
    }
    for (EngineSocket s : bound) {
      out.add("bound " + s.port());
    }
    return out;
  }

  /** The smallest room of any bound diverting socket, {@link Integer#MAX_VALUE} if none. */
  int room() {
    int min = Integer.MAX_VALUE;
    for (EngineSocket s : bound) {
      if (!s.sniffer) {
        min = Math.min(min, s.room());
      }
    }
    return min;
  }

  /** The packets bound diverting sockets hold now, waiting or received. */
  int pending() {
    int n = 0;
    for (EngineSocket s : bound) {
      if (!s.sniffer) {
        n += s.pending();
      }
    }
    return n;
  }

  /** Lets every bound socket drop held packets past their hold time. */
  void expireHeld(long now) {
    for (EngineSocket s : sockets) {
      if (s != null) {
        s.expireHeld(now, true);
      }
    }
  }
}
