package org.divert4j.sim;

import org.divert4j.HostOptions;
import org.divert4j.testbed.TestBedOptions;

/**
 * The standard simulated network of test beds:
 *
 * <pre>
 *   peer 10.0.1.2/24 eth0 --(peerMtu)-- eth0 10.0.1.1/24 host eth1 10.0.2.1/24 --(farMtu)-- eth0 10.0.2.2/24 far
 * </pre>
 *
 * Each interface also has its IPv6 twin ({@code fd00:1::2/64}, {@code fd00:1::1/64}, {@code
 * fd00:2::1/64}, {@code fd00:2::2/64}) and a link-local address. The far peer and the host's eth1
 * exist only when asked for; then the host forwards and both peers route the other's subnet (of
 * both families) through it.
 */
final class SimTopology {
  final SimNetwork net;
  final SimNode host;
  final SimNode peer;
  final SimNode far;

  private SimTopology(SimNetwork net, SimNode host, SimNode peer, SimNode far) {
    this.net = net;
    this.host = host;
    this.peer = peer;
    this.far = far;
  }

  static SimTopology build(String backend, SimProvider.EngineFactory factory, TestBedOptions o) {
    SimNetwork net = new SimNetwork();
    SimNode peer = net.addNode("peer", HostOptions.defaults());
    SimNode host = net.addNode("host", o.host());
    host.useEngine(backend, factory);
    net.link(peer, "10.0.1.2/24", host, "10.0.1.1/24", o.peerMtu());
    SimNode far = null;
    if (o.farPeer()) {
      far = net.addNode("far", HostOptions.defaults());
      net.link(host, "10.0.2.1/24", far, "10.0.2.2/24", o.farPeerMtu());
      host.setForwarding(true);
      peer.addRoute("10.0.2.0/24", "eth0");
      far.addRoute("10.0.1.0/24", "eth0");
    }
    return new SimTopology(net, host, peer, far);
  }
}
