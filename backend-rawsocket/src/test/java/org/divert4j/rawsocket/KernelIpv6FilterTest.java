package org.divert4j.rawsocket;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.IpFamily;
import org.divert4j.Ipv6Addresses;
import org.divert4j.PacketBatch;
import org.divert4j.testbed.Datagram;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Filters on IPv6 rules in the kernel (S67 in ip6tables): the filter's classic BPF programs run in
 * xt_bpf on the IPv6 header, so a packet the filter rejects never reaches the queue, and one it
 * accepts is diverted; a filter that needs the upper layer of an IPv6 packet is refused by addRule.
 */
class KernelIpv6FilterTest {
  private static final Duration WAIT = Duration.ofSeconds(2);
  private TestBed bed;

  @BeforeEach
  void root() {
    Root.assumeKernel();
  }

  @AfterEach
  void cleanup() {
    if (bed != null) {
      bed.close();
    }
  }

  private InetAddress host6() {
    return bed.hostNode().address(IpFamily.IPV6).orElseThrow();
  }

  private InetAddress peer6() {
    return bed.peer().address(IpFamily.IPV6).orElseThrow();
  }

  /** Sends one datagram from the peer to the host's port 7000 and reports what the socket got. */
  private int sendAndReceive(DivertSocket s, PacketBatch b, byte[] data) throws Exception {
    bed.peer().sendUdp(host6(), 5000, 7000, data);
    int n = s.receive(b, WAIT);
    if (n > 0) {
      s.send(b); // written back: the endpoint gets it
    }
    return n;
  }

  @Test
  void ipv6FiltersDecideInTheKernel() throws Exception {
    bed = new RawSocketProvider().testBed(TestBedOptions.defaults());
    PacketBatch b = PacketBatch.allocate(8);
    try (UdpEndpoint endpoint = bed.hostNode().openUdp(7000);
        DivertSocket s = bed.host().bind(1234)) {
      String peer = Ipv6Addresses.toText(peer6());
      bed.host()
          .addRule(
              DivertRule.parse(
                  "input -6 -p udp filter \"ipv6.SrcAddr == "
                      + peer
                      + " and ipv6.HopLimit > 1\" -j DIVERT 1234"));
      byte[] one = "accepted".getBytes(StandardCharsets.US_ASCII);
      assertEquals(1, sendAndReceive(s, b, one), "the filter accepts the peer's datagram");
      assertEquals(6, b.packet(0).get(0) >>> 4, "an IPv6 packet");
      Datagram d = endpoint.receive(WAIT);
      assertNotNull(d, "the written-back datagram");
      assertArrayEquals(one, d.payload());

      bed.host().rules().get(0).remove();
      bed.host()
          .addRule(
              DivertRule.parse(
                  "input -6 -p udp filter \"ipv6.SrcAddr == 2001:db8::/32\" -j DIVERT 1234"));
      byte[] two = "rejected".getBytes(StandardCharsets.US_ASCII);
      assertEquals(0, sendAndReceive(s, b, two), "the filter rejects it: never queued (S67)");
      d = endpoint.receive(WAIT);
      assertNotNull(d, "the datagram the filter rejected goes on");
      assertArrayEquals(two, d.payload());

      // a rule of both families with a filter of IPv6 header fields is installed in ip6tables too
      bed.host().rules().get(0).remove();
      bed.host()
          .addRule(DivertRule.parse("input -p udp filter \"ipv6.NextHdr == 17\" -j DIVERT 1234"));
      byte[] three = "both families".getBytes(StandardCharsets.US_ASCII);
      assertEquals(1, sendAndReceive(s, b, three), "diverted by the family-less rule");
      d = endpoint.receive(WAIT);
      assertNotNull(d);
      assertArrayEquals(three, d.payload());
    }
  }

  @Test
  void anIpv6FilterThatNeedsTheUpperLayerIsRefused() throws Exception {
    bed = new RawSocketProvider().testBed(TestBedOptions.defaults());
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                bed.host()
                    .addRule(
                        DivertRule.parse(
                            "input -6 -p udp filter \"udp.DstPort == 7000\" -j DIVERT 1234")));
    assertTrue(e.getMessage().contains("udp.DstPort"), e.getMessage());
    assertEquals(0, bed.host().rules().size(), "nothing installed");
  }
}
