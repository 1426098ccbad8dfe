package org.divert4j.rawsocket.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.divert4j.BackendUnavailableException;
import org.divert4j.Capability;
import org.divert4j.Chain;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.HostStats;
import org.divert4j.InstalledRule;
import org.divert4j.Ipv4;
import org.divert4j.NetInterface;
import org.divert4j.NoListenerPolicy;
import org.divert4j.PermissionException;
import org.divert4j.PortInUseException;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Errors;
import org.divert4j.linux.Iptables;
import org.divert4j.linux.Native;
import org.divert4j.linux.NetnsThread;

/**
 * A network namespace under diversion: the rawsocket backend's {@link DivertHost}.
 *
 * <p>Which namespace: the caller's (the namespace of the thread that opens the host), or the one
 * named by the host property {@code rawsocket.netns} (a name under {@code /var/run/netns}, or a
 * path such as {@code /proc/PID/ns/net}). Everything that must be created inside it (netlink and
 * raw sockets, rtnetlink queries, {@code /proc/thread-self/net} reads) is done by a thread that
 * entered it ({@link NetnsThread}); iptables runs there through {@code nsenter}.
 *
 * <p>Other properties: {@code rawsocket.iptables} ({@code nft} or {@code legacy}), {@code
 * rawsocket.batch} (recvmmsg batch size, default 32), {@code rawsocket.rcvbuf} (netlink receive
 * buffer, default 8 MiB).
 *
 * <p>Thread-safe.
 */
public final class KernelHost implements DivertHost {
  static final long PID = ProcessHandle.current().pid();
  static final long START = startTicks(PID);
  private static final AtomicInteger COUNTER = new AtomicInteger();

  private final String backend;
  private final Set<Capability> capabilities;
  private final HostOptions options;
  private final String name;
  private final String nsDescription;
  private final NetnsThread ns;
  private final Interfaces ifaces;
  private final RawSender raw;
  private final JumboTap jumboTap;
  private final RuleSet rules;
  private final int batch;
  private final int rcvbuf;
  private final Map<Integer, KernelSocket> sockets = new ConcurrentHashMap<>();
  private final Map<Chain, List<KernelRule>> own = new EnumMap<>(Chain.class);
  private final AtomicInteger ipId = new AtomicInteger((int) (System.nanoTime() & 0xffff));
  private final ScheduledExecutorService reaper;
  private final long[] snmpAtOpen;
  private volatile boolean open = true;
  private volatile HostStats finalStats;

