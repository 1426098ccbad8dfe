package org.divert4j.cli;

import static java.nio.charset.StandardCharsets.US_ASCII;

import java.io.PrintWriter;
import java.net.Inet4Address;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.divert4j.DivertAddress;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.HostStats;
import org.divert4j.InstalledRule;
import org.divert4j.Ipv4;
import org.divert4j.NetInterface;
import org.divert4j.NoListenerPolicy;
import org.divert4j.PacketTooLargeException;
import org.divert4j.SocketStats;
import org.divert4j.packet.Checksums;
import org.divert4j.packet.Ipv4View;
import org.divert4j.spi.DivertProvider;
import org.divert4j.testbed.Datagram;
import org.divert4j.testbed.PacketCapture;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.TestNode;
import org.divert4j.testbed.UdpEndpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code divert demo}: the main job of divert sockets, told on a backend's test bed (the simulation
 * by default): divert, drop, change and reinject; both fragment modes; the MTU limit on injection;
 * drop versus pass-through with no listener; IPv6 ({@link Ipv6Demo}). It checks each outcome
 * against SEMANTICS.md as it goes, prints a summary of what each rule showed, and exits 1 if
 * anything was unexpected.
 *
 * <p>Only the public API and test beds are used, so {@code --backend rawsocket} tells the same
 * story on the kernel's test bed. On the simulation every packet is processed before the call that
 * sent it returns and the program's thread is waited for after each step, so the output is the same
 * on every run.
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Show divert sockets at work on a backend's test bed (a host under diversion between two"
          + " peers): a program that receives diverted packets, drops some, changes one and"
          + " reinjects the rest; large datagrams in both fragment modes; the MTU limit on"
          + " injection; drop versus pass-through when no program listens; and IPv6.",
      "",
      "Runs on the simulation backend by default: no privileges needed."
    })
final class DemoCommand implements Callable<Integer> {
  static final int PORT = 1234;
  static final int IDLE_PORT = 4321;
  static final int UDP_PORT = 7777;
  static final int DISCARD_PORT = 9;
  static final int PEER_UDP_PORT = 40000;
  static final int BIG_DATAGRAM = 4000;

  @Spec CommandSpec spec;

  @Option(
      names = "--backend",
      paramLabel = "NAME",
      defaultValue = "sim",
      description = "The backend whose test bed runs the demo (default: ${DEFAULT-VALUE}).")
  String backend;

  @Mixin HostOptionsMixin hostOptions;

  private PrintWriter out;
  private DivertProvider provider;
  private DemoReport report;

  @Override
  public Integer call() throws Exception {
    out = spec.commandLine().getOut();
    report = new DemoReport(out);
    provider = Backends.available(backend);
    HostOptions base = hostOptions.toHostOptions();

    try (TestBed bed = open(base.toBuilder(), true)) {
      intro(bed);
      divertDropChangeReinject(bed);
    }
    largeDatagram(base, FragmentMode.PER_FRAGMENT);
    largeDatagram(base, FragmentMode.ALWAYS_DEFRAGMENT);
    mtuLimit(base);
    noListener(base);
    new Ipv6Demo(this, report, out).run(base);
    report.printSummary();
    return report.allExpected() ? ExitCodes.OK : ExitCodes.FAILURE;
  }

  /** A test bed for one section; only the first needs the far peer (and forwarding). */
  TestBed open(HostOptions.Builder host, boolean farPeer) throws DivertException {
    return provider.testBed(TestBedOptions.builder().host(host.build()).farPeer(farPeer).build());
  }

  // ------------------------------------------------------------------------------- the story

  /**
   * @return the provider whose test bed runs the demo
   */
  DivertProvider provider() {
    return provider;
  }

