package org.divert4j.rawsocket;

import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.divert4j.BackendUnavailableException;
import org.divert4j.Chain;
import org.divert4j.DivertException;
import org.divert4j.DivertRule;
import org.divert4j.NoListenerPolicy;
import org.divert4j.PermissionException;

/**
 * The divert rules of a Linux network namespace as the kernel backend lays them out (iptables rules
 * in divert4j's own chains, each tagged {@code divert4j:<host>:<pid>:<id>} with its owner; see
 * {@code docs/backends.md}): listed, added as <em>static</em> rules that outlive the program that
 * adds them, removed, and cleaned of the rules of dead owners. This is what {@code divert rules}
 * runs.
 *
 * <p><b>Static rules</b> (SEMANTICS.md S3, {@code SHARED_RULES}). {@link #add} installs a rule
 * owned by no host and no process (comment {@code divert4j:static:0:<id>}): it stays until {@link
 * #remove} (or until the namespace is deleted), and no dead-owner cleanup ever removes it, neither
 * {@link #cleanup} nor the one every host runs when it opens or closes. Any host, in any process,
 * that binds the rule's port in the namespace receives its packets; while none does, the rule's
 * {@link NoListenerPolicy} applies (S11, S12), chosen per rule here rather than by a host's
 * options. Written-back packets continue after the static rule exactly as after a host's own rule
 * (S43, S44: the same mark layout and {@code NF_REPEAT} continuation). Differences from a host's
 * rules: a static rule is appended at the end of its chain (after the rules already there), always
 * uses one NFQUEUE queue (a host opened with {@code parallelism(n)} still receives it, on the first
 * queue of its port), and a host's {@link org.divert4j.HostStats} counts the no-listener packets of
 * static rules that share a port and policy with one of its own rules.
 *
 * <p><b>Namespace.</b> Every method takes {@code netns}: a name under {@code /var/run/netns} (as
 * {@code ip netns} makes them), a path such as {@code /proc/PID/ns/net}, or null for the namespace
 * of the calling thread (for most programs, the machine's own). The same values as the host
 * property {@code rawsocket.netns}.
 *
 * <p><b>What it touches.</b> Only divert4j's chains ({@code DIVERT4J-*} in the {@code raw} and
 * {@code mangle} tables) and its jumps from the built-in chains, in the one namespace named; never
 * other software's rules. Changes are made with {@code iptables-restore} (the nft flavour if
 * installed, else legacy; hosts pick the same by default) run through {@code nsenter}, under the
 * lock file {@code /run/divert4j/rules.lock} that every divert4j process takes for its rule
 * changes, so concurrent hosts and commands never lose each other's changes. Reading the bound
 * queues enters the namespace on a short-lived thread.
 *
 * <p><b>Blocking, threads, errors.</b> Every method blocks while iptables runs (tens of
 * milliseconds) and may wait for the lock while another process changes rules. Thread-safe: calls
 * from several threads and processes are serialised by the lock. Needs CAP_NET_ADMIN and
 * CAP_NET_RAW (iptables) and, for another namespace, CAP_SYS_ADMIN (setns): in practice root.
 * Errors are {@link DivertException}s: {@link PermissionException} naming the missing capabilities,
 * {@link BackendUnavailableException} when the kernel backend cannot work here (not Linux, no
 * JNR-FFI, no iptables or nsenter), a plain {@code DivertException} for a missing namespace, an
 * unknown id, or an iptables failure (with its message).
 */
public final class KernelRules {
  private KernelRules() {}

  /** Who owns a rule, and whether that owner still runs. */
  public enum OwnerState {
    /** Added with {@link #add}: owned by no process, kept until removed. */
    STATIC,
    /** Installed by a host whose process runs. */
    ALIVE,
    /**
     * Installed by a host whose process is gone (killed, crashed): left behind, removed by {@link
     * #cleanup} or by the next host that opens in the namespace (S51).
     */
    DEAD
  }

