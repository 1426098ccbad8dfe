package org.divert4j.linux.testbed;

import java.io.IOException;
import java.net.Inet4Address;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.divert4j.BackendUnavailableException;
import org.divert4j.Capability;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.NetInterface;
import org.divert4j.linux.Datagrams;
import org.divert4j.linux.Shell;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.TestNode;

/**
 * The skeleton of a test bed made of Linux network namespaces: what every backend's namespace test
 * bed shares, so that a backend only lays out its topology in {@link #build()} and opens its hosts.
 *
 * <ul>
 *   <li>Lifecycle: {@link #open} checks the machine, builds, and on any failure removes everything
 *       made so far. {@link #close()} closes, in this order, the host handles ({@link #trackHost}),
 *       the backend's other resources ({@link #trackResource}), the nodes, and the namespaces
 *       (their veths, addresses, routes and firewall rules go with them). A JVM shutdown hook
 *       deletes namespaces a test never closed ({@link Netns}).
 *   <li>Naming: namespaces are {@code d4j-<pid>-<n>-<role>} ({@link Netns#uniqueName}), so
 *       concurrent test beds of any process never collide, and namespaces left by a killed JVM are
 *       deleted by the next test bed ({@link Netns#deleteOrphans()}); each test bed has its own
 *       pair of /24 subnets ({@link #subnet(int)}), which makes captures easy to tell apart.
 *   <li>Nodes: {@link NamespaceNode}s on the floor's system calls ({@link Datagrams}).
 * </ul>
 *
 * <p>Thread-safe once {@link #open} returned: the getters are plain reads, {@link #close()} is
 * synchronized and idempotent and never throws. Time is real: {@link #advance} sleeps.
 */
public abstract class NamespaceTestBed implements TestBed {
  private static final AtomicInteger COUNTER = new AtomicInteger();

  private final String backend;
  private final Set<Capability> capabilities;
  private final TestBedOptions options;
  private final Duration settleTime;
  private final int subnets;
  private final List<Netns> namespaces = new ArrayList<>();
  private final List<NamespaceNode> nodes = new ArrayList<>();
  private final List<AutoCloseable> resources = new ArrayList<>();
  private final List<DivertHost> hosts = new ArrayList<>();
  private volatile DivertHost host;
  private volatile NamespaceNode peer;
  private volatile NamespaceNode hostNode;
  private volatile NamespaceNode farPeer;
  private boolean closed;

  /**
   * @param backend the provider name
   * @param capabilities the capabilities of the backend's hosts
   * @param options the options to build with
   * @param settleTime how long to wait to be confident that something does not happen
   */
  protected NamespaceTestBed(
      String backend, Set<Capability> capabilities, TestBedOptions options, Duration settleTime) {
    this.backend = Objects.requireNonNull(backend, "backend");
    this.capabilities = Set.copyOf(capabilities);
    this.options = Objects.requireNonNull(options, "options");
    this.settleTime = Objects.requireNonNull(settleTime, "settleTime");
    long pid = ProcessHandle.current().pid();
    int n = COUNTER.incrementAndGet();
    int a = 64 + (int) (pid % 128);
    int b = (int) ((pid / 128 * 16 + n * 2L) % 254);
    this.subnets = (10 << 24) | (a << 16) | (b << 8);
  }

  /**
   * Checks that this machine can run namespace test beds: root, {@code ip} (iproute2) and {@code
   * nsenter} (util-linux). Blocks briefly (reads {@code /proc}, looks at the PATH).
   *
   * @param backend the provider name, for the message
   * @throws BackendUnavailableException naming what is missing
   */
  public static void requireUsable(String backend) throws BackendUnavailableException {
    if (NamespaceBrokerClient.configured()) {
      return; // a broker, running as root, builds the namespaces (NamespaceBrokerClient)
    }
    if (!Shell.isRoot()) {
      throw new BackendUnavailableException(
          "the " + backend + " test bed needs root (it creates network namespaces and veth pairs)",
          null);
    }
    List<String> missing = new ArrayList<>();
    if (Shell.which("ip").isEmpty()) {
      missing.add("ip (iproute2)");
    }
    if (Shell.which("nsenter").isEmpty()) {
      missing.add("nsenter (util-linux)");
    }
    if (!missing.isEmpty()) {
      throw new BackendUnavailableException(
          "the " + backend + " test bed needs the programs " + String.join(" and ", missing), null);
    }
  }