  private void intro(TestBed bed) {
    out.println("divert demo on the " + bed.backend() + " backend");
    out.println("  " + provider.description());
    out.println();
    out.println("The test bed: a host under diversion, a peer on one side and, when the host can");
    out.println("forward, a far peer on the other side.");
    StringBuilder sb = new StringBuilder("  peer ").append(addr(bed.peer())).append(" --- ");
    List<NetInterface> ifs = links(bed.hostNode());
    sb.append(ifs.isEmpty() ? "?" : name(ifs.get(0))).append(" [host]");
    if (ifs.size() > 1) {
      sb.append(' ').append(name(ifs.get(1)));
    }
    bed.farPeer().ifPresent(f -> sb.append(" --- far ").append(addr(f)));
    out.println(sb);
    out.println("  link MTU " + bed.options().peerMtu());
    if (bed.settleTime().isZero()) {
      out.println("  Every packet is handled before the call that sent it returns, so this output");
      out.println("  is the same on every run.");
    } else {
      out.println(
          "  The packets are real here: IP ids and the order of unrelated lines may differ.");
    }
  }

  private void divertDropChangeReinject(TestBed bed) throws Exception {
    report.heading(
        "1. Divert, then drop, change or reinject",
        "A DIVERT rule takes matching packets out of the host's IP stack and queues them on a",
        "divert port. The program bound to that port receives each whole packet; it goes no",
        "further unless the program writes it back. This program drops echo requests with seq 3",
        "and UDP to port 9, changes UDP to port 7777, and reinjects everything else.");
    DivertHost host = bed.host();
    InstalledRule icmp = host.addRule(DivertRule.parse("input -p icmp -j DIVERT " + PORT));
    InstalledRule udp = host.addRule(DivertRule.parse("input -p udp -j DIVERT " + PORT));
    out.println("  rule " + icmp.id() + ": " + icmp.rule());
    out.println("  rule " + udp.id() + ": " + udp.rule());
    out.println(
        "  program: bound to divert port " + PORT + ", receiving batches on its own thread");
    out.println("  host options: " + describe(host.options()));
    TestNode peer = bed.peer();
    TestNode hostNode = bed.hostNode();
    Inet4Address hostAddr = hostNode.address();
    DivertSocket socket = host.bind(PORT);
    long want = 0;
    try (DemoProgram program = new DemoProgram(socket, out, DemoCommand::section1Policy).start();
        PacketCapture atPeer = peer.capture();
        UdpEndpoint sink = hostNode.openUdp(UDP_PORT);
        UdpEndpoint discard = hostNode.openUdp(DISCARD_PORT)) {
      out.println();
      out.println("The peer pings the host four times:");
      for (int seq = 1; seq <= 4; seq++) {
        DemoPackets.sendEcho(peer, hostAddr, seq);
        report.awaitProgram(program, ++want);
        boolean reply = DemoPackets.echoReplied(bed, atPeer, seq);
        report.expect(
            reply == (seq != 3), "ping seq " + seq + (reply ? " answered" : " unanswered"));
        out.println("    peer: " + (reply ? "echo reply seq=" + seq : "no reply to seq=" + seq));
      }

      out.println();
      out.println("The peer sends \"hello, host\" to UDP port " + UDP_PORT + " on the host:");
      peer.sendUdp(hostAddr, PEER_UDP_PORT, UDP_PORT, "hello, host".getBytes(US_ASCII));
      report.awaitProgram(program, ++want);
      Datagram got = sink.receive(DemoPackets.wait(bed));
      String text = got == null ? null : new String(got.payload(), US_ASCII);
      report.expect("Hello, host".equals(text), "changed datagram delivered: " + text);
      out.println(
          "    host: "
              + (got == null
                  ? "nothing arrived on port " + UDP_PORT
                  : "received \""
                      + text
                      + "\" from "
                      + got.source().getHostAddress()
                      + ":"
                      + got.sourcePort()
                      + " (with a valid checksum)"));

      out.println("The peer sends \"discard me\" to UDP port " + DISCARD_PORT + ":");
      peer.sendUdp(hostAddr, PEER_UDP_PORT, DISCARD_PORT, "discard me".getBytes(US_ASCII));
      report.awaitProgram(program, ++want);
      Datagram discarded = discard.receive(DemoPackets.wait(bed));
      report.expect(discarded == null, "dropped datagram not delivered");
      out.println(
          "    host: "
              + (discarded == null
                  ? "nothing arrived on port " + DISCARD_PORT
                  : "received a datagram on port " + DISCARD_PORT));

      if (bed.farPeer().isPresent()) {
        TestNode far = bed.farPeer().get();
        out.println();
        out.println(
            "The peer pings the far peer through the host; input sees forwarded packets too:");
        DemoPackets.sendEcho(peer, far.address(), 5);
        want += 2; // the request on its way to far, the reply on its way back
        report.awaitProgram(program, want);
        boolean reply = DemoPackets.echoReplied(bed, atPeer, 5);
        report.expect(reply, "forwarded ping answered");
        out.println(
            "    peer: "
                + (reply ? "echo reply seq=5 from " + far.address().getHostAddress() : "no reply"));
      }
      report.checkProgram(program);
      report.addRow("1", icmp, program, "");
      report.addRow("1", udp, program, "");
      report.line("        socket " + PORT + ": " + socketLine(socket.stats()));
    }
  }

