package org.divert4j.pcap.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.IpFamily;
import org.divert4j.IpPrefix;
import org.divert4j.Ipv6Addresses;
import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.NamespaceNode;
import org.divert4j.pcap.PcapProvider;
import org.divert4j.pcap.testbed.PcapTestBed;
import org.divert4j.testbed.PacketCapture;
import org.divert4j.testbed.TestBedOptions;
import org.junit.jupiter.api.Test;

/**
 * IPv6 neighbour discovery crosses the inline segment untouched, so that peers resolve each other
 * through it (RFC 4861), also while a rule diverts the rest of the IPv6 traffic.
 */
class InlineNeighbourDiscoveryTest {
  @Test
  void neighbourDiscoveryPassesTheSegmentUntouched() throws Exception {
    assumeTrue(Shell.isRoot(), "the pcap test bed needs root (network namespaces)");
    assumeTrue(new PcapProvider().availability().available(), "pcap unavailable");
    try (PcapTestBed bed = PcapTestBed.create(TestBedOptions.defaults())) {
      NamespaceNode peer = bed.peer();
      NamespaceNode host = bed.hostNode();
      InetAddress host6 = host.address(IpFamily.IPV6).orElseThrow();
      // Forget the test bed's static entries: the next ping must resolve with ND.
      peer.netns().ip("-6", "neigh", "flush", "dev", "eth0", "nud", "permanent");
      host.netns().ip("-6", "neigh", "flush", "dev", "eth0", "nud", "permanent");
      // Echo requests and replies go to a program that writes them back; ND matches no rule.
      try (DivertSocket s = bed.host().bind(4000);
          PacketCapture atHost = host.capture()) {
        bed.host().addRule(DivertRule.parse("input -p icmpv6 --icmpv6-type 128 -j DIVERT 4000"));
        java.util.concurrent.atomic.AtomicInteger diverted =
            new java.util.concurrent.atomic.AtomicInteger();
        Thread program =
            new Thread(
                () -> {
                  java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(65535);
                  try {
                    while (true) {
                      var a = s.receive(b.clear());
                      diverted.incrementAndGet();
                      s.send(b.flip(), a);
                    }
                  } catch (Exception e) {
                    // closed
                  }
                });
        program.setDaemon(true);
        program.start();
        assertTrue(peer.ping(host6, 56, Duration.ofSeconds(5)), "ping -6 after ND");
        List<byte[]> echo =
            atHost.await(
                p -> p.length > 40 && (p[0] & 0xf0) == 0x60 && p[6] == 58 && (p[40] & 0xff) == 128,
                1,
                Duration.ofSeconds(2));
        assertFalse(echo.isEmpty(), "the echo request crossed");
        // and the link-local address, which only ND on this link resolves; its echo requests
        // are diverted and written back too (S60: a link-local destination leaves by its link)
        InetAddress ll = null;
        for (IpPrefix p : host.interfaces().get(0).addresses()) {
          if (p.family() == IpFamily.IPV6 && Ipv6Addresses.isLinkLocal6(p.address())) {
            ll = p.address();
          }
        }
        assertTrue(ll != null, "the host's interface lists its link-local address");
        Shell.Result r =
            peer.netns()
                .exec(
                    null,
                    Duration.ofSeconds(10),
                    List.of(
                        Shell.which("ping").orElseThrow().toString(),
                        "-6",
                        "-n",
                        "-q",
                        "-c",
                        "1",
                        "-W",
                        "3",
                        Ipv6Addresses.toText(ll) + "%eth0"));
        assertTrue(r.ok(), "ping to the host's link-local address: " + r.describe());
        assertTrue(diverted.get() >= 2, "both echo requests were diverted: " + diverted);
      }
      String neigh = peer.netns().ip("-6", "neigh", "show", "dev", "eth0");
      assertTrue(neigh.contains(Ipv6Addresses.toText(host6)), "resolved: " + neigh);
      assertFalse(neigh.contains("PERMANENT"), "learned through ND, not static: " + neigh);
      String hostLink = host.netns().ip("-o", "link", "show", "dev", "eth0");
      String mac = hostLink.replaceAll("(?s).*link/ether ([0-9a-f:]{17}).*", "$1");
      assertTrue(neigh.contains(mac), "the host's own MAC (ND untouched): " + neigh + " vs " + mac);
    }
  }
}
