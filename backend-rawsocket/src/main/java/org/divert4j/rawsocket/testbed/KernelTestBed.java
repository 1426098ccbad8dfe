package org.divert4j.rawsocket.testbed;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.divert4j.Capability;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.HostOptions;
import org.divert4j.IpPrefix;
import org.divert4j.Ipv4;
import org.divert4j.Ipv6Addresses;
import org.divert4j.linux.Capabilities;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Errors;
import org.divert4j.linux.testbed.NamespaceNode;
import org.divert4j.linux.testbed.NamespaceTestBed;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.linux.testbed.VethPair;
import org.divert4j.rawsocket.internal.KernelHost;
import org.divert4j.testbed.TestBedOptions;

/**
 * The kernel backend's test bed: network namespaces joined by veth pairs, on the shared {@link
 * NamespaceTestBed} (lifecycle, naming, nodes).
 *
 * <pre>
 *   peer [eth0] 10.a.b.1/24 --- 10.a.b.2/24 [eth0] host [eth1] 10.a.b+1.2/24 --- 10.a.b+1.1/24 [eth0] far
 * </pre>
 *
 * The host forwards when there is a far peer; rp_filter is off; the peers route everything through
 * the host. The host under diversion is the host namespace ({@code rawsocket.netns}); the test bed
 * only builds the network: the backend applies every host option itself (its reassembly limits too,
 * see {@code ReassemblyLimits}).
 */
public final class KernelTestBed extends NamespaceTestBed {
  private Netns hostNs;

  private KernelTestBed(String backend, Set<Capability> capabilities, TestBedOptions options) {
    super(backend, capabilities, options, Duration.ofMillis(250));
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
    return NamespaceTestBed.open(new KernelTestBed(backend, capabilities, options));
  }

  @Override
  protected void build() throws IOException, DivertException {
    TestBedOptions options = options();
    int netA = subnet(0);
    int netB = subnet(1);
    List<Netns> all = new ArrayList<>();
    Netns peerNs = newNamespace("peer");
    all.add(peerNs);
    hostNs = newHostNamespace("host");
    all.add(hostNs);
    Netns farNs = null;
    if (options.farPeer()) {
      farNs = newNamespace("far");
      all.add(farNs);
    }
    for (Netns ns : all) {
      ns.sysctl("net.ipv4.conf.all.rp_filter", "0");
      ns.sysctl("net.ipv4.conf.default.rp_filter", "0");
      quietIpv6(ns);
    }
    // every IPv4 address 10.0.L.N/24 has its IPv6 twin fd00:L::N/64 on the same interface, and the
    // IPv6 routes mirror the IPv4 ones
    // (one ip -batch per namespace: see Netns#ipBatch)
    VethPair linkA = VethPair.create(peerNs, "eth0", hostNs, "eth0", options.peerMtu());
    peerNs.ipBatch(addressed(linkA.a(), netA + 1, netA + 2));
    hostNs.ipBatch(addressed(linkA.b(), netA + 2, -1));
    VethPair linkB = null;
    if (farNs != null) {
      linkB = VethPair.create(hostNs, "eth1", farNs, "eth0", options.farPeerMtu());
      hostNs.ipBatch(addressed(linkB.a(), netB + 2, -1));
      farNs.ipBatch(addressed(linkB.b(), netB + 1, netB + 2));
      hostNs.sysctl("net.ipv4.ip_forward", "1");
      hostNs.sysctl("net.ipv6.conf.all.forwarding", "1");
    }
    // IPv6 neighbours are permanent: neighbour discovery is ICMPv6, which an output rule such as
    // "output -p icmpv6" would divert and hold, so the host could never resolve the peer it
    // answers (ARP is not IP, so IPv4 needs nothing of the kind)
    neighbours(linkA.a(), netA + 1, linkA.b(), netA + 2);
    if (linkB != null) {
      neighbours(linkB.a(), netB + 2, linkB.b(), netB + 1);
    }
    for (Netns ns : all) {
      ns.sysctl("net.ipv4.conf.eth0.rp_filter", "0");
    }
    if (farNs != null) {
      hostNs.sysctl("net.ipv4.conf.eth1.rp_filter", "0");
    }
    HostOptions ho = hostOpenOptions();
    NamespaceNode peer =
        newNode(
            "peer",
            peerNs,
            Ipv4.fromInt(netA + 1),
            List.of(link(linkA.a(), netA + 1, options.peerMtu(), linkA.b())));
    List<NamespaceNode.Link> hostLinks = new ArrayList<>();
    hostLinks.add(link(linkA.b(), netA + 2, options.peerMtu(), linkA.a()));
    if (linkB != null) {
      hostLinks.add(link(linkB.a(), netB + 2, options.farPeerMtu(), linkB.b()));
    }
    NamespaceNode hostNode = newNode("host", hostNs, Ipv4.fromInt(netA + 2), hostLinks);
    NamespaceNode far = null;
    if (linkB != null) {
      far =
          newNode(
              "far",
              farNs,
              Ipv4.fromInt(netB + 1),
              List.of(link(linkB.b(), netB + 1, options.farPeerMtu(), linkB.a())));
    }
    setNodes(peer, hostNode, far);
    setHost(openHost(ho));
  }

