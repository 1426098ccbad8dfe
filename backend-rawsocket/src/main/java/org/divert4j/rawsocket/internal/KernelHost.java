package org.divert4j.rawsocket.internal;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.divert4j.Capability;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.HostStats;
import org.divert4j.InstalledRule;
import org.divert4j.NetInterface;
import org.divert4j.PortInUseException;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Errors;
import org.divert4j.linux.NetnsThread;
import org.divert4j.management.StatsBeans;
import org.divert4j.spi.RuleFamilies;

/**
 * A network namespace under diversion: the rawsocket backend's {@link DivertHost}. A facade over
 * the host's duties: {@link HostConfig} (its properties), {@link HostResources} (what it holds in
 * the namespace), {@link RuleBook} (its rules in the firewall), {@link FragmentProbe} (whether
 * PER_FRAGMENT can work), {@link QueueBinder} (binding ports to NFQUEUE queues), {@link HostLedger}
 * (statistics) and {@link RuleOwners} (crash cleanup).
 *
 * <p>Which namespace: the caller's (the namespace of the thread that opens the host), or the one
 * named by the host property {@code rawsocket.netns}. Everything that must be created inside it
 * (netlink and raw sockets, rtnetlink queries, {@code /proc/thread-self/net} reads) is done by a
 * thread that entered it ({@link NetnsThread}); iptables runs there through {@code nsenter}.
 *
 * <p>Thread-safe.
 */
public final class KernelHost implements DivertHost {
  private static final AtomicInteger COUNTER = new AtomicInteger();

  private final String backend;
  private final Set<Capability> capabilities;
  private final HostOptions options;
  private final String name;
  private final String nsDescription;
  private final HostResources res;
  private final NamespaceCounters proc;
  private final RuleBook book;
  private final HostLedger ledger;
  private final QueueBinder binder;
  private final SocketServices services;
  private final IngressPath ingress;
  private final Map<Integer, KernelSocket> sockets = new ConcurrentHashMap<>();
  private final Map<Integer, SnifferSocket> sniffers = new ConcurrentHashMap<>();
  private final ScheduledExecutorService reaper;
  private volatile boolean open = true;
  private volatile HostStats finalStats;
  private final FlowAccounting flow;

  private volatile StatsBeans.Registration bean; // set once open() succeeded
  private final Map<DivertSocket, StatsBeans.Registration> socketBeans = new ConcurrentHashMap<>();

  private KernelHost(
      String backend,
      Set<Capability> capabilities,
      HostOptions options,
      HostConfig config,
      HostResources res) {
    this.backend = backend;
    this.capabilities = capabilities;
    this.options = options;
    int number = COUNTER.incrementAndGet();
    this.name = "j" + RuleOwners.START + "-" + number;
    this.nsDescription = config.label();
    this.res = res;
    this.flow =
        new FlowAccounting(
            res.ns(), res.rules(), options.fragments() == FragmentMode.ALWAYS_DEFRAGMENT);
    this.proc = new NamespaceCounters(res.ns());
    proc.ownQueues(this::ownQueues);
    this.book = new RuleBook(name, options, res.rules(), proc, res.ns());
    this.ledger = new HostLedger(options, book, proc);
    this.binder = new QueueBinder(res.ns(), options, config);
    this.ingress =
        capabilities.contains(Capability.EXACT_INBOUND_INTERFACE)
            ? new IngressPath(res.ns(), name, number)
            : null;
    this.services =
        new SocketServices(
            res.ifaces(),
            res.raw(),
            res.jumboTap(),
            new IpIds(),
            proc,
            new Arming(),
            res.rules().marks(),
            ingress);
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
    HostConfig config = HostConfig.of(options);
    HostResources res = HostResources.open(config, options.segmentOffload());
    KernelHost host = null;
    try {
      host = new KernelHost(backend, capabilities, options, config, res);
      if (!config.overlapProceed()) {
        List<MarkOverlap.Use> uses;
        try {
          uses = res.rules().foreignMarkUses(res.ns());
        } catch (IOException e) {
          throw new DivertException("cannot read the namespace's rules: " + e.getMessage(), 0, e);
        }
        MarkOverlap.check(uses, config.marks(), config.label());
      }
      host.book.init();
      IngressPath.removeDead(res.ns().nsPath());
      if (options.fragments() == FragmentMode.PER_FRAGMENT) {
        new FragmentProbe(res.ns(), res.ifaces(), res.rules(), host.proc)
            .check(host.name, config.label());
      }
      host.bean = StatsBeans.registerHost(host);
      return host;
    } catch (DivertException | RuntimeException | Error e) {
      if (host != null) {
        host.closeQuietly();
      } else {
        res.close();
      }
      throw e;
    }
  }

  /**
   * The NFQUEUE queues this host's open sockets have bound (port .. port + parallelism - 1), and,
   * negated as {@link NamespaceCounters#bound} holds them, the nfnetlink_log groups of its open
   * sniffers: without them a service that cannot read {@code /proc/net/netfilter} would arm a new
   * sniffer's port chain as if nobody listened there, and its traffic would go the no-listener way.
   */
  private Set<Integer> ownQueues() {
    Set<Integer> q = new java.util.HashSet<>();
    for (KernelSocket s : sockets.values()) {
      if (s.isOpen()) {
        for (int i = 0; i < options.parallelism(); i++) {
          q.add(s.port() + i);
        }
      }
    }
    for (SnifferSocket s : sniffers.values()) {
      if (s.isOpen()) {
        q.add(-s.port());
      }
    }
    return q;
  }

  /** The rule lines of a port as its socket sees them. */
  private final class Arming implements PortArming {
    @Override
    public long disarm(int port, int queues) {
      return book.disarm(port, queues);
    }

