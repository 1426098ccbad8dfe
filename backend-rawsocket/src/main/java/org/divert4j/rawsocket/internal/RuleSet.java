package org.divert4j.rawsocket.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.divert4j.Chain;
import org.divert4j.DivertException;
import org.divert4j.DivertRule;
import org.divert4j.IpFamily;
import org.divert4j.linux.Iptables;
import org.divert4j.linux.Native;
import org.divert4j.linux.NetnsThread;
import org.divert4j.linux.ProcNet;
import org.divert4j.linux.Shell;

/**
 * The divert4j rules of one network namespace, shared by every host handle (in any process) that
 * works on it: read with iptables-save, changed in memory, written back with one iptables-restore
 * per table, under a lock file ({@code /run/divert4j/rules.lock}) so concurrent processes never
 * lose each other's changes. Each write regenerates divert4j's own chains whole (declaring a chain
 * to iptables-restore {@code --noflush} flushes it), keeping the counters of unchanged lines; rules
 * of other software are never touched.
 *
 * <p>Not thread-safe by itself: callers wrap every read-modify-write in {@link #locked}.
 */
public final class RuleSet {
  private static final Pattern LINE = Pattern.compile("^(\\[\\d+:\\d+\\] )?-A (\\S+) (.*)$");
  private static final Map<String, ReentrantLock> JVM_LOCKS = new ConcurrentHashMap<>();

  private final Iptables iptables;
  private final Iptables iptables6;
  private final String nsPath;
  private final Path lockPath;
  private final boolean adopting;
  private volatile Marks marks;