  /**
   * Checks the machine ({@link #requireUsable}), deletes namespaces of dead processes, and builds
   * the test bed; if anything fails, closes what was made. Blocks while building (seconds).
   *
   * @param bed a new, unbuilt test bed
   * @param <B> its type
   * @return the test bed, built; the caller closes it
   * @throws BackendUnavailableException if the machine cannot run it
   * @throws DivertException if building fails (an {@link IOException} is wrapped)
   */
  protected static <B extends NamespaceTestBed> B open(B bed) throws DivertException {
    requireUsable(bed.backend());
    if (!NamespaceBrokerClient.configured()) {
      Netns.deleteOrphans(); // a broker deletes the orphans of its own clients
    }
    try {
      bed.build();
      if (bed.host() == null || bed.peer() == null || bed.hostNode() == null) {
        throw new IllegalStateException("build() must set the host, the peer and the host node");
      }
      return bed;
    } catch (DivertException | RuntimeException | Error e) {
      bed.close();
      throw e;
    } catch (IOException e) {
      bed.close();
      throw new DivertException(
          "cannot build the " + bed.backend() + " test bed: " + e.getMessage(), 0, e);
    }
  }

  /**
   * Lays out the namespaces, links and nodes, and opens the host; called once by {@link #open}.
   * Everything made through the {@code track}/{@code new} methods here is removed by {@link
   * #close()}, also when this throws.
   *
   * @throws IOException if a command or a system call fails
   * @throws DivertException if the host cannot be opened
   */
  protected abstract void build() throws IOException, DivertException;

  /**
   * Creates a namespace named {@code d4j-<pid>-<n>-<role>}, loopback up; removed by {@link
   * #close()}. Blocks while {@code ip} runs.
   *
   * @param role a short word, e.g. {@code peer}
   * @return the namespace
   * @throws IOException if it cannot be created
   */
  protected final Netns newNamespace(String role) throws IOException {
    NamespaceBrokerClient broker = NamespaceBrokerClient.fromSystem();
    Netns ns = broker == null ? Netns.create(Netns.uniqueName(role)) : broker.create(role);
    synchronized (this) {
      namespaces.add(ns);
    }
    return ns;
  }

  /**
   * The namespace of the host under diversion: a new one ({@link #newNamespace}), or, when a {@link
   * NamespaceBrokerClient broker} builds the test bed, the namespace this JVM runs in (the backend
   * then opens its hosts in its own namespace and never enters another, which needs CAP_SYS_ADMIN).
   * {@link #close()} then has the broker undo what it configured there (veths, sysctls) instead of
   * deleting it; everything else a test leaves there (rules, sockets) is the backend's to remove on
   * close, as on any host.
   *
   * @param role a short word, e.g. {@code host}
   * @return the namespace
   * @throws IOException if it cannot be created or reached
   */
  protected final Netns newHostNamespace(String role) throws IOException {
    NamespaceBrokerClient broker = NamespaceBrokerClient.fromSystem();
    if (broker == null) {
      return newNamespace(role);
    }
    Netns ns = broker.self();
    synchronized (this) {
      namespaces.add(ns);
    }
    return ns;
  }

  /**
   * Makes a node of a namespace; closed by {@link #close()}. Blocks until the node's thread is in
   * the namespace.
   *
   * @param name its name, e.g. {@code peer}
   * @param netns its namespace
   * @param address its address on its first link
   * @param links its links, the first one the way of its default route
   * @return the node
   * @throws IOException if its thread cannot enter the namespace
   */
  protected final NamespaceNode newNode(
      String name, Netns netns, Inet4Address address, List<NamespaceNode.Link> links)
      throws IOException {
    return newNode(name, netns, address, links, null);
  }

  /**
   * Makes a node that reports other interfaces than its links' (see {@link
   * NamespaceNode#NamespaceNode(String, Netns, Inet4Address, List, List)}), owned by this test bed.
   *
   * @param name a short name
   * @param netns its namespace
   * @param address its address on its first link
   * @param links its interfaces
   * @param interfaces what the node's {@code interfaces()} reports, or null for the links'
   * @return the node
   * @throws IOException if the namespace cannot be entered
   */
  protected final NamespaceNode newNode(
      String name,
      Netns netns,
      Inet4Address address,
      List<NamespaceNode.Link> links,
      List<NetInterface> interfaces)
      throws IOException {
    NamespaceNode n = new NamespaceNode(name, netns, address, links, interfaces);
    synchronized (this) {
      nodes.add(n);
    }
    return n;
  }

  /**
   * The {@code i}-th /24 network of this test bed, unique among the test beds of this JVM.
   *
   * @param i 0 or 1
   * @return the network address, host order (the last byte 0)
   */
  /**
   * The IPv6 address a test bed gives the interface that has IPv4 address {@code 10.A.B.N}: {@code
   * fd00:X::N}, X being the 16 bits A.B and N the last byte, both in hex (so 10.0.1.2 is fd00:1::2,
   * and 10.151.106.2 is fd00:976a::2).
   *
   * @param ipv4 the IPv4 address, host order
   * @return the IPv6 address
   */
  public static java.net.Inet6Address ipv6Of(int ipv4) {
    return org.divert4j.Ipv6Addresses.parse(
        "fd00:"
            + Integer.toHexString((ipv4 >>> 8) & 0xffff)
            + "::"
            + Integer.toHexString(ipv4 & 0xff));
  }

