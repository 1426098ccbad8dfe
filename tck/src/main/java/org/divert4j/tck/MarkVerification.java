package org.divert4j.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.Capability;
import org.divert4j.DivertAddress;
import org.divert4j.DivertSocket;
import org.divert4j.PacketBatch;
import org.divert4j.testbed.MarkCounter;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestNode;
import org.junit.jupiter.api.Test;

/**
 * Area P of SEMANTICS.md: the packet mark (S73, S74), and S3 for marked traffic.
 *
 * <p>The host node sends UDP datagrams to the peer from a socket with a firewall mark, through the
 * host's output chain; a counter of the test bed sees the mark each one leaves the host with, after
 * every rule of the backend ({@link TestNode#countOutgoingMarks}). Marks cannot cross a network
 * namespace (the kernel clears them), so the host's own traffic is what is measured.
 */
@SpecArea(id = "P", title = "Marks and metadata")
public class MarkVerification extends TckVerification {
  /** For the JUnit engine and subclasses. */
  public MarkVerification() {}

  /** Every single-bit mark, all 32 bits, and the 0x18004000 (kube-proxy's bit and two). */
  private static int[] everyBit() {
    int[] m = new int[34];
    for (int b = 0; b < 32; b++) {
      m[b] = 1 << b;
    }
    m[32] = -1;
    m[33] = 0x18004000;
    return m;
  }