  /**
   * One divert rule of a namespace.
   *
   * @param id the rule's id, unique in the namespace (1..1023): the tag in its packet marks, the
   *     rule id of the {@link org.divert4j.DivertAddress} of the packets it diverts, and what
   *     {@link #remove} takes
   * @param chain its chain
   * @param owner the owning host's name ({@link org.divert4j.DivertHost#name()}), or {@code static}
   * @param pid the owning process, 0 for a static rule
   * @param state whether the owner still runs
   * @param match the match as iptables lists it, e.g. {@code -p icmp -m icmp --icmp-type 8}
   * @param rule the divert rule read back from it, empty if the text is not one divert4j writes (a
   *     line edited by hand)
   * @param port the divert port, 0 if unknown
   * @param noListener what the rule does while no socket is bound to its port
   * @param queues the NFQUEUE queues it spreads over (the owner's parallelism; 1 for static rules)
   * @param packets the packets it has matched: diverted, or handled by its no-listener policy (the
   *     iptables counter of its first line)
   * @param bound whether a socket, of any host, is bound to its port now
   */
  public record Entry(
      int id,
      Chain chain,
      String owner,
      long pid,
      OwnerState state,
      String match,
      Optional<DivertRule> rule,
      int port,
      NoListenerPolicy noListener,
      int queues,
      long packets,
      boolean bound) {
    /**
     * Checks the values.
     *
     * @param id the rule's id, unique in the namespace (1..1023): the tag in its packet marks, the
     *     rule id of the {@link org.divert4j.DivertAddress} of the packets it diverts, and what
     *     {@link #remove} takes
     * @param chain its chain
     * @param owner the owning host's name ({@link org.divert4j.DivertHost#name()}), or {@code
     *     static}
     * @param pid the owning process, 0 for a static rule
     * @param state whether the owner still runs
     * @param match the match as iptables lists it, e.g. {@code -p icmp -m icmp --icmp-type 8}
     * @param rule the divert rule read back from it, empty if the text is not one divert4j writes
     *     (a line edited by hand)
     * @param port the divert port, 0 if unknown
     * @param noListener what the rule does while no socket is bound to its port
     * @param queues the NFQUEUE queues it spreads over (the owner's parallelism; 1 for static
     *     rules)
     * @param packets the packets it has matched: diverted, or handled by its no-listener policy
     *     (the iptables counter of its first line)
     * @param bound whether a socket, of any host, is bound to its port now
     */
    public Entry {
      Objects.requireNonNull(chain, "chain");
      Objects.requireNonNull(owner, "owner");
      Objects.requireNonNull(state, "state");
      Objects.requireNonNull(match, "match");
      Objects.requireNonNull(rule, "rule");
      Objects.requireNonNull(noListener, "noListener");
    }

    /**
     * @return the rule in the text form {@link DivertRule#parse} reads, or the chain, the iptables
     *     match and the port if it could not be read back
     */
    public String ruleText() {
      return rule.map(DivertRule::toString)
          .orElseGet(
              () -> chain.keyword() + (match.isEmpty() ? "" : " " + match) + " -j DIVERT " + port);
    }
  }

  /**
   * What {@link #cleanup} removed (or, in a dry run, would remove).
   *
   * @param rules the rules of dead owners
   * @param other the other state, one description each: port chains no rule uses any more, port
   *     chains left armed by a listener that died (disarmed, so the no-listener policy applies
   *     again), defragmentation enablers and probe lines of dead hosts
   */
  public record Cleanup(List<Entry> rules, List<String> other) {
    /**
     * Copies the lists.
     *
     * @param rules the rules of dead owners
     * @param other the other state, one description each: port chains no rule uses any more, port
     *     chains left armed by a listener that died (disarmed, so the no-listener policy applies
     *     again), defragmentation enablers and probe lines of dead hosts
     */
    public Cleanup {
      rules = List.copyOf(rules);
      other = List.copyOf(other);
    }

    /**
     * @return true if there was nothing to clean up
     */
    public boolean isEmpty() {
      return rules.isEmpty() && other.isEmpty();
    }
  }

  /**
   * Lists the divert4j rules of a namespace, in evaluation order: input, forward, output chain, and
   * within each chain first to last. Changes nothing.
   *
   * @param netns the namespace (see the class comment), or null for the caller's
   * @return the rules; empty if there are none
   * @throws DivertException as described in the class comment
   */
  public static List<Entry> list(String netns) throws DivertException {
    return run(netns, a -> a.list());
  }

