package org.divert4j.pcap.internal;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.time.Duration;
import java.util.List;
import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.NamespaceNode;
import org.divert4j.pcap.PcapProvider;
import org.divert4j.pcap.testbed.PcapTestBed;
import org.divert4j.testbed.PacketCapture;
import org.divert4j.testbed.TestBedOptions;
import org.junit.jupiter.api.Test;

/** ARP crosses the inline segment untouched, so that peers resolve each other through it. */
class InlineArpTest {
  @Test
  void arpPassesTheSegmentUntouched() throws Exception {
    assumeTrue(Shell.isRoot(), "the pcap test bed needs root (network namespaces)");
    assumeTrue(new PcapProvider().availability().available(), "pcap unavailable");
    try (PcapTestBed bed = PcapTestBed.create(TestBedOptions.defaults())) {
      NamespaceNode peer = bed.peer();
      NamespaceNode host = bed.hostNode();
      // Forget the test bed's static entries: the next ping must resolve with ARP.
      peer.netns().ip("neigh", "flush", "dev", "eth0", "nud", "permanent");
      host.netns().ip("neigh", "flush", "dev", "eth0", "nud", "permanent");
      try (PacketCapture atHost = host.capture()) {
        assertTrue(peer.ping(host.address(), 56, Duration.ofSeconds(5)), "ping after ARP");
        List<byte[]> echo = atHost.await(p -> p.length > 20 && p[9] == 1, 1, Duration.ofSeconds(2));
        assertTrue(!echo.isEmpty(), "the echo request crossed");
      }
      String neigh = peer.netns().ip("neigh", "show", "dev", "eth0");
      assertTrue(neigh.contains(host.address().getHostAddress()), "resolved: " + neigh);
      assertTrue(!neigh.contains("PERMANENT"), "learned through ARP, not static: " + neigh);
      String hostMac = host.netns().ip("-o", "link", "show", "dev", "eth0");
      String mac = hostMac.replaceAll("(?s).*link/ether ([0-9a-f:]{17}).*", "$1");
      assertTrue(
          neigh.contains(mac), "the host's own MAC (ARP untouched): " + neigh + " vs " + mac);
    }
  }
}