  /** Waits until each mark was counted {@code want} times, or the timeout; returns the counts. */
  private static long[] settle(MarkCounter c, int[] marks, long want, Duration timeout)
      throws IOException, InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    long[] n = new long[marks.length];
    while (true) {
      boolean all = true;
      for (int i = 0; i < marks.length; i++) {
        n[i] = c.count(marks[i]);
        all &= n[i] >= want;
      }
      if (all || System.nanoTime() - end > 0) {
        return n;
      }
      Thread.sleep(20);
    }
  }

  private static String hex(int v) {
    return "0x" + Integer.toHexString(v);
  }

  /**
   * Receives {@code count} datagrams sent with the marks of {@link #everyBit}'s first 32 (payload
   * byte 0 = the bit), and returns the mark each was delivered with, by bit.
   */
  private static int[] receiveByBit(DivertSocket socket, PacketBatch batch, Duration timeout)
      throws Exception {
    int[] delivered = new int[32];
    boolean[] seen = new boolean[32];
    int got = 0;
    long end = System.nanoTime() + timeout.toNanos();
    while (got < 32) {
      // past the deadline, only a receive that finds nothing ends the wait:
      // a thread that got no CPU until past the deadline still reads what arrived in time
      boolean late = System.nanoTime() - end >= 0;
      int n = socket.receive(batch, late ? Duration.ZERO : Duration.ofMillis(200));
      if (n == 0 && late) {
        break;
      }
      for (int i = 0; i < n; i++) {
        ByteBuffer p = batch.packet(i);
        int b = p.get(((p.get(0) & 0x0f) * 4) + 8);
        if (b < 0 || b >= 32 || seen[b]) {
          fail("an unexpected datagram was diverted: payload byte " + b);
        }
        seen[b] = true;
        delivered[b] = batch.mark(i);
        got++;
      }
      socket.send(batch); // written back unchanged, mark included
    }
    assertEquals(32, got, "each of the 32 marked datagrams must be diverted once");
    return delivered;
  }

  /** The bits a backend keeps for itself: those it delivers as 0 ({@link PacketBatch#mark}). */
  private static int hiddenBits(int[] delivered) {
    int hidden = 0;
    for (int b = 0; b < 32; b++) {
      if (delivered[b] == 0) {
        hidden |= 1 << b;
      } else {
        assertEquals(1 << b, delivered[b], "a packet sent with mark " + hex(1 << b));
      }
    }
    return hidden;
  }

  /**
   * <b>S3</b> [cap: PACKET_MARK]: traffic that no rule matches is never touched, whatever mark it
   * carries. With an output rule for UDP port 7000, the host sends datagrams to port 7002 carrying
   * each single-bit mark, all 32 bits, and 0x18004000: each leaves the host with its mark
   * unchanged, and the socket sees none of them.
   *
   * <p>If it fails: one of the backend's own lines (a chain-end line that clears a "stale" state,
   * say) matches packets by mark alone and rewrites marks of packets no rule selected; on a host
   * with kube-proxy, WireGuard or Tailscale that breaks masquerading and routing.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S3", capabilities = Capability.PACKET_MARK)
  public void S3_trafficNoRuleMatchesKeepsItsMarkOnEveryBit(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      int[] marks = everyBit();
      try (DivertSocket socket = divert(bed, PORT, "output -p udp --dport 7000");
          MarkCounter counter = bed.hostNode().countOutgoingMarks(UDP_PORT2, -1, marks)) {
        for (int i = 0; i < marks.length; i++) {
          bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT2, pattern(40, i), marks[i]);
        }
        bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, pattern(40, 99), 0x4000);
        p.receive(socket, "the datagram the rule matches (the rule is live)");
        long[] n = settle(counter, marks, 1, tck.timeout());
        List<String> wrong = new ArrayList<>();
        for (int i = 0; i < marks.length; i++) {
          if (n[i] != 1) {
            wrong.add(hex(marks[i]) + " left " + n[i] + " times");
          }
        }
        assertTrue(wrong.isEmpty(), "marks changed on traffic no rule matches: " + wrong);
        p.expectNothing(socket, "no rule matches the marked datagrams");
      }
    }
  }

  private static byte[] pattern(int size, int first) {
    byte[] b = Packets.pattern(size, first);
    b[0] = (byte) first;
    return b;
  }

  /**
   * <b>S74</b> [cap: PACKET_MARK]: a backend that keeps state in marks uses a contiguous mask of at
   * most 12 bits and never reads or changes a bit outside it. The host sends 32 datagrams through
   * an output rule, each with one bit of the mark set; the program writes each back unchanged. The
   * bits the backend delivers as 0 are its own: at most 12, contiguous. Every other mark arrives as
   * it was sent and leaves the host unchanged, and so does the mark with every one of those bits.
   *
   * <p>If it fails: the backend claims more of the mark than S74 allows (other software's marks
   * then collide with it), or loses or rewrites bits outside its own on written-back packets (an
   * NFQUEUE verdict's mark replaces the whole mark).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S74", capabilities = Capability.PACKET_MARK)
  public void S74_theBackendKeepsAtMostTwelveContiguousBitsAndNoOther(TckContext tck)
      throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      int[] single = new int[32];
      for (int b = 0; b < 32; b++) {
        single[b] = 1 << b;
      }
      PacketBatch batch = PacketBatch.allocate(32);
      try (DivertSocket socket = divert(bed, PORT, "output -p udp --dport 7000");
          MarkCounter counter = bed.hostNode().countOutgoingMarks(UDP_PORT, -1, single)) {
        for (int b = 0; b < 32; b++) {
          bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, pattern(40, b), single[b]);
        }
        int hidden = hiddenBits(receiveByBit(socket, batch, tck.timeout()));
        int low = hidden == 0 ? 0 : Integer.numberOfTrailingZeros(hidden);
        assertTrue(Integer.bitCount(hidden) <= 12, "the backend keeps " + hex(hidden));
        assertEquals(
            0, (hidden >>> low) & ((hidden >>> low) + 1), "not contiguous: " + hex(hidden));
        long[] n = settle(counter, single, 1, tck.timeout());
        for (int b = 0; b < 32; b++) {
          if ((hidden & (1 << b)) == 0) {
            assertEquals(1, n[b], "the written-back packet with mark " + hex(1 << b) + " left");
          }
        }
        try (MarkCounter all = bed.hostNode().countOutgoingMarks(UDP_PORT, -1, ~hidden)) {
          bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, pattern(40, 40), ~hidden);
          int got = socket.receive(batch, tck.timeout());
          assertEquals(1, got, "the datagram with every bit outside the backend's");
          assertEquals(~hidden, batch.mark(0), "delivered with every bit outside the backend's");
          socket.send(batch);
          assertEquals(1, settle(all, new int[] {~hidden}, 1, tck.timeout())[0], "left unchanged");
        }
      }
    }
  }

  /**
   * <b>S73</b> [cap: PACKET_MARK]: a delivered packet carries its mark; the program sets the mark
   * of a packet it writes back and of one it injects, and the packets leave the host with them.
   * Marks from bits the backend delivers (kube-proxy's 0x4000, Tailscale's 0x80000, WireGuard's
   * 0xca6c where free). The injection goes to port 7002, which no rule matches, so that this test
   * does not depend on S45.
   *
   * <p>If it fails: the backend drops the mark it received with the packet, or its verdict or raw
   * send sets a mark of its own instead of the program's.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S73", capabilities = Capability.PACKET_MARK)
  public void S73_packetsCarryTheirMarkAndProgramsSetIt(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      PacketBatch batch = PacketBatch.allocate(32);
      try (DivertSocket socket = divert(bed, PORT, "output -p udp --dport 7000")) {
        for (int b = 0; b < 32; b++) {
          bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, pattern(40, b), 1 << b);
        }
        int exposed = ~hiddenBits(receiveByBit(socket, batch, tck.timeout()));
        int received = exposed & 0x00080000;
        int written = exposed & 0x0000ca6c;
        int injected = exposed & 0x00004000;
        assertNotEquals(0, received, "bit 19 (Tailscale's 0x80000) must be the program's");
        assertNotEquals(0, written, "some of WireGuard's 0xca6c must be the program's");
        assertNotEquals(0, injected, "bit 14 (kube-proxy's 0x4000) must be the program's");
        try (MarkCounter counter = bed.hostNode().countOutgoingMarks(UDP_PORT, exposed, written);
            MarkCounter newOnes = bed.hostNode().countOutgoingMarks(UDP_PORT2, exposed, injected)) {
          bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, pattern(40, 50), received);
          assertEquals(1, socket.receive(batch, tck.timeout()), "the marked datagram");
          assertEquals(received, batch.mark(0), "delivered with the mark it was sent with");
          batch.setMark(0, written);
          socket.send(batch);
          assertEquals(
              1,
              settle(counter, new int[] {written}, 1, tck.timeout())[0],
              "the written-back packet leaves with the program's mark " + hex(written));
          batch.clear();
          int i =
              batch.add(
                  ByteBuffer.wrap(
                      Packets.udp(p.host(), p.peer(), SRC_PORT, UDP_PORT2, pattern(40, 51))
                          .build()),
                  DivertAddress.OUTBOUND);
          batch.setMark(i, injected);
          assertEquals(1, socket.send(batch), "the injection is sent");
          assertEquals(
              1,
              settle(newOnes, new int[] {injected}, 1, tck.timeout())[0],
              "the injected packet leaves with the program's mark " + hex(injected));
          assertEquals(1, counter.count(written), "and the written-back one once");
        }
      }
    }
  }
}
