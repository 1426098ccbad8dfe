package org.divert4j.sim;

import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.HostOptions;
import org.divert4j.IpFamily;
import org.divert4j.IpPrefix;
import org.divert4j.Ipv6Addresses;
import org.divert4j.packet.Checksums;
import org.divert4j.packet.Ipv4View;
import org.divert4j.packet.Ipv6Builder;
import org.divert4j.packet.Ipv6Reassembler;
import org.divert4j.packet.Ipv6View;
import org.divert4j.testbed.Datagram;

/**
 * The IPv6 half of a simulated node's stack: routes, local addresses, and the local stack's UDP and
 * ICMPv6 echo (RFC 4443). Its reassembly buffer is its own (S63). Used inside the network's
 * section, except where a method says otherwise.
 */
final class SimStack6 {
  /** One IPv6 route: a prefix and the interface it leaves by. */
  private record Route(IpPrefix prefix, int ifIndex) {}

  private static final IpPrefix LOOPBACK6 = new IpPrefix(Ipv6Addresses.parse("::1"), 128);

  private final SimNode node;
  private final List<Route> routes = new ArrayList<>();
  private Route[] table = new Route[0]; // interfaces' on-link prefixes, then static routes
  private IpPrefix[][] local = new IpPrefix[0][]; // per port: each address as a /128
  private final Ipv6View view = new Ipv6View();
  private Ipv6Reassembler reassembly;

  SimStack6(SimNode node) {
    this.node = node;
  }

  /** Rebuilds the tables after an interface or route was added. */
  void refresh(List<SimNode.Port> ports) {
    List<Route> t = new ArrayList<>();
    IpPrefix[][] l = new IpPrefix[ports.size()][];
    for (int i = 0; i < ports.size(); i++) {
      SimNode.Port p = ports.get(i);
      List<IpPrefix> mine = new ArrayList<>();
      for (IpPrefix a : p.nif.addresses()) {
        if (a.family() == IpFamily.IPV6) {
          mine.add(new IpPrefix(a.address(), 128));
          if (p.nif.index() != SimNode.LOOPBACK && !Ipv6Addresses.isLinkLocal6(a.address())) {
            t.add(new Route(a, p.nif.index()));
          }
        }
      }
      l[i] = mine.toArray(new IpPrefix[0]);
    }
    t.addAll(routes);
    table = t.toArray(new Route[0]);
    local = l;
  }

  void addRoute(IpPrefix prefix, int ifIndex, List<SimNode.Port> ports) {
    routes.add(new Route(prefix, ifIndex));
    refresh(ports);
  }

  void startReassembly() {
    reassembly =
        new Ipv6Reassembler(
            HostOptions.DEFAULT_REASSEMBLY_MEMORY,
            4096,
            HostOptions.DEFAULT_REASSEMBLY_TIMEOUT.toNanos(),
            node.network()::nanoTime);
  }

  void expire() {
    if (reassembly != null) {
      reassembly.expire();
    }
  }

  /** Longest-prefix match; allocates nothing. */
  int route(ByteBuffer b, int at) {
    if (isLocal(b, at)) {
      return SimNode.LOOPBACK;
    }
    int best = 0;
    int bestLen = -1;
    for (Route r : table) {
      if (r.prefix.length() > bestLen && r.prefix.contains(b, at)) {
        best = r.ifIndex;
        bestLen = r.prefix.length();
      }
    }
    return best;
  }

  /** True for ::1 and the addresses of the node's interfaces; allocates nothing. */
  boolean isLocal(ByteBuffer b, int at) {
    if (LOOPBACK6.contains(b, at)) {
      return true;
    }
    for (IpPrefix[] port : local) {
      for (IpPrefix a : port) {
        if (a.contains(b, at)) {
          return true;
        }
      }
    }
    return false;
  }

  /** The local stack reassembles (as Linux's ip6_input does), then delivers. */
  void deliverLocal(ByteBuffer packet, int inIf) {
    ByteBuffer whole = reassembly.offer(packet);
    if (whole != null) {
      receive(whole, inIf);
    }
  }

