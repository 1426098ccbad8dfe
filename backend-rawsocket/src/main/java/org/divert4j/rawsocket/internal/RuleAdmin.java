package org.divert4j.rawsocket.internal;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.divert4j.BackendUnavailableException;
import org.divert4j.Chain;
import org.divert4j.DivertException;
import org.divert4j.DivertRule;
import org.divert4j.IpFamily;
import org.divert4j.NoListenerPolicy;
import org.divert4j.PermissionException;
import org.divert4j.linux.Errors;
import org.divert4j.linux.Iptables;
import org.divert4j.linux.Native;
import org.divert4j.linux.NetnsThread;
import org.divert4j.rawsocket.KernelRules;
import org.divert4j.rawsocket.KernelRules.Entry;
import org.divert4j.rawsocket.KernelRules.OwnerState;

/**
 * The work behind {@link KernelRules}: the namespace's {@link RuleSet} (the same reader, writer and
 * lock the hosts use) plus a thread in the namespace to read which queues are bound. One instance
 * per call; not thread-safe (the rule lock serialises callers across threads and processes).
 */
public final class RuleAdmin implements AutoCloseable {
  private final String label;
  private final NetnsThread ns;
  private final RuleSet rules;

  private RuleAdmin(String label, NetnsThread ns, RuleSet rules) {
    this.label = label;
    this.ns = ns;
    this.rules = rules;
  }

