package org.divert4j.rawsocket.internal;

import java.io.IOException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.divert4j.Chain;
import org.divert4j.DivertException;
import org.divert4j.DivertRule;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.InstalledRule;
import org.divert4j.NoListenerPolicy;
import org.divert4j.linux.NetnsThread;

/**
 * One host's rules in its namespace's firewall: the divert rules it installed (in order, per
 * chain), the lines that arm a port while a socket is bound to it, the defragmentation enabler of
 * an ALWAYS_DEFRAGMENT host, and the counters of those lines. Every change is a load-change-store
 * of the namespace's {@link RuleSet} under its lock, so concurrent hosts and processes never lose
 * each other's changes. Thread-safe.
 */
final class RuleBook {
  private final String host;
  private final HostOptions options;
  private final RuleSet rules;
  private final NamespaceCounters proc;
  private final NetnsThread ns;
  private final NftCounters nft; // null with iptables-legacy
  private final Map<Chain, List<KernelRule>> own = new EnumMap<>(Chain.class);
  private volatile boolean open = true;

  RuleBook(
      String host, HostOptions options, RuleSet rules, NamespaceCounters proc, NetnsThread ns) {
    this.host = host;
    this.ns = ns;
    this.options = options;
    this.rules = rules;
    this.proc = proc;
    this.nft = rules.nft() && ns != null ? new NftCounters(ns, rules.ipv6()) : null;
    for (Chain c : Chain.values()) {
      own.put(c, new ArrayList<>());
    }
  }

  /**
   * Removes what dead owners left and, for ALWAYS_DEFRAGMENT, enables defragmentation.
   *
   * @throws DivertException if the firewall cannot be changed
   */
  void init() throws DivertException {
    try {
      rules.locked(
          () -> {
            RuleState s = rules.load();
            RuleOwners.removeDead(s);
            rules.checkLayout(s);
            settle(s);
            if (options.fragments() == FragmentMode.ALWAYS_DEFRAGMENT) {
              // xt_socket enables nf_defrag_ipv4 from iptables and nf_defrag_ipv6 from ip6tables
              for (RuleState f : s.families()) {
                f.defrag()
                    .add(RuleSet.defragLine(RuleText.comment(host, RuleOwners.PID, "defrag")));
              }
              try {
                ReassemblyLimits.apply(s, ns, host, ReassemblyLimits.wanted(options));
              } catch (DivertException e) {
                throw new IOException(e.getMessage(), e);
              }
            }
            rules.store(s, proc.bound(s));
            return null;
          });
    } catch (IOException e) {
      if (e.getCause() instanceof DivertException d) {
        throw d;
      }
      throw new DivertException("cannot set up the firewall rules: " + e.getMessage(), 0, e);
    }
  }

  /** Restores the reassembly limits if no host needs them any more (rule lock held). */
  private void settle(RuleState s) throws IOException {
    try {
      ReassemblyLimits.settle(s, ns);
    } catch (DivertException e) {
      throw new IOException(e.getMessage(), e);
    }
  }

  /**
   * @param chain a chain
   * @return how many rules this host has in it
   */
  int count(Chain chain) {
    synchronized (own) {
      return own.get(chain).size();
    }
  }

  /**
   * Installs a rule.
   *
   * @param rule the rule
   * @param index its position among this host's rules of its chain, or -1 for the end
   * @return the installed rule
   * @throws DivertException if the firewall cannot be changed
   */
  InstalledRule install(DivertRule rule, int index) throws DivertException {
    Objects.requireNonNull(rule, "rule");
    Chain chain = rule.chain();
    try {
      synchronized (own) {
        List<KernelRule> mine = own.get(chain);
        int anchor = index >= 0 && index < mine.size() ? mine.get(index).id() : 0;
        int tag =
            rules.locked(
                () -> {
                  RuleState s = rules.load();
                  rules.checkLayout(s);
                  Marks marks = rules.marks();
                  int t = RuleSet.allocateTag(s.tags(), marks.maxTag());
                  String comment = RuleText.comment(host, RuleOwners.PID, Integer.toString(t));
                  String pc =
                      RuleText.portChain(options.noListener(), rule.port(), options.parallelism());
                  RuleSet.addRule(
                      s, marks, rule, t, comment, pc, anchor != 0 ? host : null, anchor);
                  rules.store(s, proc.bound(s));
                  return t;
                });
        KernelRule kr = new KernelRule(this, tag, rule);
        if (index >= 0 && index < mine.size()) {
          mine.add(index, kr);
        } else {
          mine.add(kr);
        }
        return kr;
      }
    } catch (IOException e) {
      throw new DivertException("cannot install rule '" + rule + "': " + e.getMessage(), 0, e);
    }
  }