  /**
   * Lists the NFQUEUE rules of a namespace that divert4j did not install (other software's), in
   * every iptables table that exists. Changes nothing, loads no table.
   *
   * @param netns the namespace, or null for the caller's
   * @return one line per rule: table, chain and rule as iptables-save prints them
   * @throws DivertException as described in the class comment
   */
  public static List<String> foreignQueueRules(String netns) throws DivertException {
    return run(netns, a -> a.foreignQueueRules());
  }

  /**
   * Installs a static rule at the end of its chain: diversion by it starts at once and lasts until
   * {@link #remove}, whatever happens to the calling process (S3). Packets it matches go to the
   * socket bound to {@code rule.port()} by any host in the namespace; while there is none, {@code
   * noListener} decides (S11, S12).
   *
   * @param netns the namespace, or null for the caller's
   * @param rule the rule
   * @param noListener what the rule does while no socket is bound to its port
   * @return the installed rule, with its id
   * @throws DivertException as described in the class comment, or if the namespace already has 1023
   *     divert rules
   * @throws IllegalArgumentException naming the limit, for a filter the kernel cannot hold (S66)
   */
  public static Entry add(String netns, DivertRule rule, NoListenerPolicy noListener)
      throws DivertException {
    Objects.requireNonNull(rule, "rule");
    Objects.requireNonNull(noListener, "noListener");
    org.divert4j.rawsocket.internal.RuleMatch.filterMatches(rule);
    return run(netns, a -> a.add(rule, noListener));
  }

  /**
   * Removes a static rule, or a rule of a dead owner; diversion by it stops at once (S3).
   *
   * @param netns the namespace, or null for the caller's
   * @param id the rule's id ({@link Entry#id()})
   * @return the removed rule
   * @throws DivertException if there is no divert4j rule with that id, or it belongs to a running
   *     host (close that host or its rule instead, or use {@link #remove(String, int, boolean)}),
   *     or as described in the class comment
   */
  public static Entry remove(String netns, int id) throws DivertException {
    return remove(netns, id, false);
  }

  /**
   * Removes a rule by its id.
   *
   * @param netns the namespace, or null for the caller's
   * @param id the rule's id ({@link Entry#id()})
   * @param evenIfOwnerAlive also remove a rule of a running host; that host keeps believing the
   *     rule is installed ({@link org.divert4j.InstalledRule#isInstalled()}) but it no longer
   *     diverts
   * @return the removed rule
   * @throws DivertException if there is no divert4j rule with that id, or it belongs to a running
   *     host and {@code evenIfOwnerAlive} is false, or as described in the class comment
   */
  public static Entry remove(String netns, int id, boolean evenIfOwnerAlive)
      throws DivertException {
    return run(netns, a -> a.remove(id, evenIfOwnerAlive));
  }

  /**
   * Removes what dead owners left in a namespace (S51, on demand: what the next host that opens
   * there would do): their rules and defragmentation enablers, the port chains no rule uses any
   * more, and disarms port chains whose listener died, so their rules' no-listener policy applies
   * again. Static rules and the rules of running hosts are kept. (Their NFQUEUE queues went with
   * their processes: the kernel destroys a queue when its socket closes.)
   *
   * @param netns the namespace, or null for the caller's
   * @param dryRun only report what would be removed
   * @return what was removed
   * @throws DivertException as described in the class comment
   */
  public static Cleanup cleanup(String netns, boolean dryRun) throws DivertException {
    return run(netns, a -> a.cleanup(dryRun));
  }

  /**
   * Removes what dead owners left in a namespace; see {@link #cleanup(String, boolean)}.
   *
   * @param netns the namespace, or null for the caller's
   * @return what was removed
   * @throws DivertException as described in the class comment
   */
  public static Cleanup cleanup(String netns) throws DivertException {
    return cleanup(netns, false);
  }

  private interface Op<T> {
    T apply(org.divert4j.rawsocket.internal.RuleAdmin admin) throws DivertException;
  }

  private static <T> T run(String netns, Op<T> op) throws DivertException {
    try (org.divert4j.rawsocket.internal.RuleAdmin admin =
        org.divert4j.rawsocket.internal.RuleAdmin.open(netns)) {
      return op.apply(admin);
    } catch (LinkageError e) {
      throw new BackendUnavailableException(
          "the rawsocket backend cannot load its native binding (jnr-ffi missing?): " + e, e);
    }
  }
}