  /** Section 1's program: what to drop, what to change. */
  static DemoProgram.Decision section1Policy(ByteBuffer p, Ipv4View v) {
    int proto = v.protocol();
    if (proto == Ipv4View.PROTOCOL_ICMP && v.icmpType() == 8 && DemoPackets.echoSeq(p, v) == 3) {
      return DemoProgram.Decision.drop();
    }
    if (proto == Ipv4View.PROTOCOL_UDP && v.destinationPort() == DISCARD_PORT) {
      return DemoProgram.Decision.drop();
    }
    if (proto == Ipv4View.PROTOCOL_UDP
        && v.destinationPort() == UDP_PORT
        && !v.isFragment()
        && v.payloadLength() > 8
        && p.get(v.payloadOffset() + 8) == 'h') {
      int udp = v.payloadOffset();
      int oldSum = p.getShort(udp + 6) & 0xffff;
      p.put(udp + 8, (byte) 'H');
      int newSum = Checksums.udp(p, p.position());
      p.putShort(udp + 6, (short) newSum);
      return new DemoProgram.Decision(
          DemoProgram.Verdict.CHANGE,
          "change, reinject",
          String.format(
              Locale.ROOT,
              "changed 'h' to 'H', fixed the UDP checksum (%04x -> %04x, Checksums.udp)",
              oldSum,
              newSum));
    }
    return DemoProgram.Decision.reinject();
  }

  private void largeDatagram(HostOptions base, FragmentMode mode) throws Exception {
    boolean perFragment = mode == FragmentMode.PER_FRAGMENT;
    if (perFragment) {
      report.heading(
          "2. A large datagram, per-fragment mode (the default)",
          "The seed's default: \"the divert socket receives individual fragments of packets that",
          "are larger than MTU\"; defragmenting is the program's job. A rule on protocol only",
          "diverts every fragment, and fragments written back unchanged arrive as one datagram.");
    } else {
      report.heading(
          "3. The same datagram, always-defragment mode",
          "The seed's \"always defragment\" option: the host reassembles the fragments before the",
          "rules see them, so the program receives the whole datagram once (and the host would",
          "fragment it again on the way out if it had to leave by a smaller MTU).");
    }
    try (TestBed bed = open(base.toBuilder().fragments(mode), false)) {
      DivertHost host = bed.host();
      InstalledRule rule = host.addRule(DivertRule.parse("input -p udp -j DIVERT " + PORT));
      out.println("  host: fragments=" + HostOptionsMixin.spell(mode) + "; rule: " + rule.rule());
      byte[] payload = DemoPackets.pattern(BIG_DATAGRAM - 28);
      int mtu = bed.options().peerMtu();
      int perFragmentData = (mtu - 20) / 8 * 8; // fragment data is cut at multiples of 8 bytes
      int expected = perFragment ? DemoPackets.ceilDiv(BIG_DATAGRAM - 20, perFragmentData) : 1;
      try (DemoProgram program =
              new DemoProgram(host.bind(PORT), out, (p, v) -> DemoProgram.Decision.reinject())
                  .start();
          UdpEndpoint sink = bed.hostNode().openUdp(UDP_PORT)) {
        out.println(
            "The peer sends a "
                + BIG_DATAGRAM
                + "-byte UDP datagram ("
                + payload.length
                + " bytes of data) to the host over MTU "
                + mtu
                + ":");
        bed.peer().sendUdp(bed.hostNode().address(), PEER_UDP_PORT, UDP_PORT, payload);
        report.awaitProgram(program, expected);
        Datagram got = sink.receive(DemoPackets.wait(bed));
        boolean intact = got != null && Arrays.equals(got.payload(), payload);
        long delivered = program.handled();
        report.expect(delivered == expected, delivered + " deliveries, expected " + expected);
        report.expect(intact, "large datagram arrived intact");
        out.println(
            "    "
                + delivered
                + (delivered == 1 ? " delivery" : " deliveries")
                + " to the program; host: "
                + (intact
                    ? "received all " + payload.length + " bytes intact"
                    : got == null ? "received nothing" : "received a damaged datagram"));
        report.checkProgram(program);
        HostStats hs = host.stats();
        report.addRow(
            perFragment ? "2" : "3",
            rule,
            program,
            perFragment
                ? "one datagram, delivered as its fragments"
                : "one datagram, reassembled by the host (" + hs.reassembled() + " reassembled)");
      }
    }
  }