  /**
   * @param ipv4 an IPv4 address, host order
   * @return its IPv6 counterpart ({@link #ipv6Of}) with prefix length 64, as text
   */
  public static String ipv6Cidr(int ipv4) {
    return org.divert4j.Ipv6Addresses.toText(ipv6Of(ipv4)) + "/64";
  }

  /**
   * Makes IPv6 quiet in a namespace before its interfaces are made, so that the kernel sends only
   * what the tests cause (ip-sysctl.rst): no duplicate address detection ({@code accept_dad} 0: the
   * link-local addresses are usable at once, no neighbour solicitations for DAD), no router
   * solicitations ({@code router_solicitations} 0), and the unsolicited MLD reports that joining
   * the solicited-node groups sends, repeated at a 1 ms interval instead of 1 s, so they are all
   * sent while the test bed is built rather than during a test ({@code
   * mldv1/mldv2_unsolicited_report_interval}, in milliseconds).
   *
   * @param ns the namespace
   * @throws IOException if sysctl fails
   */
  protected static void quietIpv6(Netns ns) throws IOException {
    for (String scope : List.of("all", "default")) {
      ns.sysctl("net.ipv6.conf." + scope + ".accept_dad", "0");
      ns.sysctl("net.ipv6.conf." + scope + ".router_solicitations", "0");
      ns.sysctl("net.ipv6.conf." + scope + ".mldv1_unsolicited_report_interval", "1");
      ns.sysctl("net.ipv6.conf." + scope + ".mldv2_unsolicited_report_interval", "1");
    }
  }

  protected final int subnet(int i) {
    if (i < 0 || i > 1) {
      throw new IllegalArgumentException("a test bed has subnets 0 and 1: " + i);
    }
    return subnets + (i << 8);
  }

  /**
   * Sets the nodes; call from {@link #build()}.
   *
   * @param peer the peer on link A
   * @param hostNode the host's own stack
   * @param farPeer the far peer, or null
   */
  protected final void setNodes(NamespaceNode peer, NamespaceNode hostNode, NamespaceNode farPeer) {
    this.peer = Objects.requireNonNull(peer, "peer");
    this.hostNode = Objects.requireNonNull(hostNode, "hostNode");
    this.farPeer = farPeer;
  }

  /**
   * Sets the host under diversion; call from {@link #build()}. It is tracked like {@link
   * #trackHost}.
   *
   * @param host the host
   */
  protected final void setHost(DivertHost host) {
    this.host = trackHost(host);
  }

  /**
   * Has {@link #close()} close a host handle (first, before anything else goes).
   *
   * @param h the handle
   * @param <H> its type
   * @return {@code h}
   */
  protected final synchronized <H extends DivertHost> H trackHost(H h) {
    hosts.add(Objects.requireNonNull(h, "host"));
    return h;
  }

  /**
   * Has {@link #close()} close something of the backend's after the hosts and before the nodes.
   *
   * @param c the resource
   * @param <C> its type
   * @return {@code c}
   */
  protected final synchronized <C extends AutoCloseable> C trackResource(C c) {
    resources.add(Objects.requireNonNull(c, "resource"));
    return c;
  }

  @Override
  public final String backend() {
    return backend;
  }

  @Override
  public final TestBedOptions options() {
    return options;
  }

  @Override
  public final DivertHost host() {
    return host;
  }

  @Override
  public final NamespaceNode hostNode() {
    return hostNode;
  }

  @Override
  public final NamespaceNode peer() {
    return peer;
  }

  @Override
  public final Optional<TestNode> farPeer() {
    return Optional.ofNullable(farPeer);
  }

  @Override
  public final Set<Capability> capabilities() {
    return capabilities;
  }

  @Override
  public final Duration settleTime() {
    return settleTime;
  }

  /** Sleeps: a namespace test bed runs on the kernel's real clock. */
  @Override
  public final void advance(Duration duration) throws InterruptedException {
    if (!duration.isNegative() && !duration.isZero()) {
      Thread.sleep(duration.toMillis(), duration.toNanosPart() % 1_000_000);
    }
  }

  /**
   * Removes everything the test bed made: host handles, the backend's resources, nodes, then the
   * namespaces. Idempotent; never throws; blocks while namespaces are deleted.
   */
  @Override
  public final synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (DivertHost h : hosts) {
      closeQuietly(h); // the namespaces go anyway, and their rules with them
    }
    hosts.clear();
    for (AutoCloseable c : resources) {
      closeQuietly(c);
    }
    resources.clear();
    for (NamespaceNode n : nodes) {
      n.close();
    }
    nodes.clear();
    for (Netns ns : namespaces) {
      ns.close();
    }
  }

  private static void closeQuietly(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception | LinkageError e) {
      // cleaning up: what remains goes with the namespaces
    }
  }

  @Override
  public synchronized String toString() {
    String name = namespaces.isEmpty() ? "" : namespaces.get(0).name();
    int dash = name.lastIndexOf('-');
    return backend
        + " test bed "
        + (dash > 0 ? name.substring(0, dash) : name)
        + (closed ? " (closed)" : "");
  }
}