  /**
   * @param iptables the iptables to use; its {@link Iptables#ipv6()} (if installed) holds the IPv6
   *     rules, in the same layout
   * @param nsPath the namespace, for nsenter
   * @param nsInode the namespace's inode (for messages)
   * @param marks the mark layout this handle writes with, or null to adopt the namespace's ({@link
   *     #load}; the default if it has no rules)
   */
  public RuleSet(Iptables iptables, String nsPath, String nsInode, Marks marks) {
    this.iptables = iptables;
    this.iptables6 = iptables.ipv6().orElse(null);
    this.nsPath = nsPath;
    this.marks = marks;
    this.adopting = marks == null;
    Path dir = Path.of("/run/divert4j");
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      dir = Path.of(System.getProperty("java.io.tmpdir"));
    }
    // one lock for every namespace: rule changes are rare (tens of milliseconds each), and a
    // file per namespace would pile up in /run as namespaces come and go
    this.lockPath = dir.resolve("rules.lock");
  }

  /** Work done under the namespace lock. */
  public interface Work<T> {
    T run() throws IOException;
  }

  /**
   * Runs work holding the namespace's rule lock (a JVM lock plus a file lock for other processes).
   *
   * @param work the work
   * @param <T> its result
   * @return its result
   * @throws IOException if the work or the lock fails
   */
  public <T> T locked(Work<T> work) throws IOException {
    ReentrantLock jvm = JVM_LOCKS.computeIfAbsent(lockPath.toString(), k -> new ReentrantLock());
    jvm.lock();
    try {
      if (!Files.exists(lockPath)) {
        try {
          Files.createFile(lockPath);
        } catch (java.nio.file.FileAlreadyExistsException e) {
          // another process made it first
        }
      }
      // flock(2) on a read-only descriptor: a service user with CAP_NET_ADMIN but not root
      // (docs/deploy.md) cannot open root's lock file for writing, which Java's FileLock would
      // need; and Java's FileLock is an fcntl(2) lock, which never excludes a flock(2) one, so
      // every process takes the same kind.
      int fd = Native.openReadOnly(lockPath.toString());
      try {
        Native.flock(fd, Native.LOCK_EX);
        return work.run();
      } finally {
        Native.close(fd); // releases the lock
      }
    } finally {
      jvm.unlock();
    }
  }

  /**
   * Reads the namespace's divert4j rules.
   *
   * @return the state
   * @throws IOException if iptables-save fails
   */
  public RuleState load() throws IOException {
    RuleState s = load(iptables);
    if (iptables6 != null) {
      s.six = load(iptables6);
    }
    return s;
  }

  /**
   * @return whether IPv6 rules can be installed (ip6tables of the same flavour is present)
   */
  public boolean ipv6() {
    return iptables6 != null;
  }

  private RuleState load(Iptables ipt) throws IOException {
    String[] text = ipt.save(nsPath, "raw", "mangle");
    RuleTable raw = parse("raw", text[0]);
    RuleTable mangle = parse("mangle", text[1]);
    RuleState s = RuleState.assemble(raw, mangle, false);
    if (adopting) {
      Marks found = s.endLine == null ? null : Marks.ofEndLine(s.endChain, s.endLine);
      marks = found == null ? Marks.DEFAULT : found;
    }
    return s;
  }

  /**
   * @return whether the rules live in nf_tables (iptables-nft), where {@link NftCounters} can read
   *     their counters without iptables-save
   */
  public boolean nft() {
    return iptables.nftables();
  }

  static RuleTable parse(String name, String save) {
    RuleTable t = new RuleTable(name);
    for (String line : save.split("\n")) {
      if (line.startsWith(":" + RuleText.CHAIN_PREFIX)) {
        t.chains.putIfAbsent(line.substring(1).split(" ")[0], new ArrayList<>());
        continue;
      }
      Matcher m = LINE.matcher(line);
      if (!m.matches()) {
        continue;
      }
      RuleLine l = new RuleLine(m.group(1), m.group(2), m.group(3));
      t.counters.put(l.chain + " " + l.rule, l.counters);
      if (l.chain.startsWith(RuleText.CHAIN_PREFIX)) {
        t.chains.computeIfAbsent(l.chain, k -> new ArrayList<>()).add(l);
      } else if (OwnBuiltinLines.isOwn(l.rule, l.comment)) {
        t.builtinOurs.add(l); // not a line of another program that only imitates our comment
      }
    }
    return t;
  }

  /**
   * Makes a new group for a rule.
   *
   * @param chain the chain
   * @param comment the owner comment
   * @param lines its three lines
   * @return the group
   */
  public static RuleGroup group(Chain chain, String comment, List<String> lines) {
    RuleGroup g = new RuleGroup(comment);
    for (String l : lines) {
      g.lines.add(new RuleLine(null, RuleText.mainChain(chain), l));
    }
    return g;
  }

  /**
   * @return the mark layout this handle writes with
   */
  public Marks marks() {
    Marks m = marks;
    return m == null ? Marks.DEFAULT : m;
  }

  /**
   * Checks that the rules already in the namespace were written with this handle's mark layout
   * (every host and tool in a namespace must use the same {@code rawsocket.markMask}). A handle
   * made without a layout adopts the namespace's at each {@link #load}.
   *
   * @param s the state as loaded
   * @throws IOException naming both masks if they differ
   */
  public void checkLayout(RuleState s) throws IOException {
    if (s.endLine == null || !s.hasRules()) {
      return;
    }
    Marks found = Marks.ofEndLine(s.endChain, s.endLine);
    if (found == null || found.mask() != marks().mask()) {
      throw new IOException(
          "the divert4j rules in this namespace use "
              + (found == null
                  ? "a mark layout this version does not know (chain end line: " + s.endLine + ")"
                  : "mark mask " + RuleText.hex(found.mask()))
              + ", not rawsocket.markMask="
              + RuleText.hex(marks().mask())
              + ": every host in a namespace must use the same mask (close the other hosts, or"
              + " remove their rules with `divert rules cleanup`/`remove`, to change it)");
    }
  }

  /**
   * Adds a rule's groups to the state of each family it applies to (S54: a rule without a family to
   * both iptables and ip6tables, with the same comment and tag), before a given rule of the same
   * host or at the end of the chain.
   *
   * @param s the state
   * @param marks the mark layout the lines are written with
   * @param rule the rule
   * @param tag its tag
   * @param comment its owner comment
   * @param portChain the port chain its packets go to
   * @param anchorHost the host of the rule to insert before, or null for the end
   * @param anchorTag that rule's tag
   * @return the groups added, IPv4's first
   * @throws IOException if the rule is IPv6 only and ip6tables is missing
   */
  public static List<RuleGroup> addRule(
      RuleState s,
      Marks marks,
      DivertRule rule,
      int tag,
      String comment,
      String portChain,
      String anchorHost,
      int anchorTag)
      throws IOException {
    List<RuleGroup> added = new ArrayList<>();
    for (IpFamily f : IpFamily.values()) {
      if (!rule.appliesTo(f)) {
        continue;
      }
      if (f == IpFamily.IPV6 && rule.filter() != null && !rule.family().isPresent()) {
        try {
          RuleMatch.filterMatches(rule, IpFamily.IPV6);
        } catch (IllegalArgumentException e) {
          // a filter that needs the IPv6 upper layer cannot be compiled for ip6tables
          // (ClassicBpf.compileIpv6): a rule of both families is then IPv4's only
          // (docs/filters.md); a -6 rule was refused by addRule's check already
          continue;
        }
      }
      RuleState fs = s.of(f);
      if (fs == null) {
        if (rule.family().isPresent()) {
          throw new IOException(
              "an IPv6 rule needs ip6tables, which is not installed (install the iptables"
                  + " package's ip6tables)");
        }
        continue; // a rule of both families: IPv4 only until ip6tables is installed
      }
      RuleGroup g =
          group(rule.chain(), comment, RuleText.ruleLines(marks, rule, tag, comment, portChain, f));
      List<RuleGroup> list = fs.groups(rule.chain());
      int pos = list.size();
      if (anchorHost != null) {
        for (int i = 0; i < list.size(); i++) {
          if (list.get(i).tag() == anchorTag && list.get(i).host().equals(anchorHost)) {
            pos = i;
            break;
          }
        }
      }
      list.add(pos, g);
      added.add(g);
    }
    return added;
  }

  /**
   * Removes a rule's groups from every family's state.
   *
   * @param s the state
   * @param chain its chain
   * @param tag its tag
   * @param host its owner, or null for any
   * @return whether any was removed
   */
  public static boolean removeRule(RuleState s, Chain chain, int tag, String host) {
    boolean any = false;
    for (RuleState f : s.families()) {
      any |=
          f.groups(chain).removeIf(g -> g.tag() == tag && (host == null || g.host().equals(host)));
    }
    return any;
  }

  /**
   * Chooses the tag (rule id) of a new rule: one above the highest in use, so ids are not reused
   * while that is possible, else the lowest free one.
   *
   * @param used the tags in use in the namespace ({@link State#tags()})
   * @param maxTag the highest tag the mark layout holds ({@link Marks#maxTag})
   * @return a free tag, 1..maxTag
   * @throws IOException if all are taken
   */
  public static int allocateTag(Set<Integer> used, int maxTag) throws IOException {
    int max = 0;
    for (int t : used) {
      max = Math.max(max, t);
    }
    if (max < maxTag) {
      return max + 1;
    }
    for (int t = 1; t <= maxTag; t++) {
      if (!used.contains(t)) {
        return t;
      }
    }
    throw new IOException(
        "too many divert rules in this namespace ("
            + maxTag
            + " with rawsocket.markMask of this many bits; a wider mask holds more)");
  }

  /**
   * Writes the state back: regenerates divert4j's chains of each table whose content changes, arms
   * the port chains of the bound ports, drops port chains no rule uses, and main chains (and their
   * jumps) that have no rules left.
   *
   * @param s the state, as changed by the caller
   * @param bound the queue numbers bound in the namespace now, and the NFLOG groups of sniffers
   *     negated ({@link NamespaceCounters#bound})
   * @throws IOException if iptables-restore fails
   */
  public void store(RuleState s, Set<Integer> bound) throws IOException {
    if (s.countsOnly) {
      throw new IllegalStateException("a state read for its counters only cannot be stored");
    }
    RuleWriter.store(iptables, nsPath, marks(), s, bound);
    if (s.six != null) {
      RuleWriter.store(iptables6, nsPath, marks(), s.six, bound);
    }
  }

  /**
   * Whether any rule of the namespace, divert4j's or another's, in any table of either family, uses
   * xt_connbytes (S68: while one does, {@code net.netfilter.nf_conntrack_acct} must stay on).
   *
   * @return true if iptables-save or ip6tables-save prints a {@code -m connbytes} match
   * @throws IOException if iptables-save fails
   */
  public boolean anyConnbytes() throws IOException {
    return iptables.saveAll(nsPath).contains("-m connbytes")
        || (iptables6 != null && iptables6.saveAll(nsPath).contains("-m connbytes"));
  }

  /**
   * The NFQUEUE rules of the namespace that are not divert4j's (other software's), in every table
   * that exists (nothing is loaded or created to look).
   *
   * @return one entry per rule: table, chain and the rule text as iptables-save prints it
   * @throws IOException if iptables-save fails
   */
  public List<String[]> foreignQueueRules() throws IOException {
    List<String[]> out = new ArrayList<>();
    foreignQueueRules(iptables, "", out);
    if (iptables6 != null) {
      foreignQueueRules(iptables6, "ip6:", out);
    }
    return out;
  }

  private void foreignQueueRules(Iptables ipt, String prefix, List<String[]> out)
      throws IOException {
    String table = "";
    for (String line : ipt.saveAll(nsPath).split("\n")) {
      if (line.startsWith("*")) {
        table = prefix + line.substring(1).trim();
        continue;
      }
      Matcher m = LINE.matcher(line);
      if (!m.matches()) {
        continue;
      }
      RuleLine l = new RuleLine(m.group(1), m.group(2), m.group(3));
      if (l.chain.startsWith(RuleText.CHAIN_PREFIX) || OwnBuiltinLines.isOwn(l.rule, l.comment)) {
        continue;
      }
      if (l.rule.contains("-j NFQUEUE")) {
        out.add(new String[] {table, l.chain, l.rule});
      }
    }
  }

  /**
   * The rules of other software that set or match packet-mark bits (S74), from every table of both
   * families and both iptables flavours that are installed (kube-proxy or Docker may use
   * iptables-legacy on a host whose default is nft, and both act on the same packets), and the
   * policy routing rules of both families that match a mark.
   *
   * @param ns the namespace's thread, to skip the iptables-legacy-save of a family that has no
   *     legacy table ({@link ProcNet#legacyTables}: it would print nothing); or null to run them
   *     all
   * @return the rules, IPv4 first
   * @throws IOException if the flavour divert4j uses cannot be read (the others are skipped when
   *     they are missing or fail)
   */
  public List<MarkOverlap.Use> foreignMarkUses(NetnsThread ns) throws IOException {
    List<MarkOverlap.Use> out =
        new ArrayList<>(MarkOverlap.uses("iptables", iptables.saveAll(nsPath)));
    String own = iptables.legacy() ? "legacy" : "nft";
    String other = iptables.legacy() ? "nft" : "legacy";
    for (String cmd :
        List.of(
            "iptables-" + other + "-save",
            "ip6tables-" + own + "-save",
            "ip6tables-" + other + "-save")) {
      Optional<Path> p = Shell.which(cmd);
      if (p.isEmpty() || (cmd.contains("legacy") && noLegacyTables(ns, cmd.startsWith("ip6")))) {
        continue;
      }
      Shell.Result r =
          Shell.run(
              null, Duration.ofSeconds(60), Shell.inNetns(nsPath, List.of(p.get().toString())));
      if (r.ok()) {
        out.addAll(MarkOverlap.uses(cmd.startsWith("ip6") ? "ip6tables" : "iptables", r.stdout()));
      }
    }
    for (List<String> ip :
        List.of(List.of("ip", "rule", "show"), List.of("ip", "-6", "rule", "show"))) {
      Shell.Result r = Shell.run(null, Duration.ofSeconds(60), Shell.inNetns(nsPath, ip));
      if (r.ok()) {
        String family = String.join(" ", ip.subList(0, ip.size() - 1));
        out.addAll(MarkOverlap.routingUses(family, r.stdout()));
      }
    }
    return out;
  }

  /** True only if the namespace surely has no legacy table of the family (else run the save). */
  private static boolean noLegacyTables(NetnsThread ns, boolean six) {
    try {
      return ns != null && ns.call(() -> ProcNet.legacyTables(six)).isEmpty();
    } catch (DivertException | RuntimeException e) {
      return false;
    }
  }

  /**
   * Makes a defrag-enabling line.
   *
   * @param comment the owner comment
   * @return the line
   */
  public static RuleLine defragLine(String comment) {
    return new RuleLine(null, RuleText.DEFRAG_CHAIN, RuleText.defragLine(comment));
  }

  /**
   * Makes a line of the defragmentation chain that only carries its comment (it matches nothing
   * that enables defragmentation).
   *
   * @param comment the comment
   * @return the line
   */
  public static RuleLine markerLine(String comment) {
    return new RuleLine(null, RuleText.DEFRAG_CHAIN, RuleText.markerLine(comment));
  }
}