  private void receive(ByteBuffer d, int inIf) {
    int base = d.position();
    if (!Checksums.isTransportValid6(d, base)) {
      return; // a bad UDP/ICMPv6 checksum, or a zero UDP checksum: the stack drops it
    }
    view.wrap(d);
    int proto = view.upperLayerProtocol();
    int off = view.upperLayerOffset();
    int end = base + Ipv6View.HEADER_LENGTH + view.payloadLength();
    int plen = end - off;
    if (proto == Ipv4View.PROTOCOL_UDP && plen >= 8) {
      SimUdpEndpoint e = node.udpEndpoint(d.getShort(off + 2) & 0xffff);
      if (e != null) {
        byte[] payload = new byte[plen - 8];
        d.get(off + 8, payload);
        e.deliver(
            new Datagram(address(d, base + 8, inIf), d.getShort(off) & 0xffff, payload, inIf));
      }
    } else if (proto == Ipv6View.PROTOCOL_ICMPV6 && plen >= 8) {
      int type = d.get(off) & 0xff;
      int ident = d.getShort(off + 4) & 0xffff;
      int seq = d.getShort(off + 6) & 0xffff;
      if (type == 128) {
        byte[] body = new byte[plen - 8];
        d.get(off + 8, body);
        byte[] src = new byte[16];
        byte[] dst = new byte[16];
        view.source(dst, 0);
        view.destination(src, 0);
        ByteBuffer reply =
            Ipv6Builder.icmpv6EchoReply(ident, seq)
                .source(src)
                .destination(dst)
                .payload(body)
                .build();
        node.engine().originate(reply, inIf); // a link-local requester is on this link
      } else if (type == 129) {
        node.echoReplyArrived(echoKey(ident, seq));
      }
    }
  }

  /** The key of an ICMPv6 echo: its own space beside ICMP's (bit 32). */
  static long echoKey(int ident, int seq) {
    return 1L << 32 | (long) ident << 16 | seq;
  }

  /** The source address, with the receiving interface as scope when link-local. */
  private static InetAddress address(ByteBuffer d, int at, int inIf) {
    byte[] a = new byte[16];
    d.get(at, a);
    try {
      boolean linkLocal = (a[0] & 0xff) == 0xfe && (a[1] & 0xc0) == 0x80;
      return linkLocal ? Inet6Address.getByAddress(null, a, inIf) : InetAddress.getByAddress(a);
    } catch (UnknownHostException e) {
      throw new AssertionError("16 bytes are always an address", e);
    }
  }

  /**
   * The egress interface of a datagram the node sends to an IPv6 destination: by its scope for a
   * link-local one (or the node's only link when it has no scope), else by the routes.
   *
   * @throws IOException "no route" when there is none
   */
  int egress(Inet6Address destination, List<SimNode.Port> ports) throws IOException {
    byte[] a = destination.getAddress();
    int out;
    if (Ipv6Addresses.isLinkLocal6(destination)) {
      int scope = destination.getScopeId();
      out = scope > 0 && scope <= ports.size() ? scope : ports.size() == 2 ? 2 : 0;
    } else {
      out = route(ByteBuffer.wrap(a), 0);
    }
    if (out == 0) {
      throw new IOException(
          "no route to " + Ipv6Addresses.toText(destination) + " from " + node.name());
    }
    return out;
  }

  /**
   * The source address for a datagram leaving by an interface: the destination itself over
   * loopback, the interface's link-local address for a link-local destination, else its first IPv6
   * address (S55's order).
   */
  static byte[] source(Inet6Address destination, SimNode.Port out) throws IOException {
    if (out.nif.index() == SimNode.LOOPBACK) {
      return destination.getAddress();
    }
    boolean linkLocal = Ipv6Addresses.isLinkLocal6(destination);
    for (IpPrefix p : out.nif.addresses()) {
      if (p.family() == IpFamily.IPV6 && Ipv6Addresses.isLinkLocal6(p.address()) == linkLocal) {
        return p.address().getAddress();
      }
    }
    throw new IOException("interface " + out.nif.name() + " has no IPv6 address");
  }
}