    @Override
    public long noListenerDrops(int port) {
      return book.noListenerDrops(port);
    }

    @Override
    public long queuedPackets(int port) {
      return book.queuedPackets(port);
    }

    @Override
    public java.util.Map<String, Long> queueLines(int port) {
      return book.queueLines(port);
    }

    @Override
    public void closed(KernelSocket s) {
      sockets.remove(s.port(), s);
      StatsBeans.Registration r = socketBeans.remove(s);
      if (r != null) {
        r.close();
      }
      if (book.isOpen()) {
        try {
          book.sync(s.port());
        } catch (IOException | RuntimeException e) {
          // the next rule change or open re-arms; with DROP the queue is gone, so packets drop
        }
      }
    }
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
      return res.ifaces().refresh().list();
    } catch (ErrnoException e) {
      throw Errors.generic("cannot read the interfaces", e);
    }
  }

  /** Whether IPv6 rules can be installed: the provider declares IPV6 and ip6tables is present. */
  private boolean ipv6() {
    return capabilities.contains(Capability.IPV6) && res.rules().ipv6();
  }

  @Override
  public InstalledRule addRule(DivertRule rule) throws DivertException {
    java.util.Objects.requireNonNull(rule, "rule");
    checkOpen();
    RuleFamilies.check(rule, ipv6(), "rawsocket");
    flow.check(rule);
    RuleMatch.filterMatches(rule); // S66: a filter this backend cannot hold fails here, unchanged
    flow.note(rule);
    return book.install(rule, -1);
  }

  @Override
  public InstalledRule insertRule(int index, DivertRule rule) throws DivertException {
    java.util.Objects.requireNonNull(rule, "rule");
    int n = book.count(rule.chain());
    if (index < 0 || index > n) {
      throw new IndexOutOfBoundsException(
          "index " + index + " of " + n + " rules in chain " + rule.chain().keyword());
    }
    checkOpen();
    RuleFamilies.check(rule, ipv6(), "rawsocket");
    flow.check(rule);
    RuleMatch.filterMatches(rule); // S66
    flow.note(rule);
    return book.install(rule, index);
  }

  @Override
  public List<InstalledRule> rules() {
    return book.list();
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
    if (existing != null || sniffers.containsKey(port)) {
      throw new PortInUseException(port, 0);
    }
    NfqChannel[] channels = binder.bind(port);
    KernelSocket s = new KernelSocket(this, port, channels, options, services);
    if (sockets.putIfAbsent(port, s) != null) {
      s.close();
      throw new PortInUseException(port, 0);
    }
    try {
      book.sync(port);
      if (options.failOpen()) {
        s.setQueuedBaseline(book.queuedPackets(port));
      }
      s.armed();
    } catch (IOException e) {
      s.close();
      throw new DivertException(
          "cannot arm the rules of port " + port + ": " + e.getMessage(), 0, e);
    }
    if (bean != null) {
      socketBeans.put(s, StatsBeans.registerSocket(bean, this, s));
    }
    return s;
  }

  /** NFQA_TIMESTAMP is the skb's receive time, {@code ktime_get_real} (wall clock). */
  @Override
  public org.divert4j.TimestampClock timestampClock() {
    return org.divert4j.TimestampClock.REALTIME;
  }

  /**
   * Binds a sniffer (S71): an nfnetlink_log group numbered as the port, then the port's chains are
   * re-armed with NFLOG lines ({@link RuleBook#sync}).
   */
  @Override
  public DivertSocket bindSniffer(int port) throws DivertException {
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("divert port must be 1..65535: " + port);
    }
    checkOpen();
    if (sockets.containsKey(port) || sniffers.containsKey(port)) {
      throw new PortInUseException(port, 0);
    }
    NfqChannel ch = binder.bindLog(port);
    SnifferSocket[] self = new SnifferSocket[1];
    SnifferSocket s =
        new SnifferSocket(this, port, ch, options, services, () -> snifferClosed(self[0]));
    self[0] = s;
    if (sniffers.putIfAbsent(port, s) != null) {
      s.close();
      throw new PortInUseException(port, 0);
    }
    try {
      book.sync(port);
    } catch (IOException e) {
      s.close();
      throw new DivertException(
          "cannot arm the rules of sniffer port " + port + ": " + e.getMessage(), 0, e);
    }
    if (bean != null) {
      socketBeans.put(s, StatsBeans.registerSocket(bean, this, s));
    }
    return s;
  }

  private void snifferClosed(SnifferSocket s) {
    sniffers.remove(s.port(), s);
    StatsBeans.Registration r = socketBeans.remove(s);
    if (r != null) {
      r.close();
    }
    if (book.isOpen()) {
      try {
        book.sync(s.port()); // the group is gone: the no-listener lines again
      } catch (IOException | RuntimeException e) {
        // the next rule change or open re-arms; meanwhile NFLOG copies nothing and packets go on
      }
    }
  }

  @Override
  public HostStats stats() {
    HostStats f = finalStats;
    if (f != null) {
      return f;
    }
    return ledger.stats();
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
    HostStats last = ledger.stats();
    open = false;
    book.close();
    for (KernelSocket s : new ArrayList<>(sockets.values())) {
      s.close();
    }
    for (SnifferSocket s : new ArrayList<>(sniffers.values())) {
      s.close();
    }
    reaper.shutdownNow();
    IOException failure = null;
    try {
      book.uninstall();
    } catch (IOException e) {
      failure = e;
    }
    if (failure == null) {
      flow.restore();
    }
    finalStats = last;
    if (ingress != null) {
      ingress.close();
    }
    res.close();
    if (bean != null) {
      bean.close();
    }
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
