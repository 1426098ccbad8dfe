package org.divert4j.sim;

import java.io.IOException;
import java.net.Inet4Address;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.divert4j.HostOptions;
import org.divert4j.Ipv4;
import org.divert4j.packet.Checksums;
import org.divert4j.packet.Ipv4Builder;
import org.divert4j.packet.Ipv4View;
import org.divert4j.packet.Reassembler;
import org.divert4j.stack.DivertEngine;
import org.divert4j.testbed.Datagram;

/**
 * A simulated node's IPv4 stack above the divert engine, as {@link SimStack6} is for IPv6: routes
 * ({@link SimRoutes4}), local delivery (ip_local_deliver and above: reassembles, drops a bad
 * transport checksum, hands UDP datagrams to the node's endpoints, answers echo requests and
 * records echo replies) and the datagrams the node sends (UDP, raw, echo requests), numbered and
 * given to the engine. Delivery runs inside the network's section; sending enters it.
 */
final class SimStack4 {
  private final String name;
  private final SimNetwork net;
  private final List<SimNode.Port> ports;
  private final SimRoutes4 routes;
  private final Map<Integer, SimUdpEndpoint> udp;
  private final SimEchoReplies echoReplies;
  private final Supplier<DivertEngine> engine;
  private final Ipv4View local = new Ipv4View();
  private Reassembler reassembly;
  private int nextId = 1;

  /**
   * @param name the node's name, for messages
   * @param net the network whose section sending enters
   * @param ports the node's interfaces (the list grows as links are added)
   * @param udp the node's UDP endpoints by port
   * @param echoReplies where echo replies are recorded
   * @param engine the node's divert engine, started on first use, which sends what the node sends
   */
  SimStack4(
      String name,
      SimNetwork net,
      List<SimNode.Port> ports,
      Map<Integer, SimUdpEndpoint> udp,
      SimEchoReplies echoReplies,
      Supplier<DivertEngine> engine) {
    this.name = name;
    this.net = net;
    this.ports = ports;
    this.routes = new SimRoutes4(ports);
    this.udp = udp;
    this.echoReplies = echoReplies;
    this.engine = engine;
  }

  /** The node's IPv4 routes: the engine's {@code route} and {@code isLocal} ask them. */
  SimRoutes4 routes() {
    return routes;
  }

  /** Starts reassembly, with the default limits, when the node's engine starts. */
  void startReassembly(SimNetwork net) {
    reassembly =
        new Reassembler(
            HostOptions.DEFAULT_REASSEMBLY_MEMORY,
            4096,
            HostOptions.DEFAULT_REASSEMBLY_TIMEOUT.toNanos(),
            net::nanoTime);
  }

  /** Drops the fragments whose time is up. */
  void expire() {
    reassembly.expire();
  }

  /** A packet for this node passed the input chain; ip_local_deliver reassembles it first. */
  void deliver(ByteBuffer packet, int inInterface) {
    ByteBuffer whole = reassembly.offer(packet);
    if (whole != null) {
      receive(whole, inInterface);
    }
  }

  private int nextId() {
    nextId = (nextId + 1) & 0xffff;
    return nextId == 0 ? (nextId = 1) : nextId;
  }

  /** See {@link SimNode#sendUdp(java.net.InetAddress, int, int, byte[], int)}. */
  void sendUdp(
      Inet4Address destination, int sourcePort, int destinationPort, byte[] payload, int mark)
      throws IOException {
    if (payload.length > 65507) {
      throw new IOException("UDP payload too large: " + payload.length + " bytes (max 65507)");
    }
    int dst = Ipv4.toInt(destination);
    net.enter();
    try {
      int src = sourceFor(dst);
      ByteBuffer d =
          Ipv4Builder.udp(sourcePort, destinationPort)
              .source(src)
              .destination(dst)
              .identification(nextId())
              .payload(payload)
              .build();
      if (!engine.get().originate(d, mark)) {
        throw new IOException("no route to " + destination.getHostAddress() + " from " + name);
      }
    } finally {
      net.exit();
    }
  }

  /** See {@link SimNode#sendRaw(ByteBuffer)}: an IPv4 packet. */
  void sendRaw(ByteBuffer packet) throws IOException {
    int len = packet.remaining();
    if (len < 20) {
      throw new IOException("raw packet shorter than an IP header: " + len + " bytes");
    }
    ByteBuffer p = ByteBuffer.allocate(len);
    p.put(0, packet, packet.position(), len);
    // Like Linux raw IP_HDRINCL sockets (raw(7)): total length and checksum are filled in.
    p.putShort(2, (short) len);
    Checksums.fillIpv4Header(p, 0);
    int dst = p.getInt(16);
    net.enter();
    try {
      int out = routes.route(dst);
      if (out == 0) {
        throw new IOException("no route to " + Ipv4.toString(dst) + " from " + name);
      }
      int mtu = ports.get(out - 1).nif.mtu();
      if (len > mtu) {
        throw new IOException("Message too long: " + len + " bytes, MTU " + mtu);
      }
      engine.get().originate(p);
    } finally {
      net.exit();
    }
  }

  /**
   * An echo request from this node; inside the network's section.
   *
   * @return the request, not yet sent
   * @throws IOException if there is no route to the destination
   */
  ByteBuffer echoRequest(Inet4Address destination, int ident, int seq, byte[] body)
      throws IOException {
    int dst = Ipv4.toInt(destination);
    return Ipv4Builder.icmpEchoRequest(ident, seq)
        .source(sourceFor(dst))
        .destination(dst)
        .identification(nextId())
        .payload(body)
        .build();
  }

  private int sourceFor(int dst) throws IOException {
    int out = routes.route(dst);
    if (out == 0) {
      throw new IOException("no route to " + Ipv4.toString(dst) + " from " + name);
    }
    return out == SimNode.LOOPBACK ? dst : ports.get(out - 1).addressBits;
  }

  private void receive(ByteBuffer d, int inIf) {
    local.wrap(d);
    int base = d.position();
    int proto = local.protocol();
    if (!Checksums.isTransportValid(d, base)) {
      return; // a bad UDP/ICMP checksum: the stack drops it (S41 relies on this)
    }
    int off = local.payloadOffset();
    int plen = local.payloadLength();
    if (proto == 17 && plen >= 8) {
      int dport = d.getShort(off + 2) & 0xffff;
      SimUdpEndpoint e = udp.get(dport);
      if (e != null) {
        byte[] payload = new byte[plen - 8];
        d.get(off + 8, payload);
        e.deliver(
            new Datagram(Ipv4.fromInt(local.source()), d.getShort(off) & 0xffff, payload, inIf));
      }
    } else if (proto == 1 && plen >= 8) {
      int type = d.get(off) & 0xff;
      if (type == 8) {
        byte[] body = new byte[plen - 8];
        d.get(off + 8, body);
        ByteBuffer reply =
            Ipv4Builder.icmpEchoReply(d.getShort(off + 4) & 0xffff, d.getShort(off + 6) & 0xffff)
                .source(local.destination())
                .destination(local.source())
                .identification(nextId())
                .payload(body)
                .build();
        engine.get().originate(reply);
      } else if (type == 0) {
        echoReplies.arrived(
            (long) (d.getShort(off + 4) & 0xffff) << 16 | (d.getShort(off + 6) & 0xffff));
      }
    }
  }
}