  /** Makes each end of a link know the other's IPv6 addresses (global and link-local). */
  private static void neighbours(VethPair.End a, int addressA, VethPair.End b, int addressB)
      throws IOException {
    neighbour(a, b, addressB);
    neighbour(b, a, addressA);
  }

  private static void neighbour(VethPair.End at, VethPair.End other, int otherAddress)
      throws IOException {
    byte[] m = other.mac();
    String mac = String.format("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    List<String> addresses = new ArrayList<>();
    addresses.add(Ipv6Addresses.toText(ipv6Of(otherAddress)));
    java.net.Inet6Address ll = other.linkLocal();
    if (ll != null) {
      addresses.add(Ipv6Addresses.toText(ll));
    }
    List<List<String>> batch = new ArrayList<>();
    for (String a : addresses) {
      // an IPv6 neighbour: the family comes from the address (ip -batch takes no -6 per line)
      batch.add(
          List.of("neigh", "replace", a, "lladdr", mac, "dev", at.name(), "nud", "permanent"));
    }
    at.netns().ipBatch(batch);
  }

  /**
   * The commands that give an end its addresses, 10.0.L.N/24 and its IPv6 twin (without DAD, as
   * {@link VethPair.End#addAddress6}), and a peer its default routes of both families.
   *
   * @param end the end
   * @param address its IPv4 address
   * @param gateway the IPv4 address of its default route, or -1 for none
   * @return the commands, for {@link Netns#ipBatch}
   */
  private static List<List<String>> addressed(VethPair.End end, int address, int gateway) {
    List<List<String>> c = new ArrayList<>();
    c.add(List.of("addr", "add", Ipv4.toString(address) + "/24", "dev", end.name()));
    c.add(List.of("addr", "add", ipv6Cidr(address), "dev", end.name(), "nodad"));
    if (gateway >= 0) {
      c.add(List.of("route", "add", "default", "via", Ipv4.toString(gateway)));
      c.add(List.of("route", "add", "::/0", "via", Ipv6Addresses.toText(ipv6Of(gateway))));
    }
    return c;
  }

  private static NamespaceNode.Link link(VethPair.End end, int address, int mtu, VethPair.End other)
      throws IOException {
    List<IpPrefix> six = new ArrayList<>();
    six.add(new IpPrefix(ipv6Of(address), 64));
    java.net.Inet6Address ll = end.linkLocal();
    if (ll != null) {
      six.add(new IpPrefix(ll, 64));
    }
    return NamespaceNode.Link.of(end, address, 24, mtu, other.mac(), six);
  }

  /**
   * The options with {@code rawsocket.netns} naming the host namespace; unchanged when the host
   * namespace is this JVM's own (a brokered test bed, {@link Netns#isOwnNamespace}): the backend
   * then works in its own namespace, as a service does, and never calls setns.
   */
  private HostOptions inHostNamespace(HostOptions o) {
    if (hostNs.isOwnNamespace()) {
      return o;
    }
    return o.toBuilder().property("rawsocket.netns", hostNs.name()).build();
  }

  private DivertHost openHost(HostOptions o) throws DivertException {
    return KernelHost.open(backend(), capabilities(), inHostNamespace(o));
  }

  @Override
  public DivertHost openAnotherHost(HostOptions o) throws DivertException {
    return trackHost(openHost(o));
  }

  /**
   * A queue long enough for the whole burst and a netlink receive buffer of 64 KiB ({@code
   * rawsocket.rcvbuf}, which the backend sets with SO_RCVBUFFORCE; the kernel doubles it, see
   * socket(7)), read four messages at a time ({@code rawsocket.batch}): a burst of more than about
   * 40 datagrams of 1400 bytes, unread, overflows the socket. nfnetlink_queue then drops each
   * packet that {@code netlink_unicast} could not deliver and counts it as queue_user_dropped
   * (net/netfilter/nfnetlink_queue.c, __nfqnl_enqueue_packet), which the backend reports as {@code
   * NO_BUFFER}.
   */
  @Override
  public HostOptions scarceBuffers(HostOptions base, int packets, int size) {
    return base.toBuilder()
        .queueLength(Math.max(packets, base.queueLength()))
        .property("rawsocket.rcvbuf", "65536")
        .property("rawsocket.batch", "4")
        .build();
  }

  /** The sysctls of the host namespace that the backend or this test bed may change. */
  private static final List<String> SYSCTLS =
      List.of(
          "net.ipv4.ipfrag_time",
          "net.ipv4.ipfrag_high_thresh",
          "net.ipv4.ipfrag_low_thresh",
          "net.ipv4.ip_forward",
          "net.netfilter.nf_conntrack_frag6_timeout",
          "net.netfilter.nf_conntrack_frag6_high_thresh",
          "net.netfilter.nf_conntrack_frag6_low_thresh",
          "net.ipv6.conf.all.forwarding");

  /**
   * {@inheritDoc}
   *
   * <p>Here: every table of {@code iptables-save} of each iptables flavour installed (nft and
   * legacy), without counters or time stamps; the bound NFQUEUE queues with their owners' netlink
   * port ids ({@code /proc/net/netfilter/nfnetlink_queue}, first two columns: the others are
   * counters); {@link #SYSCTLS}; and the names of the network devices; all read in the host
   * namespace.
   */
  /**
   * Whether a table of iptables-save holds nothing: no rule, no chain of its own, every built-in
   * chain accepting. iptables-nft creates a table the first time a rule change names it and has no
   * command that removes it again (only nft(8) could), so an emptied table stays behind; it matches
   * nothing and changes no packet, so the snapshot counts it as absent.
   */
  private static boolean isEmptyTable(List<String> table) {
    for (String l : table) {
      String t = l.substring(l.indexOf(": ") + 2);
      if (t.startsWith("-") || (t.startsWith(":") && !t.endsWith(" ACCEPT"))) {
        return false;
      }
    }
    return true;
  }

  @Override
  public List<String> hostState() throws IOException {
    List<String> lines = new ArrayList<>();
    for (String save :
        List.of(
            "iptables-nft-save",
            "iptables-legacy-save",
            "ip6tables-nft-save",
            "ip6tables-legacy-save")) {
      if (org.divert4j.linux.Shell.which(save).isEmpty()) {
        continue;
      }
      List<String> table = new ArrayList<>();
      for (String l : hostNs.execChecked(save).split("\n")) {
        if (l.isBlank() || l.startsWith("#")) {
          continue; // "# Generated by ... on <date>"
        }
        table.add(save + ": " + l.replaceAll(" \\[\\d+:\\d+\\]$", ""));
        if (l.equals("COMMIT")) {
          if (!isEmptyTable(table)) {
            lines.addAll(table);
          }
          table.clear();
        }
      }
    }
    for (String l : hostNs.execChecked("cat", "/proc/net/netfilter/nfnetlink_queue").split("\n")) {
      String[] f = l.trim().split("\\s+");
      if (f.length >= 2) {
        lines.add("nfnetlink_queue: queue " + f[0] + " portid " + f[1]);
      }
    }
    for (String key : SYSCTLS) {
      lines.add("sysctl: " + key + " = " + hostNs.sysctl(key).trim());
    }
    // network devices (an inbound injection pair left behind would show here)
    for (String l : hostNs.execChecked("ip", "-o", "link", "show").split("\n")) {
      String[] f = l.split(":", 3);
      if (f.length == 3) {
        String dev = f[1].trim();
        lines.add("link: " + (dev.indexOf('@') > 0 ? dev.substring(0, dev.indexOf('@')) : dev));
      }
    }
    return lines;
  }

  @Override
  public DivertHost openUnprivileged(HostOptions o) throws DivertException {
    HostOptions withNs = inHostNamespace(o);
    AtomicReference<Object> result = new AtomicReference<>();
    Thread t =
        new Thread(
            () -> {
              try {
                Capabilities.dropEffective(Capabilities.CAP_NET_ADMIN, Capabilities.CAP_NET_RAW);
                result.set(KernelHost.open(backend(), capabilities(), withNs));
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
      return trackHost(h);
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
}