  /**
   * Checks that rules can be managed here and enters the namespace.
   *
   * @param netns a namespace name, a path, or null for the caller's
   * @return the admin; the caller closes it
   * @throws DivertException if not: not Linux, no JNR-FFI, missing capabilities, no such namespace,
   *     no iptables or nsenter
   */
  public static RuleAdmin open(String netns) throws DivertException {
    if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
      throw new BackendUnavailableException("the rawsocket backend's rules need Linux", null);
    }
    Throwable load = Native.loadError();
    if (load != null) {
      throw new BackendUnavailableException(
          "JNR-FFI cannot bind the C library (is jnr-ffi with its native jffi on the class path?): "
              + load,
          load);
    }
    List<String> missing = Errors.missingCapabilities();
    if (!missing.isEmpty()) {
      throw new PermissionException(
          "manage the rawsocket backend's divert rules (iptables)",
          missing,
          DivertException.NO_ERRNO,
          null);
    }
    String nsPath = HostConfig.resolveNetns(netns);
    Iptables ipt = HostResources.requireTools(null);
    String label = nsPath == null ? "the current network namespace" : "network namespace " + netns;
    NetnsThread ns = NetnsThread.start(nsPath, nsPath == null ? "current" : netns);
    return new RuleAdmin(label, ns, new RuleSet(ipt, ns.nsPath(), ns.inode(), null));
  }

  /** A refusal decided under the lock, carried out of it. */
  private static final class Refused extends IOException {
    private static final long serialVersionUID = 1L;
    final DivertException error;

    Refused(DivertException error) {
      super(error.getMessage());
      this.error = error;
    }
  }

  private <T> T locked(String what, RuleSet.Work<T> work) throws DivertException {
    try {
      return rules.locked(work);
    } catch (Refused r) {
      throw r.error;
    } catch (IOException e) {
      throw new DivertException(
          "cannot " + what + " in " + label + ": " + brief(e.getMessage()), 0, e);
    }
  }

  private Set<Integer> bound() throws IOException {
    return NamespaceCounters.bound(ns);
  }

  /**
   * @return the namespace's divert4j rules in evaluation order
   * @throws DivertException if they cannot be read
   */
  public List<Entry> list() throws DivertException {
    return locked("read the divert rules", () -> entries(rules.load(), bound()));
  }

  /**
   * @return other software's NFQUEUE rules, "table chain rule" each
   * @throws DivertException if they cannot be read
   */
  public List<String> foreignQueueRules() throws DivertException {
    return locked(
        "read the NFQUEUE rules",
        () -> {
          List<String> out = new ArrayList<>();
          for (String[] r : rules.foreignQueueRules()) {
            out.add(r[0] + " " + r[1] + " " + r[2]);
          }
          return out;
        });
  }

  /**
   * Adds a static rule at the end of its chain.
   *
   * @param rule the rule
   * @param policy its no-listener policy
   * @return it, as installed
   * @throws DivertException if iptables refuses it or the namespace has no free id
   */
  public Entry add(DivertRule rule, NoListenerPolicy policy) throws DivertException {
    return locked(
        "add rule '" + rule + "'",
        () -> {
          RuleState s = rules.load();
          Marks marks = rules.marks();
          int tag = RuleSet.allocateTag(s.tags(), marks.maxTag());
          String comment = RuleText.staticComment(tag);
          String pc = RuleText.portChain(policy, rule.port(), 1);
          RuleSet.addRule(s, marks, rule, tag, comment, pc, null, 0);
          if (rule.filter() != null && rule.filter().usesFlow()) {
            acct(
                () -> {
                  ConntrackAcct.note(s, ns);
                  return null;
                });
          }
          Set<Integer> b = bound();
          rules.store(s, b);
          for (Entry e : entries(s, b)) {
            if (e.id() == tag) {
              return e;
            }
          }
          throw new IOException("rule " + tag + " was not stored");
        });
  }

  /**
   * Removes a rule by id.
   *
   * @param id its id
   * @param force also if its owner runs
   * @return the removed rule
   * @throws DivertException if there is none, it is a running host's and force is off, or iptables
   *     fails
   */
  public Entry remove(int id, boolean force) throws DivertException {
    return locked(
        "remove rule " + id,
        () -> {
          RuleState s = rules.load();
          Set<Integer> b = bound();
          for (Entry e : entries(s, b)) {
            Chain c = e.chain();
            {
              if (e.id() != id) {
                continue;
              }
              if (e.state() == OwnerState.ALIVE && !force) {
                throw new Refused(
                    new DivertException(
                        "rule "
                            + id
                            + " belongs to the running divert host "
                            + e.owner()
                            + " (pid "
                            + e.pid()
                            + "): remove it there or close that host (forcing it leaves the"
                            + " host believing the rule is installed)"));
              }
              RuleSet.removeRule(s, c, id, null);
              rules.store(s, b);
              settleAcct(s, b);
              return e;
            }
          }
          throw new Refused(new DivertException("no divert4j rule with id " + id + " in " + label));
        });
  }

  /**
   * Removes the state of dead owners.
   *
   * @param dryRun only report
   * @return what was (or would be) removed
   * @throws DivertException if iptables fails
   */
  public KernelRules.Cleanup cleanup(boolean dryRun) throws DivertException {
    return locked(
        "clean up the divert rules",
        () -> {
          RuleState s = rules.load();
          Set<Integer> b = bound();
          List<Entry> dead = new ArrayList<>();
          for (Entry e : entries(s, b)) {
            if (e.state() == OwnerState.DEAD) {
              dead.add(e);
            }
          }
          Map<String, Boolean> before = RuleCounts.portChains(s);
          List<String> other = new ArrayList<>(RuleOwners.removeDead(s));
          other.addAll(IngressPath.removeDead(ns.nsPath(), dryRun));
          Set<String> used = RuleCounts.usedPortChains(s);
          for (Map.Entry<String, Boolean> pc : before.entrySet()) {
            int port = RuleText.portOfChain(pc.getKey());
            if (!used.contains(pc.getKey())) {
              other.add("port chain " + pc.getKey() + " (no rule uses it any more)");
            } else if (pc.getValue() && !b.contains(port)) {
              other.add(
                  "NFQUEUE line of port chain "
                      + pc.getKey()
                      + " (no socket is bound to port "
                      + port
                      + " any more: its listener died; the no-listener policy applies again)");
            }
          }
          if (!dryRun) {
            try {
              String restored = ReassemblyLimits.settle(s, ns);
              if (restored != null) {
                other.add(restored + " (no host needs them any more)");
              }
            } catch (DivertException e) {
              throw new Refused(e);
            }
            rules.store(s, b);
            String acct = settleAcct(s, b);
            if (acct != null) {
              other.add(acct);
            }
          }
          return new KernelRules.Cleanup(dead, other);
        });
  }

  private interface AcctStep<T> {
    T run() throws DivertException;
  }

  private static <T> T acct(AcctStep<T> step) throws Refused {
    try {
      return step.run();
    } catch (DivertException e) {
      throw new Refused(e);
    }
  }

  /** After a store (rule lock held): {@link ConntrackAcct#settleStored} (S68). */
  private String settleAcct(RuleState stored, Set<Integer> b) throws IOException {
    try {
      return ConntrackAcct.settleStored(rules, ns, stored, b);
    } catch (DivertException e) {
      throw new Refused(e);
    }
  }

  /**
   * The rules of both families, in evaluation order: a rule of both (the same tag in iptables and
   * ip6tables) once, with no family; a rule found in one family's tables only with that family.
   * With ip6tables missing, every rule is read as IPv4's without a family mark.
   */
  private static List<Entry> entries(RuleState s, Set<Integer> bound) {
    List<Entry> out = new ArrayList<>();
    RuleState six = s.six();
    for (Chain c : Chain.values()) {
      Set<Integer> v4 = new java.util.HashSet<>();
      for (RuleGroup g : s.groups(c)) {
        v4.add(g.tag());
        RuleGroup g6 = six == null ? null : find(six, c, g.tag());
        Entry e = entry(c, g, bound, six == null || g6 != null ? null : IpFamily.IPV4);
        if (g6 != null && !g6.lines().isEmpty()) {
          // a rule of both families has matched the packets of both tables' first lines
          e =
              new Entry(
                  e.id(),
                  e.chain(),
                  e.owner(),
                  e.pid(),
                  e.state(),
                  e.match(),
                  e.rule(),
                  e.port(),
                  e.noListener(),
                  e.queues(),
                  e.packets() + g6.lines().get(0).packets(),
                  e.bound());
        }
        out.add(e);
      }
      if (six != null) {
        for (RuleGroup g : six.groups(c)) {
          if (!v4.contains(g.tag())) {
            out.add(entry(c, g, bound, IpFamily.IPV6));
          }
        }
      }
    }
    return out;
  }

  private static RuleGroup find(RuleState s, Chain c, int tag) {
    for (RuleGroup g : s.groups(c)) {
      if (g.tag() == tag) {
        return g;
      }
    }
    return null;
  }

  static Entry entry(Chain c, RuleGroup g, Set<Integer> bound) {
    return entry(c, g, bound, null);
  }

  static Entry entry(Chain c, RuleGroup g, Set<Integer> bound, IpFamily only) {
    String pc = g.portChain();
    int port = pc == null ? 0 : Math.max(0, RuleText.portOfChain(pc));
    NoListenerPolicy policy = pc == null ? null : RuleText.policyOfChain(pc);
    int queues = pc == null ? 1 : Math.max(1, RuleText.queuesOfChain(pc));
    RuleLine a = g.lines().isEmpty() ? null : g.lines().get(0);
    String match = a == null ? "" : RuleMatch.matchOf(a.rule());
    OwnerState state =
        RuleText.isStatic(g.host())
            ? OwnerState.STATIC
            : RuleOwners.alive(g.host(), g.pid()) ? OwnerState.ALIVE : OwnerState.DEAD;
    return new Entry(
        g.tag(),
        c,
        g.host(),
        Math.max(0, g.pid()),
        state,
        match,
        Optional.ofNullable(RuleMatch.parseMatch(c, match, port, only)),
        port,
        policy == null ? NoListenerPolicy.DROP : policy,
        queues,
        a == null ? 0 : a.packets(),
        port > 0 && bound.contains(port));
  }

  /** Leaves the namespace (stops its thread). */
  @Override
  public void close() {
    ns.close();
  }

  /** An iptables error on one line, without the script iptables-restore was given. */
  static String brief(String message) {
    if (message == null) {
      return "";
    }
    int script = message.indexOf("\nscript:");
    String m = script < 0 ? message : message.substring(0, script);
    return m.replace("\r", "").strip().replace("\n", "; ");
  }
}