  private void mtuLimit(HostOptions base) throws Exception {
    report.heading(
        "4. The MTU limit on injection",
        "The seed: \"an application cannot inject any fragments that are larger than MTU, because",
        "they will be dropped\". divert4j makes the drop visible: the send fails, and the error",
        "carries the MTU. With always-defragment the host fragments what the program injects.");
    long injected = 0;
    int refused = 0;
    try (TestBed bed = open(base.toBuilder().fragments(FragmentMode.PER_FRAGMENT), false);
        UdpEndpoint sink = bed.peer().openUdp(UDP_PORT)) {
      int mtu = bed.options().peerMtu();
      out.println(
          "  host: fragments=per-fragment; the program injects UDP datagrams to the peer (MTU "
              + mtu
              + ")");
      try (DivertSocket socket = bed.host().bind(PORT)) {
        ByteBuffer tooBig = DemoPackets.udpToPeer(bed, mtu + 1);
        try {
          socket.send(tooBig, DivertAddress.OUTBOUND);
          report.expect(false, "oversize injection accepted");
          out.println("  inject " + (mtu + 1) + " bytes: sent (unexpected)");
        } catch (PacketTooLargeException e) {
          refused++;
          report.expect(e.mtu() == mtu, "error carries MTU " + e.mtu());
          out.println("  inject " + (mtu + 1) + " bytes: refused:");
          out.println("    " + e.getMessage());
        }
        Datagram none = sink.receive(DemoPackets.wait(bed));
        report.expect(none == null, "nothing reached the peer");
        socket.send(DemoPackets.udpToPeer(bed, mtu), DivertAddress.OUTBOUND);
        Datagram got = sink.receive(DemoPackets.wait(bed));
        report.expect(
            got != null && got.payload().length == mtu - 28, "exactly-MTU datagram arrived");
        out.println(
            "  inject "
                + mtu
                + " bytes: sent; peer received "
                + (got == null ? "nothing" : got.payload().length + " bytes of data"));
        injected += socket.stats().injected();
      }
    }
    try (TestBed bed = open(base.toBuilder().fragments(FragmentMode.ALWAYS_DEFRAGMENT), false);
        UdpEndpoint sink = bed.peer().openUdp(UDP_PORT);
        PacketCapture wire = bed.peer().capture();
        DivertSocket socket = bed.host().bind(PORT)) {
      out.println("  host: fragments=always-defragment");
      socket.send(DemoPackets.udpToPeer(bed, BIG_DATAGRAM), DivertAddress.OUTBOUND);
      Datagram got = sink.receive(DemoPackets.wait(bed));
      int hostAddr = Ipv4.toInt(bed.hostNode().address());
      int fragments =
          DemoPackets.ceilDiv(BIG_DATAGRAM - 20, (bed.options().peerMtu() - 20) / 8 * 8);
      List<byte[]> frames =
          wire.await(
              p -> p.length >= 20 && p[9] == 17 && DemoPackets.bits(p, 12) == hostAddr,
              fragments,
              DemoPackets.wait(bed));
      boolean intact = got != null && got.payload().length == BIG_DATAGRAM - 28;
      report.expect(
          intact && frames.size() > 1, "defragment-mode injection fragmented and delivered");
      out.println(
          "  inject "
              + BIG_DATAGRAM
              + " bytes: sent as "
              + frames.size()
              + " fragments of at most "
              + bed.options().peerMtu()
              + " bytes; peer received "
              + (got == null ? "nothing" : got.payload().length + " bytes of data"));
      injected += socket.stats().injected();
    }
    report.row(
        "4",
        "(no rule: the program injects)",
        "",
        "",
        "",
        "",
        injected + " injected, " + refused + " refused as too large");
  }

