package org.divert4j.rawsocket.internal;

import java.io.IOException;
import java.net.Inet4Address;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.divert4j.BackendUnavailableException;
import org.divert4j.Capability;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.Ipv4;
import org.divert4j.NetInterface;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.TestNode;
import org.divert4j.testbed.linux.Netns;
import org.divert4j.testbed.linux.Shell;
import org.divert4j.testbed.linux.VethPair;

/**
 * The kernel backend's test bed: network namespaces joined by veth pairs.
 *
 * <pre>
 *   peer [eth0] 10.a.b.1/24 --- 10.a.b.2/24 [eth0] host [eth1] 10.a.b+1.2/24 --- 10.a.b+1.1/24 [eth0] far
 * </pre>
 *
 * Namespaces are named {@code d4j-<pid>-<n>-peer|host|far}; the subnets depend on the process id
 * and a counter, so concurrent test beds never share addresses (they could not clash anyway: each
 * bed is its own set of namespaces). The host forwards when there is a far peer; rp_filter is off;
 * the peers route everything through the host. The host under diversion is the host namespace
 * ({@code rawsocket.netns}). {@link #close()} closes the hosts and deletes the namespaces (their
 * veths and rules go with them); a JVM shutdown hook does it if the test never does.
 */
public final class KernelTestBed implements TestBed {
  private static final AtomicInteger COUNTER = new AtomicInteger();

  private final String backend;
  private final Set<Capability> capabilities;
  private final TestBedOptions options;
  private final List<Netns> namespaces = new ArrayList<>();
  private final List<DivertHost> hosts = new ArrayList<>();
  private KernelTestNode peer;
  private KernelTestNode hostNode;
  private KernelTestNode far;
  private DivertHost host;
  private boolean closed;

  private KernelTestBed(String backend, Set<Capability> capabilities, TestBedOptions options) {
    this.backend = backend;
    this.capabilities = capabilities;
    this.options = options;
  }

  /**
   * Builds a test bed.
   *
   * @param backend the provider name
   * @param capabilities the provider's capabilities
   * @param options the options
   * @return the test bed
   * @throws DivertException if it cannot be built; everything made so far is removed
   */
  public static KernelTestBed open(
      String backend, Set<Capability> capabilities, TestBedOptions options) throws DivertException {
    if (!Shell.isRoot()) {
      throw new BackendUnavailableException(
          "the rawsocket test bed needs root (network namespaces, CAP_NET_ADMIN, CAP_NET_RAW)",
          null);
    }
    if (Shell.which("ip").isEmpty()) {
      throw new BackendUnavailableException(
          "the rawsocket test bed needs the ip program (iproute2)", null);
    }
    Netns.deleteOrphans();
    KernelTestBed bed = new KernelTestBed(backend, capabilities, options);
    try {
      bed.build();
      return bed;
    } catch (DivertException | RuntimeException | Error e) {
      bed.close();
      throw e;
    } catch (IOException e) {
      bed.close();
      throw new DivertException("cannot build the test bed: " + e.getMessage(), 0, e);
    }
  }

  private void build() throws IOException, DivertException {
    long pid = ProcessHandle.current().pid();
    int n = COUNTER.incrementAndGet();
    int a = 64 + (int) (pid % 128);
    int b = (int) ((pid / 128 * 16 + n * 2) % 254);
    int netA = (10 << 24) | (a << 16) | (b << 8);
    int netB = netA + 256;
    Netns peerNs = Netns.create(Netns.uniqueName("peer"));
    namespaces.add(peerNs);
    Netns hostNs = Netns.create(Netns.uniqueName("host"));
    namespaces.add(hostNs);
    Netns farNs = null;
    if (options.farPeer()) {
      farNs = Netns.create(Netns.uniqueName("far"));
      namespaces.add(farNs);
    }
    for (Netns ns : namespaces) {
      ns.sysctl("net.ipv4.conf.all.rp_filter", "0");
      ns.sysctl("net.ipv4.conf.default.rp_filter", "0");
    }
    VethPair linkA = VethPair.create(peerNs, "eth0", hostNs, "eth0", options.peerMtu());
    linkA.a().addAddress(Ipv4.toString(netA + 1) + "/24");
    linkA.b().addAddress(Ipv4.toString(netA + 2) + "/24");
    peerNs.ip("route", "add", "default", "via", Ipv4.toString(netA + 2));
    VethPair linkB = null;
    if (farNs != null) {
      linkB = VethPair.create(hostNs, "eth1", farNs, "eth0", options.farPeerMtu());
      linkB.a().addAddress(Ipv4.toString(netB + 2) + "/24");
      linkB.b().addAddress(Ipv4.toString(netB + 1) + "/24");
      farNs.ip("route", "add", "default", "via", Ipv4.toString(netB + 2));
      hostNs.sysctl("net.ipv4.ip_forward", "1");
    }
    for (Netns ns : namespaces) {
      ns.sysctl("net.ipv4.conf.eth0.rp_filter", "0");
    }
    if (farNs != null) {
      hostNs.sysctl("net.ipv4.conf.eth1.rp_filter", "0");
    }
    HostOptions ho = options.host();
    if (ho.fragments() == FragmentMode.ALWAYS_DEFRAGMENT) {
      long secs = Math.max(1, (ho.reassemblyTimeout().toMillis() + 999) / 1000);
      hostNs.sysctl("net.ipv4.ipfrag_time", Long.toString(secs));
      // low <= high is enforced on every write, so lower "low" first when shrinking
      long high = Math.max(65536, ho.reassemblyMemory());
      long low = high * 3 / 4;
      long currentHigh = Long.parseLong(hostNs.sysctl("net.ipv4.ipfrag_high_thresh"));
      if (high < currentHigh) {
        hostNs.sysctl("net.ipv4.ipfrag_low_thresh", Long.toString(low));
        hostNs.sysctl("net.ipv4.ipfrag_high_thresh", Long.toString(high));
      } else {
        hostNs.sysctl("net.ipv4.ipfrag_high_thresh", Long.toString(high));
        hostNs.sysctl("net.ipv4.ipfrag_low_thresh", Long.toString(low));
      }
    }
    peer =
        new KernelTestNode(
            "peer",
            peerNs,
            Ipv4.fromInt(netA + 1),
            List.of(link(linkA.a(), netA + 1, options.peerMtu(), linkA.b())));
    List<KernelTestNode.Link> hostLinks = new ArrayList<>();
    hostLinks.add(link(linkA.b(), netA + 2, options.peerMtu(), linkA.a()));
    if (linkB != null) {
      hostLinks.add(link(linkB.a(), netB + 2, options.farPeerMtu(), linkB.b()));
    }
    hostNode = new KernelTestNode("host", hostNs, Ipv4.fromInt(netA + 2), hostLinks);
    if (linkB != null) {
      far =
          new KernelTestNode(
              "far",
              farNs,
              Ipv4.fromInt(netB + 1),
              List.of(link(linkB.b(), netB + 1, options.farPeerMtu(), linkB.a())));
    }
    host = openHost(ho);
  }

