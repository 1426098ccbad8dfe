package org.divert4j.pcap.testbed;

import java.io.IOException;
import java.net.Inet6Address;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.HostOptions;
import org.divert4j.IpPrefix;
import org.divert4j.Ipv4;
import org.divert4j.Ipv6Addresses;
import org.divert4j.NetInterface;
import org.divert4j.linux.NetDevices;
import org.divert4j.linux.NetnsThread;
import org.divert4j.linux.testbed.NamespaceNode;
import org.divert4j.linux.testbed.NamespaceTestBed;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.linux.testbed.VethPair;
import org.divert4j.pcap.internal.Device;
import org.divert4j.pcap.internal.HostConfig;
import org.divert4j.pcap.internal.InlineSegment;
import org.divert4j.pcap.internal.PcapBackend;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.TestNode;

/**
 * The pcap backend's test bed: three network namespaces joined by two veth pairs, with the backend
 * inline in the middle one, on the shared {@link NamespaceTestBed} (lifecycle, naming, nodes).
 *
 * <pre>
 *   peer [eth0 10.A.B.1/24 fd00:X::1/64] ==veth== [out0] bridge [in0] ==veth== [eth0 10.A.B.2/24 fd00:X::2/64] host
 *                                                  \__ pcap inline segment __/
 * </pre>
 *
 * Both links have the test's MTU ({@link TestBedOptions#peerMtu()}). The bridge namespace has no
 * addresses, does not forward and has IPv6 off (it sends no neighbour discovery or MLD of its own).
 * Peer and host have IPv6 addresses as IPV6-BRIEF says ({@code fd00:X::N/64} beside {@code
 * 10.A.B.N}, {@code X} being A.B in hex, without duplicate address detection) and their kernel's
 * link-local addresses; their neighbour discovery crosses the segment like ARP. The nodes send with
 * DF clear ({@code ip_no_pmtu_disc=1}, as the TestNode contract says) and with checksum and
 * segmentation offloads off (a veth would otherwise hand the capture partial checksums and
 * super-packets), except in the variant {@link #createWithDefaultOffloads}, which leaves the veth
 * defaults for the segment to deal with ({@code pcap.offloads}). Peer and host know each other's
 * MAC address in advance (permanent neighbour entries), so that a test's first packets are not held
 * in an ARP queue and released in a burst.
 *
 * <p>The host node is the inside host, but its {@link TestNode#interfaces()} are those of the
 * divert host in front of it: {@code out0} (name and index in the bridge namespace) with the host's
 * address, the interface inbound packets are diverted on (S6).
 *
 * <p>No far peer (the segment does not route: no FORWARD). Another program cannot share the host's
 * rules (no SHARED_RULES), so {@link #openAnotherHost} is unsupported. Closing {@link #host()}
 * leaves the segment forwarding with no rules, as the kernel does after a divert program exits.
 */
public final class PcapTestBed extends NamespaceTestBed {
  private final boolean defaultOffloads;
  private HostOptions deviceOptions;
  private HostConfig config;
  private Netns segmentNs;

  private PcapTestBed(TestBedOptions options, boolean defaultOffloads) {
    super(PcapBackend.NAME, Device.CAPABILITIES, options, Duration.ofMillis(200));
    this.defaultOffloads = defaultOffloads;
  }

  /**
   * Builds a test bed.
   *
   * @param o the options
   * @return the test bed
   * @throws org.divert4j.BackendUnavailableException if not root or {@code ip} or {@code nsenter}
   *     is missing
   * @throws DivertException if building it fails (everything made so far is removed)
   */
  public static PcapTestBed create(TestBedOptions o) throws DivertException {
    return NamespaceTestBed.open(new PcapTestBed(o, false));
  }

  /**
   * Builds the test bed with every interface's offload features as the veth driver sets them (TX
   * checksumming, TSO and GSO on): what a user gets who builds the same network by hand. The
   * segment itself then deals with them as the host option {@code pcap.offloads} says (disable, by
   * default, which turns off what it must and turns it back on at close).
   *
   * @param o the options; {@code o.host()} may set {@code pcap.offloads}
   * @return the test bed
   * @throws org.divert4j.BackendUnavailableException as {@link #create}
   * @throws DivertException as {@link #create}, or if the segment refuses the offloads
   */
  public static PcapTestBed createWithDefaultOffloads(TestBedOptions o) throws DivertException {
    return NamespaceTestBed.open(new PcapTestBed(o, true));
  }