  /**
   * Removes one of this host's rules (nothing in the firewall once the host has closed).
   *
   * @throws DivertException if the firewall cannot be changed
   */
  void remove(KernelRule r) throws DivertException {
    if (!open) {
      r.markRemoved();
      return;
    }
    try {
      synchronized (own) {
        rules.locked(
            () -> {
              RuleState s = rules.load();
              RuleSet.removeRule(s, r.rule().chain(), r.id(), host);
              rules.store(s, proc.bound(s));
              return null;
            });
        own.get(r.rule().chain()).remove(r);
        r.markRemoved();
      }
    } catch (IOException e) {
      throw new DivertException("cannot remove rule " + r.id() + ": " + e.getMessage(), 0, e);
    }
  }

  /**
   * @return this host's rules, chain by chain in order
   */
  List<InstalledRule> list() {
    List<InstalledRule> all = new ArrayList<>();
    synchronized (own) {
      for (Chain c : Chain.values()) {
        all.addAll(own.get(c));
      }
    }
    return all;
  }

  /**
   * @return {packets the DROP no-listener lines of this host's ports dropped, packets the
   *     PASS_THROUGH ones passed}, read together; zeros if unknown
   */
  long[] noListenerCounters() {
    Set<Integer> ports = new HashSet<>();
    synchronized (own) {
      for (List<KernelRule> l : own.values()) {
        for (KernelRule r : l) {
          ports.add(r.rule().port());
        }
      }
    }
    boolean drop = options.noListener() == NoListenerPolicy.DROP;
    try {
      RuleState s = counted();
      return new long[] {
        RuleCounts.noListenerPackets(s, drop ? ports : Set.of(), true),
        RuleCounts.noListenerPackets(s, drop ? Set.of() : ports, false)
      };
    } catch (IOException e) {
      return new long[2];
    }
  }

  /** See {@link PortArming#noListenerDrops}. */
  long noListenerDrops(int port) {
    try {
      return RuleCounts.noListenerPackets(counted(), Set.of(port), true);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /** See {@link PortArming#queueLines}. */
  java.util.Map<String, Long> queueLines(int port) {
    try {
      return RuleCounts.queueLines(counted(), port);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** See {@link PortArming#queuedPackets}. */
  long queuedPackets(int port) {
    try {
      return RuleCounts.queuedPackets(counted(), port);
    } catch (IOException e) {
      return -1;
    }
  }

  /**
   * The namespace's rules as they are now, for {@link RuleCounts}: from nf_tables over netlink
   * where the rules live there ({@link NftCounters}), else, or if that read is not whole, with
   * iptables-save. Never stored.
   */
  private RuleState counted() throws IOException {
    RuleState s = nft == null ? null : nft.read();
    return s != null ? s : rules.load();
  }

  private static boolean uses(RuleState s, int port) {
    for (String pc : RuleCounts.usedPortChains(s)) {
      if (RuleText.portOfChain(pc) == port) {
        return true;
      }
    }
    return false;
  }

  /**
   * Regenerates the chains of a port from the queues bound now: arms it after a bind, disarms it
   * after a close.
   *
   * @throws IOException if the firewall cannot be changed
   */
  void sync(int port) throws IOException {
    rules.locked(
        () -> {
          RuleState s = rules.load();
          if (uses(s, port)) {
            rules.store(s, proc.bound(s));
          }
          return null;
        });
  }

  /** See {@link PortArming#disarm}. */
  long disarm(int port, int queues) {
    if (!open) {
      return -1;
    }
    long[] before = {-1};
    try {
      rules.locked(
          () -> {
            RuleState st = rules.load();
            before[0] = RuleCounts.noListenerPackets(st, Set.of(port), true);
            if (uses(st, port)) {
              Set<Integer> b = proc.bound(st);
              for (int i = 0; i < queues; i++) {
                b.remove(port + i);
              }
              rules.store(st, b);
            } else {
              before[0] = -1;
            }
            return null;
          });
    } catch (IOException | RuntimeException e) {
      return -1; // the close goes on: packets in the window drop as before
    }
    return before[0];
  }

  /**
   * Marks the host closing: from now on no port is disarmed or re-armed and removing a rule only
   * marks it removed ({@link #uninstall} removes everything at once).
   */
  void close() {
    open = false;
  }

  /**
   * @return true until {@link #close}
   */
  boolean isOpen() {
    return open;
  }

  /**
   * Removes everything this host installed, and what dead owners left; the host's rules are marked
   * removed even if the firewall cannot be changed.
   *
   * @throws IOException if the firewall cannot be changed (the next host to open removes them)
   */
  void uninstall() throws IOException {
    try {
      rules.locked(
          () -> {
            RuleState s = rules.load();
            RuleOwners.removeHost(s, host);
            settle(s);
            Set<Integer> bound = proc.bound(s);
            rules.store(s, bound);
            try {
              ConntrackAcct.settleStored(rules, ns, s, bound);
            } catch (DivertException e) {
              // left on: docs/backends.md says when; divert rules cleanup tries again
            }
            return null;
          });
    } catch (RuntimeException e) {
      throw new IOException(e);
    } finally {
      synchronized (own) {
        for (List<KernelRule> l : own.values()) {
          for (KernelRule r : l) {
            r.markRemoved();
          }
          l.clear();
        }
      }
    }
  }
}
