package org.divert4j.pcap.internal;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.divert4j.BackendUnavailableException;
import org.divert4j.Capability;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.HostOptions;
import org.divert4j.Ipv4;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.TestNode;
import org.divert4j.testbed.linux.Netns;
import org.divert4j.testbed.linux.Shell;
import org.divert4j.testbed.linux.VethPair;

/**
 * The pcap backend's test bed: three network namespaces joined by two veth pairs, with the backend
 * inline in the middle one.
 *
 * <pre>
 *   peer [eth0 10.A.B.1/24] ==veth== [out0] bridge [in0] ==veth== [eth0 10.A.B.2/24] host
 *                                      \__ pcap inline segment __/
 * </pre>
 *
 * Both links have the test's MTU ({@link TestBedOptions#peerMtu()}). The bridge namespace has no
 * addresses and does not forward; IPv6 is off everywhere (no neighbour discovery noise); the nodes
 * send with DF clear ({@code ip_no_pmtu_disc=1}, as the TestNode contract says) and with checksum
 * and segmentation offloads off (a veth would otherwise hand the capture partial checksums and
 * super-packets). Peer and host know each other's MAC address in advance (permanent neighbour
 * entries), so that a test's first packets are not held in an ARP queue and released in a burst.
 * Namespace names are {@code d4jp-<pid>-<n>-<role>} and the subnet 10.A.B.0/24 is unique per test
 * bed of a JVM. {@link #close()} removes the namespaces, and with them the veth pairs, whatever
 * happened; a JVM shutdown hook ({@link Netns}) removes any left open.
 *
 * <p>No far peer (the segment does not route: no FORWARD). Another program cannot share the host's
 * rules (no SHARED_RULES), so {@link #openAnotherHost} is unsupported. Closing {@link #host()}
 * leaves the segment forwarding with no rules, as the kernel does after a divert program exits.
 */
final class NamespaceTestBed implements TestBed {
  private static final AtomicInteger COUNTER = new AtomicInteger();
  private static final Duration SETTLE = Duration.ofMillis(200);

  private final TestBedOptions options;
  private final List<Netns> namespaces;
  private final List<NamespaceNode> nodes = new ArrayList<>();
  private final List<DivertHost> others = new ArrayList<>();
  private final HostOptions deviceOptions;
  private final HostConfig config;
  private InlineSegment segment;
  private DivertHost host;
  private NamespaceNode peer;
  private NamespaceNode hostNode;
  private boolean closed;

  private NamespaceTestBed(TestBedOptions options, List<Netns> namespaces, HostOptions device)
      throws DivertException {
    this.options = options;
    this.namespaces = namespaces;
    this.deviceOptions = device;
    this.config = HostConfig.parse(device);
  }

  /**
   * Builds a test bed.
   *
   * @param o the options
   * @return the test bed
   * @throws BackendUnavailableException if not root or {@code ip} is missing
   * @throws DivertException if building it fails (everything made so far is removed)
   */
  static NamespaceTestBed create(TestBedOptions o) throws DivertException {
    if (!Shell.isRoot()) {
      throw new BackendUnavailableException(
          "the pcap test bed needs root (it creates network namespaces)", null);
    }
    if (Shell.which("ip").isEmpty() || Shell.which("nsenter").isEmpty()) {
      throw new BackendUnavailableException(
          "the pcap test bed needs the ip (iproute2) and nsenter (util-linux) programs", null);
    }
    int n = COUNTER.incrementAndGet();
    String prefix = "d4jp-" + ProcessHandle.current().pid() + "-" + n + "-";
    int a = 100 + (int) (ProcessHandle.current().pid() % 150);
    int b = 1 + (n - 1) % 250;
    int subnet = (10 << 24) | (a << 16) | (b << 8);
    String peerAddr = Ipv4.toString(subnet | 1);
    String hostAddr = Ipv4.toString(subnet | 2);
    List<Netns> made = new ArrayList<>();
    NamespaceTestBed bed = null;
    try {
      Netns peerNs = make(made, prefix + "peer");
      Netns bridgeNs = make(made, prefix + "bridge");
      Netns hostNs = make(made, prefix + "host");
      for (Netns ns : made) {
        ns.sysctl("net.ipv6.conf.all.disable_ipv6", "1");
        ns.sysctl("net.ipv6.conf.default.disable_ipv6", "1");
      }
      peerNs.sysctl("net.ipv4.ip_no_pmtu_disc", "1");
      hostNs.sysctl("net.ipv4.ip_no_pmtu_disc", "1");
      bridgeNs.sysctl("net.ipv4.ip_forward", "0");
      VethPair left = VethPair.create(peerNs, "eth0", bridgeNs, "out0", o.peerMtu());
      VethPair right = VethPair.create(bridgeNs, "in0", hostNs, "eth0", o.peerMtu());
      left.a().addAddress(peerAddr + "/24");
      right.b().addAddress(hostAddr + "/24");
      // Static neighbours: a test's first packets are not held in an ARP queue and then released
      // in a burst (which races with the test's next step). ARP still passes the segment
      // untouched when a program flushes these entries.
      peerNs.ip(
          "neigh",
          "replace",
          hostAddr,
          "lladdr",
          mac(right.b()),
          "dev",
          "eth0",
          "nud",
          "permanent");
      hostNs.ip(
          "neigh", "replace", peerAddr, "lladdr", mac(left.a()), "dev", "eth0", "nud", "permanent");
      HostOptions device =
          o.host().toBuilder()
              .property(HostConfig.NETNS, bridgeNs.name())
              .property(HostConfig.OUTSIDE, "out0")
              .property(HostConfig.INSIDE, "in0")
              .property(HostConfig.ADDRESS, hostAddr + "/24")
              .property(HostConfig.ROUTES, Ipv4.toString(subnet) + "/24")
              .property(HostConfig.BUFFER, Integer.toString(4 << 20))
              .property(HostConfig.HANDOFF, Integer.toString(2 << 20))
              .build();
      bed = new NamespaceTestBed(o, made, device);
      bed.peer = new NamespaceNode("peer", peerNs, "eth0", Ipv4.parse(peerAddr), 24);
      bed.nodes.add(bed.peer);
      bed.hostNode = new NamespaceNode("host", hostNs, "eth0", Ipv4.parse(hostAddr), 24);
      bed.nodes.add(bed.hostNode);
      offloadsOff(bed.peer.thread(), "eth0", true);
      offloadsOff(bed.hostNode.thread(), "eth0", true);
      try (NetnsThread t = NetnsThread.start(bridgeNs.path().toString(), false)) {
        offloadsOff(t, "out0", false);
        offloadsOff(t, "in0", false);
      }
      String name = PcapBackend.hostName(bed.config);
      bed.segment = InlineSegment.open(name, device, bed.config, false);
      bed.host = bed.segment.openHost(o.host(), false);
      return bed;
    } catch (DivertException e) {
      cleanUp(bed, made);
      throw e;
    } catch (IOException | RuntimeException e) {
      cleanUp(bed, made);
      throw new DivertException("cannot build the pcap test bed: " + e.getMessage(), 0, e);
    }
  }