  /**
   * @return the namespace the segment runs in, between the peer's and the host's
   */
  public Netns segmentNamespace() {
    return segmentNs;
  }

  /**
   * @return the options the segment was opened with (the {@code pcap.*} properties)
   */
  public HostOptions segmentOptions() {
    return deviceOptions;
  }

  @Override
  protected void build() throws IOException, DivertException {
    TestBedOptions o = options();
    int subnet = subnet(0);
    int peerAddr = subnet | 1;
    int hostAddr = subnet | 2;
    Netns peerNs = newNamespace("peer");
    Netns bridgeNs = newNamespace("bridge");
    Netns hostNs = newNamespace("host");
    segmentNs = bridgeNs;
    bridgeNs.sysctl("net.ipv6.conf.all.disable_ipv6", "1");
    bridgeNs.sysctl("net.ipv6.conf.default.disable_ipv6", "1");
    quietIpv6(peerNs); // before the interfaces exist: link-local addresses usable at once
    quietIpv6(hostNs);
    peerNs.sysctl("net.ipv4.ip_no_pmtu_disc", "1");
    hostNs.sysctl("net.ipv4.ip_no_pmtu_disc", "1");
    bridgeNs.sysctl("net.ipv4.ip_forward", "0");
    VethPair left = VethPair.create(peerNs, "eth0", bridgeNs, "out0", o.peerMtu());
    VethPair right = VethPair.create(bridgeNs, "in0", hostNs, "eth0", o.peerMtu());
    left.a().addAddress(Ipv4.toString(peerAddr) + "/24");
    right.b().addAddress(Ipv4.toString(hostAddr) + "/24");
    left.a().addAddress6(ipv6Cidr(peerAddr));
    right.b().addAddress6(ipv6Cidr(hostAddr));
    List<IpPrefix> peerSix = ipv6Addresses(left.a(), peerAddr);
    List<IpPrefix> hostSix = ipv6Addresses(right.b(), hostAddr);
    byte[] peerMac = left.a().mac();
    byte[] hostMac = right.b().mac();
    // Static neighbours: a test's first packets are not held in an ARP queue and then released
    // in a burst (which races with the test's next step). ARP still passes the segment
    // untouched when a program flushes these entries.
    permanentNeighbour(peerNs, Ipv4.toString(hostAddr), hostMac);
    permanentNeighbour(hostNs, Ipv4.toString(peerAddr), peerMac);
    permanentNeighbour(peerNs, Ipv6Addresses.toText(ipv6Of(hostAddr)), hostMac);
    permanentNeighbour(hostNs, Ipv6Addresses.toText(ipv6Of(peerAddr)), peerMac);
    StringBuilder address = new StringBuilder(Ipv4.toString(hostAddr) + "/24");
    for (IpPrefix p : hostSix) {
      address.append(',').append(Ipv6Addresses.toText(p.address())).append('/').append(p.length());
    }
    HostOptions device =
        o.host().toBuilder()
            .property(HostConfig.NETNS, bridgeNs.name())
            .property(HostConfig.OUTSIDE, "out0")
            .property(HostConfig.INSIDE, "in0")
            .property(HostConfig.ADDRESS, address.toString())
            .property(
                HostConfig.ROUTES,
                Ipv4.toString(subnet) + "/24," + Ipv6Addresses.toText(ipv6Of(subnet)) + "/64")
            .property(HostConfig.BUFFER, o.host().property(HostConfig.BUFFER, "4194304"))
            .property(HostConfig.HANDOFF, o.host().property(HostConfig.HANDOFF, "2097152"))
            .build();
    deviceOptions = device;
    config = HostConfig.parse(device);
    // Raw packets go to the MAC beyond the segment, which passes frames through unchanged.
    NamespaceNode peer =
        newNode(
            "peer",
            peerNs,
            Ipv4.fromInt(peerAddr),
            List.of(NamespaceNode.Link.of(left.a(), peerAddr, 24, o.peerMtu(), hostMac, peerSix)));
    // The divert host is the segment in front of the inside host: what it receives on is the
    // outside interface, with the inside host's address (docs/backends.md, "Interfaces and
    // addresses"). The host node reports that interface as this test bed built it (S6), while its
    // raw sends and captures still use its own eth0.
    List<IpPrefix> receivingAddresses = new ArrayList<>();
    receivingAddresses.add(new IpPrefix(Ipv4.fromInt(hostAddr), 24));
    receivingAddresses.addAll(hostSix);
    NetInterface receiving =
        new NetInterface(left.b().name(), left.b().index(), receivingAddresses, o.peerMtu());
    NamespaceNode hostNode =
        newNode(
            "host",
            hostNs,
            Ipv4.fromInt(hostAddr),
            List.of(NamespaceNode.Link.of(right.b(), hostAddr, 24, o.peerMtu(), peerMac, hostSix)),
            List.of(receiving));
    setNodes(peer, hostNode, null);
    if (!defaultOffloads) {
      offloadsOff(peer.thread(), "eth0", true);
      offloadsOff(hostNode.thread(), "eth0", true);
      try (NetnsThread t = NetnsThread.open(bridgeNs.path().toString(), "bridge")) {
        offloadsOff(t, "out0", false);
        offloadsOff(t, "in0", false);
      }
    }
    InlineSegment segment =
        trackResource(InlineSegment.open(PcapBackend.hostName(config), device, config, false));
    setHost(segment.openHost(hostOpenOptions(), false));
  }

