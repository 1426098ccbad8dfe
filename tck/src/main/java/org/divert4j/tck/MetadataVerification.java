package org.divert4j.tck;

import static org.divert4j.tck.Packets.pattern;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.divert4j.Capability;
import org.divert4j.ConnectionState;
import org.divert4j.DivertException;
import org.divert4j.DivertSocket;
import org.divert4j.NetInterface;
import org.divert4j.PacketBatch;
import org.divert4j.PacketMetadata;
import org.divert4j.TimestampClock;
import org.divert4j.testbed.TestBed;
import org.junit.jupiter.api.Test;

/**
 * Area P of SEMANTICS.md: packet metadata (S75). What each backend knows differs (the class {@link
 * PacketMetadata} lists it); what the rule demands of every backend that declares PACKET_META is
 * checked here: absent values read as absent, never as zero; a timestamp, where the host states a
 * clock, lies in the window of the packet's journey by that clock; the outbound interface on the
 * output chain is the interface the host routes the packet out of (taken from the test bed, not
 * from the backend).
 */
@SpecArea(id = "P", title = "Marks and metadata")
public class MetadataVerification extends TckVerification {
  /** For the JUnit engine and subclasses. */
  public MetadataVerification() {}

  private static PacketBatch receiveOne(DivertSocket socket, Duration timeout, String what)
      throws DivertException {
    PacketBatch b = PacketBatch.allocate(4);
    long end = System.nanoTime() + timeout.toNanos();
    boolean late;
    do {
      // a last receive after the deadline: a thread that got no CPU until past it still reads
      // what arrived in time
      late = System.nanoTime() - end >= 0;
      if (socket.receive(b, late ? Duration.ZERO : Duration.ofMillis(100)) > 0) {
        assertEquals(1, b.size(), "one packet was sent: " + what);
        return b;
      }
    } while (!late);
    throw new AssertionError("nothing was diverted: " + what);
  }

  /** A timestamp by the host's clock lies in [before, after] of the packet's journey. */
  private static void assertInWindow(
      TimestampClock clock,
      long stamp,
      long wallBefore,
      long wallAfter,
      long monoBefore,
      long monoAfter,
      String what) {
    switch (clock) {
      case REALTIME ->
          // the wall clock's millisecond reads bracket it, with one millisecond of rounding
          assertTrue(
              stamp >= (wallBefore - 1) * 1_000_000L && stamp <= (wallAfter + 1) * 1_000_000L,
              what
                  + ": wall-clock timestamp "
                  + stamp
                  + " outside ["
                  + wallBefore
                  + ", "
                  + wallAfter
                  + "] ms");
      case MONOTONIC ->
          assertTrue(
              stamp >= monoBefore && stamp <= monoAfter,
              what
                  + ": monotonic timestamp "
                  + stamp
                  + " outside ["
                  + monoBefore
                  + ", "
                  + monoAfter
                  + "]");
      case VIRTUAL -> assertTrue(stamp >= 0, what + ": virtual timestamp " + stamp);
      case NONE -> assertEquals(PacketMetadata.ABSENT, stamp, what + ": no clock, no timestamp");
    }
  }

  /**
   * <b>S75</b> [cap: PACKET_META]: delivered packets carry, where the backend knows them, a receive
   * timestamp by the clock the backend states, the outbound interface (forward and output), the
   * owning socket's uid and gid for locally generated packets, and the connection state; absent
   * values read as absent, never as zero. The peer's datagram on the input chain has a timestamp in
   * its journey's window when the host states a clock, no outbound interface yet, and no owner (it
   * has no local socket: uid and gid absent, not 0). The host's own datagram on the output chain
   * leaves by the interface on the peer's link; its timestamp, owner and state, where given, are
   * plausible (the state of a new flow's first datagram is NEW).
   *
   * <p>If it fails: the backend fills unknown values with 0 (uid 0 is root), takes timestamps from
   * another clock than it states, or reports the input interface as the outbound one.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S75", capabilities = Capability.PACKET_META)
  public void S75_packetsCarryWhatTheBackendKnowsAndAbsentIsNeverZero(TckContext tck)
      throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      TimestampClock clock = bed.host().timestampClock();
      try (DivertSocket in = divert(bed, PORT, "input -p udp --dport " + UDP_PORT);
          DivertSocket out = divert(bed, PORT2, "output -p udp --dport " + UDP_PORT2)) {
        long wallBefore = System.currentTimeMillis();
        long monoBefore = System.nanoTime();
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(40, 1));
        PacketBatch b = receiveOne(in, tck.timeout(), "the peer's datagram");
        long monoAfter = System.nanoTime();
        long wallAfter = System.currentTimeMillis();
        PacketMetadata m = b.metadata();
        assertInWindow(
            clock, m.timestamp(0), wallBefore, wallAfter, monoBefore, monoAfter, "input");
        assertEquals(PacketMetadata.ABSENT, m.uid(0), "a packet from another host has no owner");
        assertEquals(PacketMetadata.ABSENT, m.gid(0), "a packet from another host has no owner");
        assertEquals(
            PacketMetadata.ABSENT, m.outInterfaceIndex(0), "the input chain has no outbound yet");
        in.send(b);

        NetInterface toPeer = p.bedInterface(p.host());
        wallBefore = System.currentTimeMillis();
        monoBefore = System.nanoTime();
        bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT2, pattern(40, 2));
        b = receiveOne(out, tck.timeout(), "the host's own datagram");
        monoAfter = System.nanoTime();
        wallAfter = System.currentTimeMillis();
        m = b.metadata();
        assertEquals(
            toPeer.index(),
            m.outInterfaceIndex(0),
            "the output chain's packet leaves by the host's interface on the peer's link, "
                + toPeer);
        if (m.timestamp(0) != PacketMetadata.ABSENT) {
          assertInWindow(
              clock, m.timestamp(0), wallBefore, wallAfter, monoBefore, monoAfter, "output");
        }
        assertTrue(
            m.uid(0) == PacketMetadata.ABSENT || (m.uid(0) >= 0 && m.uid(0) <= 0xffffffffL),
            "uid " + m.uid(0));
        assertTrue(
            m.gid(0) == PacketMetadata.ABSENT || (m.gid(0) >= 0 && m.gid(0) <= 0xffffffffL),
            "gid " + m.gid(0));
        ConnectionState st = m.connectionState(0);
        if (st != null) {
          assertEquals(ConnectionState.NEW, st, "the first datagram of a new flow");
        }
        assertNotEquals(0, m.outInterfaceIndex(0), "0 is never an interface");
        out.send(b);
      }
    }
  }
}