  private static String mac(VethPair.End end) throws IOException {
    byte[] m = end.mac();
    StringBuilder sb = new StringBuilder();
    for (byte x : m) {
      if (sb.length() > 0) {
        sb.append(':');
      }
      sb.append(String.format("%02x", x & 0xff));
    }
    return sb.toString();
  }

  private static Netns make(List<Netns> made, String name) throws IOException {
    Netns ns = Netns.create(name);
    made.add(ns);
    return ns;
  }

  private static void cleanUp(NamespaceTestBed bed, List<Netns> made) {
    if (bed != null) {
      bed.close();
    } else {
      for (Netns ns : made) {
        ns.close();
      }
    }
  }

  /**
   * Turns offloads off on one interface: on a sender, TX checksumming, TSO and GSO (so that frames
   * carry full checksums and fit the MTU); everywhere, GRO (so that captures see frames as sent).
   */
  private static void offloadsOff(NetnsThread t, String device, boolean sender) throws IOException {
    try {
      t.call(
          () -> {
            if (sender) {
              Native.ethtoolOff(device, Native.ETHTOOL_STXCSUM);
              Native.ethtoolOff(device, Native.ETHTOOL_STSO);
              Native.ethtoolOff(device, Native.ETHTOOL_SGSO);
            }
            Native.ethtoolOff(device, Native.ETHTOOL_SGRO);
            return null;
          });
    } catch (IOException e) {
      throw e;
    } catch (Exception e) {
      throw new IOException("cannot turn offloads off on " + device + ": " + e, e);
    }
  }

  @Override
  public String backend() {
    return PcapBackend.NAME;
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
    return Optional.empty();
  }

  @Override
  public Set<Capability> capabilities() {
    return Device.CAPABILITIES;
  }

  @Override
  public Duration settleTime() {
    return SETTLE;
  }

  @Override
  public void advance(Duration duration) throws InterruptedException {
    Thread.sleep(duration.toMillis(), duration.toNanosPart() % 1_000_000);
  }

  @Override
  public DivertHost openAnotherHost(HostOptions options) {
    throw new UnsupportedOperationException(
        "pcap hosts cannot share rules with another program: the segment and its rules live in"
            + " one JVM (no SHARED_RULES)");
  }

  @Override
  public synchronized DivertHost openUnprivileged(HostOptions options) throws DivertException {
    HostOptions.Builder b = options.toBuilder();
    for (var e : deviceOptions.properties().entrySet()) {
      if (e.getKey().startsWith("pcap.")) {
        b.property(e.getKey(), e.getValue());
      }
    }
    HostOptions merged = b.build();
    InlineSegment s =
        InlineSegment.open(PcapBackend.hostName(config), merged, HostConfig.parse(merged), true);
    DivertHost h = s.openHost(options, true);
    others.add(h);
    return h;
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (DivertHost h : others) {
      closeQuietly(h);
    }
    others.clear();
    if (host != null) {
      closeQuietly(host);
    }
    if (segment != null) {
      segment.close();
    }
    for (NamespaceNode node : nodes) {
      node.close();
    }
    for (Netns ns : namespaces) {
      ns.close();
    }
  }

  private static void closeQuietly(DivertHost h) {
    try {
      h.close();
    } catch (DivertException | RuntimeException e) {
      // the namespaces go next, taking everything with them
    }
  }

  @Override
  public String toString() {
    return "pcap test bed "
        + (namespaces.isEmpty() ? "" : namespaces.get(0).name())
        + " "
        + segment;
  }
}