  /** The IPv6 addresses of a node's interface: fd00:X::N/64, then its link-local one. */
  private static List<IpPrefix> ipv6Addresses(VethPair.End end, int ipv4) throws IOException {
    List<IpPrefix> six = new ArrayList<>();
    six.add(new IpPrefix(ipv6Of(ipv4), 64));
    Inet6Address ll = end.linkLocal();
    if (ll != null) {
      six.add(new IpPrefix(ll, 64));
    }
    return six;
  }

  private static void permanentNeighbour(Netns ns, String address, byte[] mac) throws IOException {
    ns.ip("neigh", "replace", address, "lladdr", mac(mac), "dev", "eth0", "nud", "permanent");
  }

  private static String mac(byte[] m) {
    StringBuilder sb = new StringBuilder();
    for (byte x : m) {
      if (sb.length() > 0) {
        sb.append(':');
      }
      sb.append(String.format("%02x", x & 0xff));
    }
    return sb.toString();
  }

  /**
   * Turns offloads off on one interface: on a sender, TX checksumming, TSO and GSO (so that frames
   * carry full checksums and fit the MTU); everywhere, GRO (so that captures see frames as sent).
   */
  private static void offloadsOff(NetnsThread t, String device, boolean sender) throws IOException {
    t.run(
        () -> {
          if (sender) {
            NetDevices.ethtoolOff(device, NetDevices.ETHTOOL_STXCSUM);
            NetDevices.ethtoolOff(device, NetDevices.ETHTOOL_STSO);
            NetDevices.ethtoolOff(device, NetDevices.ETHTOOL_SGSO);
          }
          NetDevices.ethtoolOff(device, NetDevices.ETHTOOL_SGRO);
          return null;
        });
  }

  @Override
  public DivertHost openAnotherHost(HostOptions options) {
    throw new UnsupportedOperationException(
        "pcap hosts cannot share rules with another program: the segment and its rules live in"
            + " one JVM (no SHARED_RULES)");
  }

  @Override
  public DivertHost openUnprivileged(HostOptions options) throws DivertException {
    HostOptions.Builder b = options.toBuilder();
    for (var e : deviceOptions.properties().entrySet()) {
      if (e.getKey().startsWith("pcap.")) {
        b.property(e.getKey(), e.getValue());
      }
    }
    HostOptions merged = b.build();
    InlineSegment s =
        InlineSegment.open(PcapBackend.hostName(config), merged, HostConfig.parse(merged), true);
    return trackHost(s.openHost(options, true));
  }
}