  private void noListener(HostOptions base) throws Exception {
    report.heading(
        "5. No listener: drop or pass through",
        "The seed: with a DIVERT rule and no program listening on its port, matching packets are",
        "\"silently dropped, as if it were a DENY rule\"; the pass-through option lets them go on",
        "\"as if nothing happened\", so a rule can stay in place while nobody listens.");
    out.println(
        "  rule: input -p icmp -j DIVERT "
            + IDLE_PORT
            + ", and nothing bound to port "
            + IDLE_PORT);
    for (NoListenerPolicy policy : NoListenerPolicy.values()) {
      try (TestBed bed = open(base.toBuilder().noListener(policy), false)) {
        InstalledRule rule =
            bed.host().addRule(DivertRule.parse("input -p icmp -j DIVERT " + IDLE_PORT));
        boolean reply = bed.peer().ping(bed.hostNode().address(), 56, DemoPackets.wait(bed));
        HostStats hs = bed.host().stats();
        boolean pass = policy == NoListenerPolicy.PASS_THROUGH;
        report.expect(reply == pass, "no-listener " + policy + ": ping " + reply);
        String counted =
            pass
                ? hs.passedNoListener() + " passed through"
                : hs.dropped(DropReason.NO_LISTENER) + " dropped for no listener";
        out.printf(
            Locale.ROOT,
            "  no-listener=%-13s peer pings the host: %s%n",
            HostOptionsMixin.spell(policy) + ":",
            reply ? "reply" : "no reply");
        report.row(
            "5",
            rule.rule().toString(),
            "0",
            "",
            "",
            "",
            HostOptionsMixin.spell(policy) + ": " + counted);
      }
    }
  }

  // ------------------------------------------------------------------------------- helpers

  private static String socketLine(SocketStats s) {
    return "received "
        + s.received()
        + ", written back "
        + s.reinjected()
        + ", dropped by the program "
        + s.dropped(DropReason.PROGRAM)
        + ", other drops "
        + (s.droppedTotal() - s.dropped(DropReason.PROGRAM));
  }

  private static String describe(HostOptions o) {
    return "fragments="
        + HostOptionsMixin.spell(o.fragments())
        + ", no-listener="
        + HostOptionsMixin.spell(o.noListener())
        + ", queue "
        + o.queueLength()
        + (o.failOpen() ? ", fail-open" : "");
  }

  private static List<NetInterface> links(TestNode node) {
    List<NetInterface> l = new ArrayList<>();
    for (NetInterface n : node.interfaces()) {
      if (!n.address().isLoopbackAddress()) {
        l.add(n);
      }
    }
    return l;
  }

  private static String name(NetInterface n) {
    return n.name() + " " + n.address().getHostAddress();
  }

  private static String addr(TestNode n) {
    return n.address().getHostAddress();
  }
}