  private KernelHost(
      String backend,
      Set<Capability> capabilities,
      HostOptions options,
      String nsDescription,
      NetnsThread ns,
      Interfaces ifaces,
      RawSender raw,
      JumboTap jumboTap,
      RuleSet rules) {
    this.backend = backend;
    this.capabilities = capabilities;
    this.options = options;
    this.name = "j" + START + "-" + COUNTER.incrementAndGet();
    this.nsDescription = nsDescription;
    this.ns = ns;
    this.ifaces = ifaces;
    this.raw = raw;
    this.jumboTap = jumboTap;
    this.rules = rules;
    this.batch = intProperty(options, "rawsocket.batch", 32, 1, 1024);
    this.rcvbuf = intProperty(options, "rawsocket.rcvbuf", 8 << 20, 65536, 1 << 30);
    for (Chain c : Chain.values()) {
      own.put(c, new ArrayList<>());
    }
    this.snmpAtOpen = snmp();
    this.reaper =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "d4j-reaper-" + name);
              t.setDaemon(true);
              return t;
            });
    if (!options.holdTimeout().isZero()) {
      long period = Math.max(10, Math.min(100, options.holdTimeout().toMillis() / 4));
      reaper.scheduleWithFixedDelay(this::expire, period, period, TimeUnit.MILLISECONDS);
    }
  }

  private static int intProperty(HostOptions o, String key, int dflt, int min, int max) {
    String v = o.property(key, null);
    if (v == null) {
      return dflt;
    }
    try {
      int i = Integer.parseInt(v.trim());
      if (i >= min && i <= max) {
        return i;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException(
        key + " must be a number from " + min + " to " + max + ": " + v);
  }

  /**
   * Opens a host.
   *
   * @param backend the provider name
   * @param capabilities the provider's capabilities
   * @param options host options
   * @return the host
   * @throws DivertException as {@link org.divert4j.spi.DivertProvider#open}
   */
  public static KernelHost open(String backend, Set<Capability> capabilities, HostOptions options)
      throws DivertException {
    String prop = options.property("rawsocket.netns", null);
    String nsPath = resolveNetns(prop);
    Iptables ipt =
        Iptables.detect(options.property("rawsocket.iptables", null))
            .orElseThrow(
                () ->
                    new BackendUnavailableException(
                        "iptables was not found: install the iptables package", null));
    if (org.divert4j.linux.Shell.which("nsenter").isEmpty()) {
      throw new BackendUnavailableException("nsenter was not found: install util-linux", null);
    }
    String label = prop == null ? "current" : prop;
    NetnsThread ns = NetnsThread.start(nsPath, label);
    Interfaces ifaces = null;
    RawSender raw = null;
    JumboTap tap = null;
    KernelHost host = null;
    try {
      Object[] made =
          ns.call(
              () -> {
                List<String> missing = Errors.missingCapabilities();
                if (!missing.isEmpty()) {
                  throw new PermissionException(
                      "open a divert host on rawsocket", missing, Errors.EPERM, null);
                }
                checkNfqueue();
                RawSender r;
                try {
                  r = RawSender.open(true);
                } catch (ErrnoException e) {
                  if (Errors.isPermission(e.errno())) {
                    throw Errors.permission("open a raw socket", "CAP_NET_RAW", e);
                  }
                  throw Errors.generic("cannot open the raw injection socket", e);
                }
                JumboTap jt;
                try {
                  jt = JumboTap.open();
                } catch (ErrnoException e) {
                  jt = null; // S8 above 65531 bytes then fails with NO_BUFFER; nothing else
                }
                try {
                  return new Object[] {Interfaces.open(), r, jt};
                } catch (ErrnoException e) {
                  if (jt != null) {
                    jt.close();
                  }
                  r.close();
                  throw Errors.generic("cannot read the interfaces over rtnetlink", e);
                }
              });
      ifaces = (Interfaces) made[0];
      raw = (RawSender) made[1];
      tap = (JumboTap) made[2];
      RuleSet rules = new RuleSet(ipt, ns.nsPath(), ns.inode());
      host = new KernelHost(backend, capabilities, options, label, ns, ifaces, raw, tap, rules);
      host.init();
      return host;
    } catch (DivertException | RuntimeException | Error e) {
      if (host != null) {
        host.closeQuietly();
      } else {
        if (raw != null) {
          raw.close();
        }
        if (tap != null) {
          tap.close();
        }
        if (ifaces != null) {
          ifaces.close();
        }
        ns.close();
      }
      throw e;
    }
  }

  /**
   * @param netns a namespace name (under {@code /var/run/netns}), a path, or null or blank for the
   *     caller's
   * @return its path, or null for the caller's
   * @throws DivertException if it does not exist
   */
  static String resolveNetns(String netns) throws DivertException {
    if (netns == null || netns.isBlank()) {
      return null;
    }
    String nsPath = netns.startsWith("/") ? netns : "/var/run/netns/" + netns;
    if (!Files.exists(Path.of(nsPath))) {
      throw new DivertException(
          "network namespace '" + netns + "' does not exist (no " + nsPath + ")");
    }
    return nsPath;
  }

  /** Checks that nfnetlink_queue answers and lets us configure (CAP_NET_ADMIN). */
  private static void checkNfqueue() throws DivertException {
    NfqChannel ch;
    try {
      ch = NfqChannel.open(0, 1, 65536);
    } catch (ErrnoException e) {
      throw new BackendUnavailableException(
          "cannot open a NETLINK_NETFILTER socket (is nfnetlink in the kernel?): " + e.getMessage(),
          e.errno(),
          e);
    }
    try {
      // PF_UNBIND is a no-op on current kernels but still needs CAP_NET_ADMIN (nfnetlink checks
      // it for every message) and the nfnetlink_queue subsystem.
      ch.configure(NfqCodec.NFQNL_CFG_CMD_PF_UNBIND, -1, -1, 0, 0);
    } catch (ErrnoException e) {
      if (Errors.isPermission(e.errno())) {
        throw Errors.permission("configure NFQUEUE", "CAP_NET_ADMIN", e);
      }
      throw new BackendUnavailableException(
          "nfnetlink_queue does not answer (modprobe nfnetlink_queue): " + e.getMessage(),
          e.errno(),
          e);
    } finally {
      ch.close();
    }
  }

  private void init() throws DivertException {
    try {
      rules.locked(
          () -> {
            RuleSet.State s = rules.load();
            removeDead(s);
            if (options.fragments() == FragmentMode.ALWAYS_DEFRAGMENT) {
              s.defrag().add(RuleSet.defragLine(RuleText.comment(name, PID, "defrag")));
            }
            rules.store(s, bound());
            return null;
          });
    } catch (IOException e) {
      throw new DivertException("cannot set up the firewall rules: " + e.getMessage(), 0, e);
    }
    if (options.fragments() == FragmentMode.PER_FRAGMENT) {
      probeFragments();
    }
  }

  // ------------------------------------------------------------------ crash cleanup

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

  private static String[] owner(String comment) {
    String[] f = comment == null ? new String[0] : comment.split(":");
    return f.length >= 4 ? f : null;
  }

  /**
   * Removes from a state everything whose owner is dead: its rules, its defragmentation enablers,
   * its lines in built-in chains (an interrupted fragment probe). Static rules are never a dead
   * owner's. The same cleanup runs when a host opens or closes and for {@code KernelRules.cleanup}.
   *
   * @param s the state, changed in place
   * @return a description of each removed item that is not a rule (the caller sees the rules)
   */
  static List<String> removeDead(RuleSet.State s) {
    List<String> removed = new ArrayList<>();
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
    for (RuleSet.Line l : s.builtinLines()) {
      String[] o = owner(l.comment());
      if (o != null && !alive(o[1], parsePid(o[2]))) {
        s.deleteBuiltin(l);
        removed.add(
            l.chain() + " line '" + o[3] + "' of host " + o[1] + " (pid " + o[2] + ", dead)");
      }
    }
    return removed;
  }

  private static long parsePid(String s) {
    try {
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  // ------------------------------------------------------------------ per-fragment check

  /**
   * PER_FRAGMENT needs the input hook to run before reassembly. Our rules sit in raw PREROUTING
   * (priority -300); nf_defrag_ipv4 (priority -400) runs first whenever it has a user in the
   * namespace (conntrack, NAT, CT/NOTRACK, socket or TPROXY rules; registered per namespace since
   * Linux 4.10). This sends two fragments to a local address through a raw socket and counts, with
   * a temporary raw OUTPUT rule, whether they are still fragments after LOCAL_OUT's defrag hook:
   * the same hook pair as PREROUTING.
   */
  private void probeFragments() throws DivertException {
    Interfaces.Snapshot snap = ifaces.get();
    List<Integer> candidates = new ArrayList<>();
    candidates.add(0x7f000001);
    for (NetInterface i : snap.list()) {
      if (i.addressBits() != 0) {
        candidates.add(i.addressBits());
      }
    }
    int local = 0;
    for (int a : candidates) {
      try {
        if (ifaces.route(a, 0).type() == Interfaces.RTN_LOCAL) {
          local = a;
          break;
        }
      } catch (ErrnoException e) {
        // not routable: try the next
      }
    }
    if (local == 0) {
      return; // nothing is up: nothing to test with, and no traffic to divert yet
    }
    String comment = RuleText.comment(name, PID, "probe");
    String a = Ipv4.toString(local) + "/32";
    String rule = "-p 253 -s " + a + " -d " + a + " -f -m comment --comment \"" + comment + "\"";
    long seen;
    try {
      rules.locked(
          () -> {
            RuleSet.State s = rules.load();
            s.extra("raw", "-I OUTPUT 1 " + rule);
            rules.store(s, bound());
            return null;
          });
      final int dst = local;
      ns.call(
          () -> {
            RawSender probe;
            try {
              probe = RawSender.open(false);
            } catch (ErrnoException e) {
              throw Errors.generic("cannot open a raw socket for the fragment probe", e);
            }
            try {
              ByteBuffer b = Native.allocate(64);
              long addr = Native.address(b);
              int id = 0x4000 + (int) (PID & 0x3fff);
              for (int k = 0; k < 2; k++) {
                b.clear();
                b.put(0, (byte) 0x45);
                b.putShort(2, Short.reverseBytes((short) 28));
                b.putShort(4, Short.reverseBytes((short) id));
                b.putShort(
                    6, Short.reverseBytes((short) (k == 0 ? 0x2000 : 1))); // MF, then offset 8
                b.put(8, (byte) 64);
                b.put(9, (byte) 253);
                b.putInt(12, Integer.reverseBytes(dst));
                b.putInt(16, Integer.reverseBytes(dst));
                org.divert4j.packet.Checksums.fillIpv4Header(b, 0);
                probe.send(addr, 28, dst, Marks.chainBits(Chain.OUTPUT));
              }
            } finally {
              probe.close();
            }
            return null;
          });
      seen =
          rules.locked(
              () -> {
                RuleSet.State s = rules.load();
                long n = -1;
                for (RuleSet.Line l : s.builtinLines()) {
                  if (comment.equals(l.comment())) {
                    n = Math.max(n, 0) + l.packets();
                    s.deleteBuiltin(l);
                  }
                }
                rules.store(s, bound());
                return n;
              });
    } catch (IOException e) {
      throw new DivertException("the fragment probe failed: " + e.getMessage(), 0, e);
    }
    if (seen == 0) {
      throw new DivertException(
          "PER_FRAGMENT diversion is impossible in network namespace "
              + nsDescription
              + ": IPv4 defragmentation (nf_defrag_ipv4) is active there because something"
              + " uses connection tracking or needs reassembly (conntrack, state, NAT, CT/NOTRACK,"
              + " socket or TPROXY rules, or an ALWAYS_DEFRAGMENT divert host), so the input"
              + " chain would only see reassembled datagrams. Remove those users, or open the host"
              + " with FragmentMode.ALWAYS_DEFRAGMENT.");
    }
  }

  // ------------------------------------------------------------------ services for sockets

  HostOptions optionsInternal() {
    return options;
  }

  Interfaces ifaces() {
    return ifaces;
  }

  RawSender raw() {
    return raw;
  }

  JumboTap jumboTap() {
    return jumboTap;
  }

  int nextId() {
    while (true) {
      int id = ipId.incrementAndGet() & 0xffff;
      if (id != 0) {
        return id;
      }
    }
  }

  int routeMtu(int dst, int mark) {
    try {
      Interfaces.Route r = ifaces.route(dst, mark);
      return ifaces.knowing(r.outIndex()).mtu(r.outIndex());
    } catch (ErrnoException e) {
      return 0;
    }
  }

  String routeDescription(int dst, int mark) {
    try {
      Interfaces.Route r = ifaces.route(dst, mark);
      return "egress interface " + ifaces.knowing(r.outIndex()).name(r.outIndex());
    } catch (ErrnoException e) {
      return "route to " + Ipv4.toString(dst);
    }
  }

  /** The queue numbers bound in the namespace now (/proc/thread-self/net/netfilter). */
  Set<Integer> bound() throws IOException {
    return bound(ns);
  }

  /**
   * @param ns a thread in the namespace
   * @return the NFQUEUE queue numbers bound in that namespace now
   * @throws IOException if they cannot be read
   */
  static Set<Integer> bound(NetnsThread ns) throws IOException {
    Set<Integer> s = new HashSet<>();
    for (long[] row : queueTable(ns)) {
      s.add((int) row[0]);
    }
    return s;
  }

  private List<long[]> queueTable() throws IOException {
    return queueTable(ns);
  }

  private static List<long[]> queueTable(NetnsThread ns) throws IOException {
    try {
      return ns.call(
          () -> {
            List<long[]> rows = new ArrayList<>();
            Path p = Path.of("/proc/thread-self/net/netfilter/nfnetlink_queue");
            if (!Files.exists(p)) {
              return rows;
            }
            for (String line : Files.readAllLines(p)) {
              String[] f = line.trim().split("\\s+");
              if (f.length >= 8) {
                long[] row = new long[f.length];
                for (int i = 0; i < f.length; i++) {
                  row[i] = Long.parseLong(f[i]);
                }
                rows.add(row);
              }
            }
            return rows;
          });
    } catch (DivertException e) {
      throw new IOException(e.getMessage(), e);
    }
  }

  /**
   * @param queue a queue number
   * @return {queue_total, queue_dropped, user_dropped, id_sequence} of it, or null if unknown
   */
  long[] queueCounters(int queue) {
    try {
      for (long[] row : queueTable()) {
        if (row[0] == queue) {
          return new long[] {row[2], row[5], row[6], row[7]};
        }
      }
    } catch (IOException | RuntimeException e) {
      // unknown
    }
    return null;
  }

  long queuedPackets(int port) {
    try {
      return RuleSet.queuedPackets(rules.load(), port);
    } catch (IOException e) {
      return -1;
    }
  }

  /**
   * ReasmTimeout, ReasmOKs, ReasmFails (Ip in /proc/thread-self/net/snmp) and ReasmOverlaps (IpExt
   * in .../netstat) of the namespace.
   */
  private long[] snmp() {
    try {
      return ns.call(
          () -> {
            long[] r = new long[4];
            long[] ip =
                counters(
                    "/proc/thread-self/net/snmp", "Ip:", "ReasmTimeout", "ReasmOKs", "ReasmFails");
            System.arraycopy(ip, 0, r, 0, 3);
            r[3] = counters("/proc/thread-self/net/netstat", "IpExt:", "ReasmOverlaps")[0];
            return r;
          });
    } catch (DivertException | RuntimeException e) {
      return new long[4];
    }
  }

  private static long[] counters(String file, String prefix, String... names) throws IOException {
    long[] out = new long[names.length];
    List<String> lines = Files.readAllLines(Path.of(file));
    for (int i = 0; i + 1 < lines.size(); i++) {
      if (lines.get(i).startsWith(prefix) && lines.get(i + 1).startsWith(prefix)) {
        List<String> k = List.of(lines.get(i).split("\\s+"));
        String[] v = lines.get(i + 1).split("\\s+");
        for (int n = 0; n < names.length; n++) {
          int at = k.indexOf(names[n]);
          out[n] = at > 0 && at < v.length ? Long.parseLong(v[at]) : 0;
        }
        return out;
      }
    }
    return out;
  }

  void socketClosed(KernelSocket s) {
    sockets.remove(s.port(), s);
    if (open) {
      try {
        syncPortChains(s.port());
      } catch (IOException | RuntimeException e) {
        // the next rule change or open re-arms; with DROP the queue is gone, so packets drop
      }
    }
  }

  /**
   * Called by a closing socket before it destroys its queues: regenerates the chains of its port as
   * if its queues were already unbound, so that packets arriving from now on meet the no-listener
   * behaviour (counted as such) instead of a queue that is about to be destroyed (where the kernel
   * would drop them uncounted: with nobody bound, NFQUEUE without --queue-bypass drops). Only while
   * the host is open; a failure leaves the old behaviour (the close goes on).
   *
   * @param s the closing socket
   * @return the packet counter of the port's DROP no-listener lines just before, or -1 if the
   *     chains were not changed or the counter is unknown
   */
  long disarm(KernelSocket s) {
    if (!open) {
      return -1;
    }
    int port = s.port();
    long[] before = {-1};
    try {
      rules.locked(
          () -> {
            RuleSet.State st = rules.load();
            before[0] = RuleSet.noListenerPackets(st, Set.of(port), true);
            boolean uses = false;
            for (Chain c : Chain.values()) {
              for (RuleSet.Group g : st.groups(c)) {
                String pc = g.portChain();
                if (pc != null && RuleText.portOfChain(pc) == port) {
                  uses = true;
                }
              }
            }
            if (uses) {
              Set<Integer> b = bound();
              for (int i = 0; i < s.queues(); i++) {
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
   * @param port a divert port
   * @return the packet counter of its DROP no-listener lines now, or -1 if unknown
   */
  long noListenerDrops(int port) {
    try {
      return RuleSet.noListenerPackets(rules.load(), Set.of(port), true);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  private void syncPortChains(int port) throws IOException {
    rules.locked(
        () -> {
          RuleSet.State s = rules.load();
          boolean uses = false;
          for (Chain c : Chain.values()) {
            for (RuleSet.Group g : s.groups(c)) {
              String pc = g.portChain();
              if (pc != null && RuleText.portOfChain(pc) == port) {
                uses = true;
              }
            }
          }
          if (uses) {
            rules.store(s, bound());
          }
          return null;
        });
  }

  private void expire() {
    for (KernelSocket s : sockets.values()) {
      try {
        s.expire();
      } catch (RuntimeException e) {
        // keep the reaper alive
      }
    }
  }

  // ------------------------------------------------------------------ DivertHost

  @Override
  public String backend() {
    return backend;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public HostOptions options() {
    return options;
  }

  @Override
  public Set<Capability> capabilities() {
    return capabilities;
  }

  private void checkOpen() throws DivertException {
    if (!open) {
      throw new DivertClosedException("divert host " + name);
    }
  }

  @Override
  public List<NetInterface> interfaces() throws DivertException {
    checkOpen();
    try {
      return ifaces.refresh().list();
    } catch (ErrnoException e) {
      throw Errors.generic("cannot read the interfaces", e);
    }
  }

  @Override
  public InstalledRule addRule(DivertRule rule) throws DivertException {
    return install(rule, -1);
  }

  @Override
  public InstalledRule insertRule(int index, DivertRule rule) throws DivertException {
    synchronized (own) {
      int n = own.get(rule.chain()).size();
      if (index < 0 || index > n) {
        throw new IndexOutOfBoundsException(
            "index " + index + " of " + n + " rules in chain " + rule.chain().keyword());
      }
    }
    return install(rule, index);
  }

  private InstalledRule install(DivertRule rule, int index) throws DivertException {
    java.util.Objects.requireNonNull(rule, "rule");
    checkOpen();
    Chain chain = rule.chain();
    try {
      synchronized (own) {
        List<KernelRule> mine = own.get(chain);
        int anchor = index >= 0 && index < mine.size() ? mine.get(index).id() : 0;
        int tag =
            rules.locked(
                () -> {
                  RuleSet.State s = rules.load();
                  int t = RuleSet.allocateTag(s.tags());
                  String comment = RuleText.comment(name, PID, Integer.toString(t));
                  String pc =
                      RuleText.portChain(options.noListener(), rule.port(), options.parallelism());
                  RuleSet.Group g =
                      RuleSet.group(chain, comment, RuleText.ruleLines(rule, t, comment, pc));
                  List<RuleSet.Group> list = s.groups(chain);
                  int pos = list.size();
                  if (anchor != 0) {
                    for (int i = 0; i < list.size(); i++) {
                      if (list.get(i).tag() == anchor && list.get(i).host().equals(name)) {
                        pos = i;
                        break;
                      }
                    }
                  }
                  list.add(pos, g);
                  rules.store(s, bound());
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

  void removeRule(KernelRule r) throws DivertException {
    if (!open) {
      r.markRemoved();
      return;
    }
    try {
      synchronized (own) {
        rules.locked(
            () -> {
              RuleSet.State s = rules.load();
              s.groups(r.rule().chain()).removeIf(g -> g.tag() == r.id() && g.host().equals(name));
              rules.store(s, bound());
              return null;
            });
        own.get(r.rule().chain()).remove(r);
        r.markRemoved();
      }
    } catch (IOException e) {
      throw new DivertException("cannot remove rule " + r.id() + ": " + e.getMessage(), 0, e);
    }
  }

  @Override
  public List<InstalledRule> rules() {
    List<InstalledRule> all = new ArrayList<>();
    synchronized (own) {
      for (Chain c : Chain.values()) {
        all.addAll(own.get(c));
      }
    }
    return all;
  }

  @Override
  public DivertSocket bind(int port) throws DivertException {
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("divert port must be 1..65535: " + port);
    }
    checkOpen();
    KernelSocket existing = sockets.get(port);
    if (existing != null && !existing.isOpen()) {
      existing.awaitClosed(); // closed by another thread that has not finished yet
      existing = sockets.get(port);
    }
    if (existing != null) {
      throw new PortInUseException(port, 0);
    }
    int queues = options.parallelism();
    if (port + queues - 1 > 65535) {
      throw new IllegalArgumentException(
          "divert port "
              + port
              + " with parallelism "
              + queues
              + " needs queues up to "
              + (port + queues - 1)
              + ", above 65535");
    }
    NfqChannel[] channels = new NfqChannel[queues];
    try {
      for (int i = 0; i < queues; i++) {
        channels[i] = openChannel(port, port + i);
      }
    } catch (DivertException | RuntimeException e) {
      for (NfqChannel c : channels) {
        if (c != null) {
          c.close();
        }
      }
      throw e;
    }
    KernelSocket s = new KernelSocket(this, port, channels);
    if (sockets.putIfAbsent(port, s) != null) {
      s.close();
      throw new PortInUseException(port, 0);
    }
    try {
      syncPortChains(port);
      if (options.failOpen()) {
        s.setQueuedBaseline(queuedPackets(port));
      }
    } catch (IOException e) {
      s.close();
      throw new DivertException(
          "cannot arm the rules of port " + port + ": " + e.getMessage(), 0, e);
    }
    return s;
  }

  /** Opens and binds one NFQUEUE queue for divert port {@code port}. */
  private NfqChannel openChannel(int port, int queue) throws DivertException {
    NfqChannel ch =
        ns.call(
            () -> {
              try {
                return NfqChannel.open(queue, batch, rcvbuf);
              } catch (ErrnoException e) {
                if (Errors.isPermission(e.errno())) {
                  throw Errors.permission("open an NFQUEUE socket", "CAP_NET_ADMIN", e);
                }
                throw Errors.generic("cannot open an NFQUEUE socket", e);
              }
            });
    try {
      int flags = options.failOpen() ? NfqCodec.NFQA_CFG_F_FAIL_OPEN : 0;
      ch.configure(
          NfqCodec.NFQNL_CFG_CMD_BIND,
          NfqCodec.MAX_COPY_RANGE,
          options.queueLength(),
          flags,
          NfqCodec.NFQA_CFG_F_FAIL_OPEN);
      return ch;
    } catch (ErrnoException e) {
      ch.close();
      // nfqnl_recv_config: EPERM when another socket owns the queue, EBUSY when we already do;
      // EPERM is also the answer without CAP_NET_ADMIN, told apart by the thread's capabilities.
      if (Errors.isPermission(e.errno())) {
        List<String> missing = Errors.missingCapabilities();
        if (!missing.isEmpty()) {
          throw new PermissionException("bind divert port " + port, missing, e.errno(), e);
        }
        throw new PortInUseException(port, e.errno());
      }
      if (e.errno() == Errors.EBUSY) {
        throw new PortInUseException(port, e.errno());
      }
      throw Errors.generic("cannot bind divert port " + port + " (queue " + queue + ")", e);
    }
  }

  @Override
  public HostStats stats() {
    HostStats f = finalStats;
    if (f != null) {
      return f;
    }
    return computeStats();
  }

  private HostStats computeStats() {
    long[] d = new long[DropReason.values().length];
    long passed = 0;
    long reassembled = 0;
    Set<Integer> dropPorts = new HashSet<>();
    Set<Integer> passPorts = new HashSet<>();
    synchronized (own) {
      for (List<KernelRule> l : own.values()) {
        for (KernelRule r : l) {
          (options.noListener() == NoListenerPolicy.DROP ? dropPorts : passPorts)
              .add(r.rule().port());
        }
      }
    }
    try {
      RuleSet.State s = rules.load();
      d[DropReason.NO_LISTENER.ordinal()] = RuleSet.noListenerPackets(s, dropPorts, true);
      passed = RuleSet.noListenerPackets(s, passPorts, false);
    } catch (IOException e) {
      // counters unknown
    }
    if (options.fragments() == FragmentMode.ALWAYS_DEFRAGMENT) {
      // namespace-wide IP reassembly counters since the host opened: timeouts (ip_expire) and
      // overlaps are told apart; the other failures are almost always "reassembly memory full"
      // (ip_find fails above ipfrag_high_thresh), with the rare invalid fragment among them
      long[] now = snmp();
      long timeouts = Math.max(0, now[0] - snmpAtOpen[0]);
      long overlaps = Math.max(0, now[3] - snmpAtOpen[3]);
      reassembled = now[1] - snmpAtOpen[1];
      d[DropReason.REASSEMBLY_TIMEOUT.ordinal()] = timeouts;
      d[DropReason.REASSEMBLY_OVERLAP.ordinal()] = overlaps;
      d[DropReason.REASSEMBLY_MEMORY.ordinal()] =
          Math.max(0, now[2] - snmpAtOpen[2] - timeouts - overlaps);
    }
    return new HostStats(passed, Math.max(0, reassembled), d);
  }

  @Override
  public boolean isOpen() {
    return open;
  }

  @Override
  public void close() throws DivertException {
    if (!open) {
      return;
    }
    HostStats last = computeStats();
    open = false;
    for (KernelSocket s : new ArrayList<>(sockets.values())) {
      s.close();
    }
    reaper.shutdownNow();
    IOException failure = null;
    try {
      rules.locked(
          () -> {
            RuleSet.State s = rules.load();
            for (Chain c : Chain.values()) {
              s.groups(c).removeIf(g -> g.host().equals(name));
            }
            s.defrag()
                .removeIf(
                    l -> {
                      String[] o = owner(l.comment());
                      return o != null && o[1].equals(name);
                    });
            for (RuleSet.Line l : s.builtinLines()) {
              String[] o = owner(l.comment());
              if (o != null && o[1].equals(name)) {
                s.deleteBuiltin(l);
              }
            }
            removeDead(s);
            rules.store(s, bound());
            return null;
          });
    } catch (IOException | RuntimeException e) {
      failure = e instanceof IOException io ? io : new IOException(e);
    }
    synchronized (own) {
      for (List<KernelRule> l : own.values()) {
        for (KernelRule r : l) {
          r.markRemoved();
        }
        l.clear();
      }
    }
    finalStats = last;
    raw.close();
    if (jumboTap != null) {
      jumboTap.close();
    }
    ifaces.close();
    ns.close();
    if (failure != null) {
      throw new DivertException(
          "closing divert host "
              + name
              + ": its rules could not be removed ("
              + failure.getMessage()
              + "); the next host opened in this namespace removes them",
          0,
          failure);
    }
  }

  private void closeQuietly() {
    try {
      close();
    } catch (DivertException | RuntimeException e) {
      // opening failed; the original error is what matters
    }
  }

  @Override
  public String toString() {
    return "rawsocket host " + name + " (netns " + nsDescription + ")";
  }
}