  private static KernelTestNode.Link link(
      VethPair.End end, int address, int mtu, VethPair.End other) throws IOException {
    NetInterface i = new NetInterface(end.name(), end.index(), Ipv4.fromInt(address), 24, mtu);
    return new KernelTestNode.Link(i, address & 0xffffff00, 24, other.mac());
  }

  private DivertHost openHost(HostOptions o) throws DivertException {
    HostOptions withNs = o.toBuilder().property("rawsocket.netns", hostNode.netns().name()).build();
    DivertHost h = KernelHost.open(backend, capabilities, withNs);
    synchronized (hosts) {
      hosts.add(h);
    }
    return h;
  }

  @Override
  public String backend() {
    return backend;
  }

  @Override
  public TestBedOptions options() {
    return options;
  }

  @Override
  public DivertHost host() {
    return host;
  }

  @Override
  public TestNode hostNode() {
    return hostNode;
  }

  @Override
  public TestNode peer() {
    return peer;
  }

  @Override
  public Optional<TestNode> farPeer() {
    return Optional.ofNullable(far);
  }

  @Override
  public Set<Capability> capabilities() {
    return capabilities;
  }

  @Override
  public Duration settleTime() {
    return Duration.ofMillis(250);
  }

  @Override
  public void advance(Duration duration) throws InterruptedException {
    if (!duration.isNegative() && !duration.isZero()) {
      Thread.sleep(duration.toMillis(), (int) (duration.toNanosPart() % 1_000_000));
    }
  }

  @Override
  public DivertHost openAnotherHost(HostOptions o) throws DivertException {
    return openHost(o);
  }

  /**
   * Opens the host from a thread that dropped CAP_NET_ADMIN and CAP_NET_RAW from its effective set
   * (capabilities are per thread on Linux; the rest of the JVM keeps them).
   */
  @Override
  public DivertHost openUnprivileged(HostOptions o) throws DivertException {
    HostOptions withNs = o.toBuilder().property("rawsocket.netns", hostNode.netns().name()).build();
    AtomicReference<Object> result = new AtomicReference<>();
    Thread t =
        new Thread(
            () -> {
              try {
                Native.dropEffectiveCapabilities(Native.CAP_NET_ADMIN, Native.CAP_NET_RAW);
                result.set(KernelHost.open(backend, capabilities, withNs));
              } catch (Throwable e) {
                result.set(e);
              }
            },
            "d4j-unprivileged");
    t.start();
    try {
      t.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DivertException("interrupted");
    }
    Object r = result.get();
    if (r instanceof DivertHost h) {
      synchronized (hosts) {
        hosts.add(h);
      }
      return h;
    }
    if (r instanceof DivertException e) {
      throw e;
    }
    if (r instanceof ErrnoException e) {
      throw Errors.generic("cannot drop capabilities", e);
    }
    if (r instanceof RuntimeException e) {
      throw e;
    }
    throw new DivertException("unprivileged open failed: " + r, 0, (Throwable) r);
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    List<DivertHost> hs;
    synchronized (hosts) {
      hs = new ArrayList<>(hosts);
      hosts.clear();
    }
    for (DivertHost h : hs) {
      try {
        h.close();
      } catch (Exception e) {
        // the namespaces go anyway, and their rules with them
      }
    }
    for (KernelTestNode n : new KernelTestNode[] {peer, hostNode, far}) {
      if (n != null) {
        n.close();
      }
    }
    for (Netns ns : namespaces) {
      ns.close();
    }
    namespaces.clear();
  }

  @Override
  public String toString() {
    return "rawsocket test bed "
        + (namespaces.isEmpty() ? "(closed)" : namespaces.get(0).name().replace("-peer", ""));
  }

  static String address(Inet4Address a) {
    return a.getHostAddress();
  }
}
