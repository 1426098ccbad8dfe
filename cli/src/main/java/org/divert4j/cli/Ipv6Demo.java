package org.divert4j.cli;

import java.io.PrintWriter;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.divert4j.Capability;
import org.divert4j.DivertAddress;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.InstalledRule;
import org.divert4j.IpFamily;
import org.divert4j.Ipv6Addresses;
import org.divert4j.PacketTooLargeException;
import org.divert4j.packet.Ipv6Builder;
import org.divert4j.testbed.Datagram;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.UdpEndpoint;

/**
 * The demo's IPv6 section (SEMANTICS.md section K): a 3000-byte UDP datagram in both fragment modes
 * (S57, S58) and the MTU refusal with the MTU (S59). Part of {@link DemoCommand}, whose output,
 * checks and summary it shares.
 */
final class Ipv6Demo {
  static final int DATAGRAM = 3000;
  private static final int HEADERS = 48; // IPv6 40 + UDP 8

  private final DemoCommand demo;
  private final DemoReport report;
  private final PrintWriter out;

  Ipv6Demo(DemoCommand demo, DemoReport report, PrintWriter out) {
    this.demo = demo;
    this.report = report;
    this.out = out;
  }

  void run(HostOptions base) throws Exception {
    report.heading(
        "6. IPv6",
        "Every rule above holds for IPv6 too, through the same chains, ports and options. IPv6",
        "routers never fragment, so only the sending host cuts a datagram, each piece carrying a",
        "Fragment header; and there is no Don't Fragment flag to ask for the MTU refusal.");
    if (!demo.provider().capabilities().contains(Capability.IPV6)) {
      out.println("  skipped: this backend does not declare IPV6");
      return;
    }
    datagram(base, FragmentMode.PER_FRAGMENT);
    datagram(base, FragmentMode.ALWAYS_DEFRAGMENT);
    mtuLimit(base);
  }

  private void datagram(HostOptions base, FragmentMode mode) throws Exception {
    boolean perFragment = mode == FragmentMode.PER_FRAGMENT;
    try (TestBed bed = demo.open(base.toBuilder().fragments(mode), false)) {
      DivertHost host = bed.host();
      InstalledRule rule = host.addRule(DivertRule.parse("input -6 -p udp -j DIVERT " + port()));
      out.println();
      out.println("  host: fragments=" + HostOptionsMixin.spell(mode) + "; rule: " + rule.rule());
      byte[] payload = DemoPackets.pattern(DATAGRAM - HEADERS);
      int mtu = bed.options().peerMtu();
      // the fragmentable part (UDP header and data) is cut at multiples of 8 bytes, each fragment
      // carrying the 40-byte header and an 8-byte Fragment header
      int expected = perFragment ? DemoPackets.ceilDiv(DATAGRAM - 40, (mtu - 48) / 8 * 8) : 1;
      InetAddress hostAddr = bed.hostNode().address(IpFamily.IPV6).orElseThrow();
      try (DemoProgram program =
              new DemoProgram(host.bind(port()), out, (p, v) -> DemoProgram.Decision.reinject())
                  .start();
          UdpEndpoint sink = bed.hostNode().openUdp(DemoCommand.UDP_PORT)) {
        out.println(
            "The peer sends a "
                + DATAGRAM
                + "-byte UDP datagram ("
                + payload.length
                + " bytes of data) to "
                + Ipv6Addresses.toText(hostAddr)
                + " over MTU "
                + mtu
                + ":");
        bed.peer().sendUdp(hostAddr, DemoCommand.PEER_UDP_PORT, DemoCommand.UDP_PORT, payload);
        report.awaitProgram(program, expected);
        Datagram got = sink.receive(DemoPackets.wait(bed));
        boolean intact = got != null && Arrays.equals(got.payload(), payload);
        long delivered = program.handled();
        report.expect(delivered == expected, delivered + " IPv6 deliveries, expected " + expected);
        report.expect(intact, "large IPv6 datagram arrived intact");
        out.println(
            "    "
                + delivered
                + (delivered == 1 ? " delivery" : " deliveries")
                + " to the program; host: "
                + (intact
                    ? "received all " + payload.length + " bytes intact"
                    : got == null ? "received nothing" : "received a damaged datagram"));
        report.checkProgram(program);
        report.addRow(
            "6",
            rule,
            program,
            perFragment
                ? "IPv6, per-fragment: delivered as its fragments (S57)"
                : "IPv6, always-defragment: reassembled, no Fragment header (S58)");
      }
    }
  }

  private void mtuLimit(HostOptions base) throws Exception {
    int refused = 0;
    long injected;
    try (TestBed bed = demo.open(base.toBuilder().fragments(FragmentMode.PER_FRAGMENT), false);
        UdpEndpoint sink = bed.peer().openUdp(DemoCommand.UDP_PORT);
        DivertSocket socket = bed.host().bind(port())) {
      int mtu = bed.options().peerMtu();
      out.println();
      out.println("  host: fragments=per-fragment; the program injects IPv6 datagrams to the peer");
      try {
        socket.send(udpToPeer(bed, mtu + 1), DivertAddress.OUTBOUND);
        report.expect(false, "oversize IPv6 injection accepted");
        out.println("  inject " + (mtu + 1) + " bytes: sent (unexpected)");
      } catch (PacketTooLargeException e) {
        refused++;
        report.expect(e.mtu() == mtu, "IPv6 error carries MTU " + e.mtu());
        out.println("  inject " + (mtu + 1) + " bytes: refused:");
        out.println("    " + e.getMessage());
      }
      report.expect(
          sink.receive(DemoPackets.wait(bed)) == null, "no IPv6 datagram reached the peer");
      socket.send(udpToPeer(bed, mtu), DivertAddress.OUTBOUND);
      Datagram got = sink.receive(DemoPackets.wait(bed));
      report.expect(
          got != null && got.payload().length == mtu - HEADERS,
          "exactly-MTU IPv6 datagram arrived");
      out.println(
          "  inject "
              + mtu
              + " bytes: sent; peer received "
              + (got == null ? "nothing" : got.payload().length + " bytes of data"));
      injected = socket.stats().injected();
    }
    report.row(
        "6",
        "(no rule: the program injects IPv6)",
        "",
        "",
        "",
        "",
        injected + " injected, " + refused + " refused as too large (S59)");
  }

  private static int port() {
    return DemoCommand.PORT;
  }

  private static ByteBuffer udpToPeer(TestBed bed, int length) {
    return Ipv6Builder.udp(DemoCommand.UDP_PORT, DemoCommand.UDP_PORT)
        .source(bed.hostNode().address(IpFamily.IPV6).orElseThrow().getAddress())
        .destination(bed.peer().address(IpFamily.IPV6).orElseThrow().getAddress())
        .payload(DemoPackets.pattern(length - HEADERS))
        .build();
  }
}
