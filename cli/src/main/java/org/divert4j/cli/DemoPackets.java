package org.divert4j.cli;

import java.io.IOException;
import java.net.Inet4Address;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.function.Predicate;
import org.divert4j.Ipv4;
import org.divert4j.packet.Ipv4Builder;
import org.divert4j.packet.Ipv4View;
import org.divert4j.testbed.PacketCapture;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestNode;

/**
 * The packets {@code divert demo} sends and looks for on a test bed: echo requests and their
 * replies, UDP datagrams to the peer, patterned payloads, and how long to look. Stateless.
 */
final class DemoPackets {
  static final int ECHO_ID = 4660;

  private DemoPackets() {}

  /** How long to look for something after the program has handled it: zero on a simulation. */
  static Duration wait(TestBed bed) {
    Duration settle = bed.settleTime();
    if (settle.isZero()) {
      return settle;
    }
    return settle.compareTo(Duration.ofMillis(500)) < 0 ? Duration.ofMillis(500) : settle;
  }

  static int ceilDiv(int a, int b) {
    return (a + b - 1) / b;
  }

  static void sendEcho(TestNode from, Inet4Address to, int seq) throws IOException {
    ByteBuffer echo =
        Ipv4Builder.icmpEchoRequest(ECHO_ID, seq)
            .source(Ipv4.toInt(from.address()))
            .destination(Ipv4.toInt(to))
            .identification(0x100 + seq)
            .payload(pattern(56))
            .build();
    from.sendRaw(echo);
  }

  static boolean echoReplied(TestBed bed, PacketCapture capture, int seq)
      throws InterruptedException {
    Predicate<byte[]> reply =
        p -> {
          int hl = (p[0] & 0x0f) * 4;
          return p.length >= hl + 8
              && p[9] == 1
              && p[hl] == 0
              && ((p[hl + 4] & 0xff) << 8 | (p[hl + 5] & 0xff)) == ECHO_ID
              && ((p[hl + 6] & 0xff) << 8 | (p[hl + 7] & 0xff)) == seq;
        };
    return !capture.await(reply, 1, wait(bed)).isEmpty();
  }

  static ByteBuffer udpToPeer(TestBed bed, int totalLength) {
    return Ipv4Builder.udp(DemoCommand.UDP_PORT, DemoCommand.UDP_PORT)
        .source(Ipv4.toInt(bed.hostNode().address()))
        .destination(Ipv4.toInt(bed.peer().address()))
        .payload(pattern(totalLength - 28))
        .build();
  }

  static int echoSeq(ByteBuffer p, Ipv4View v) {
    return v.payloadLength() >= 8 ? p.getShort(v.payloadOffset() + 6) & 0xffff : -1;
  }

  static byte[] pattern(int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) ('a' + i % 26);
    }
    return b;
  }

  static int bits(byte[] p, int at) {
    return (p[at] & 0xff) << 24
        | (p[at + 1] & 0xff) << 16
        | (p[at + 2] & 0xff) << 8
        | p[at + 3] & 0xff;
  }
}
