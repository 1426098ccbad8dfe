package org.divert4j.tck;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.InetAddress;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.UdpEndpoint;

/**
 * The conversation of S68: two UDP connections between the peer (ports {@value #PORT_A} and {@value
 * #PORT_B}) and the host's port 7000, each packet answered in turn, with the rules {@code input -p
 * udp --dport 7000 filter "flow.Packets <= 3"} and {@code output -p udp --sport 7000 filter
 * "flow.Packets <= 3"} diverting to one socket. Each packet is sent only after the one before it
 * arrived, so the counts are known exactly: packet k of a connection (both directions counted) is
 * diverted, checked and written back when k is at most {@value #FIRST}, and arrives untouched
 * without the program otherwise.
 */
final class FlowConversation {
  static final int FIRST = 3;
  static final int ROUNDS = 4;
  static final int PORT_A = 7101;
  static final int PORT_B = 7103;

  private final Probe probe;
  private final DivertSocket socket;
  private final UdpEndpoint host;
  private final InetAddress hostAddress;
  private final InetAddress peerAddress;
  private final int[] counts = new int[2];

  private FlowConversation(Probe probe, DivertSocket socket, UdpEndpoint host) {
    this.probe = probe;
    this.socket = socket;
    this.host = host;
    this.hostAddress = probe.host();
    this.peerAddress = probe.peer();
  }

  static void run(TestBed bed, Probe p) throws Exception {
    try (UdpEndpoint host = bed.hostNode().openUdp(TckVerification.UDP_PORT);
        UdpEndpoint a = bed.peer().openUdp(PORT_A);
        UdpEndpoint b = bed.peer().openUdp(PORT_B)) {
      String filter = " filter \"flow.Packets <= " + FIRST + "\" -j DIVERT " + TckVerification.PORT;
      bed.host().addRule(DivertRule.parse("input -p udp --dport 7000" + filter));
      bed.host().addRule(DivertRule.parse("output -p udp --sport 7000" + filter));
      try (DivertSocket socket = bed.host().bind(TckVerification.PORT)) {
        FlowConversation c = new FlowConversation(p, socket, host);
        for (int round = 0; round < ROUNDS; round++) {
          // the connections interleave, and each answers in turn
          c.toHost(a, 0);
          c.toHost(b, 1);
          c.toPeer(b, 1);
          c.toPeer(a, 0);
        }
        p.expectNothing(socket, "only the first " + FIRST + " packets of each connection");
        assertEquals(
            2L * FIRST,
            socket.stats().received(),
            "the socket received the first "
                + FIRST
                + " packets of each of the 2 connections: "
                + socket.stats());
      }
    }
  }

  private void toHost(UdpEndpoint peer, int connection) throws Exception {
    byte[] data = next(connection);
    peer.send(hostAddress, TckVerification.UDP_PORT, data);
    pass(data, connection, "from the peer's port " + peer.port(), host);
  }

  private void toPeer(UdpEndpoint peer, int connection) throws Exception {
    byte[] data = next(connection);
    host.send(peerAddress, peer.port(), data);
    pass(data, connection, "from the host to the peer's port " + peer.port(), peer);
  }

  private byte[] next(int connection) {
    int k = ++counts[connection];
    return Packets.pattern(48, connection * 64 + k);
  }

  private void pass(byte[] data, int connection, String from, UdpEndpoint to) throws Exception {
    int k = counts[connection];
    String what =
        "packet "
            + k
            + " of connection "
            + (char) ('A' + connection)
            + " ("
            + from
            + "; both directions counted)";
    if (k <= FIRST) {
      Probe.Received r =
          probe.receive(socket, what + ", which flow.Packets <= " + FIRST + " takes");
      assertArrayEquals(data, Packets.udpData(r.bytes()), what + ": the diverted packet");
      probe.writeBack(socket, r);
      probe.datagram(to, data, what + ", written back");
    } else {
      probe.datagram(
          to, data, what + ", past the rule without the program (count above " + FIRST + ")");
    }
  }
}
