package org.divert4j.stack;

import static org.divert4j.stack.TestNet.udp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import org.divert4j.BufferTooSmallException;
import org.divert4j.DivertAddress;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.HostOptions;
import org.divert4j.PacketBatch;
import org.divert4j.SocketStats;
import org.junit.jupiter.api.Test;

/**
 * A socket's bounded queue (S15) with exact counts: waiting plus held never exceed the queue
 * length, the packet that finds it full is dropped (or accepted, fail-open), close drops what waits
 * and what is held (S14), and the statistics count each packet and byte once.
 */
class EngineQueueTest {
  private final TestNet net = new TestNet();

  private DivertEngine engine;

  private DivertSocket openWithEngine(HostOptions o) throws Exception {
    engine = net.engine(o);
    DivertHost host = engine.openHost(o);
    host.addRule(DivertRule.parse("output -p udp -j DIVERT 100"));
    return host.bind(100);
  }

  private void originate(int n) {
    originate(n, 10);
  }

  private void originate(int n, int payload) {
    for (int i = 0; i < n; i++) {
      assertTrue(engine.originate(udp("10.0.0.1", "10.0.0.2", 100 + i, payload)));
    }
  }

  @Test
  void theQueueTakesExactlyItsLengthAndDropsTheNext() throws Exception {
    DivertSocket s = openWithEngine(HostOptions.builder().queueLength(3).build());
    originate(4);
    SocketStats st = s.stats();
    assertEquals(1, st.dropped(DropReason.QUEUE_FULL));
    assertEquals(0, st.failOpenAccepted());
    assertEquals(0, net.wire.size(), "the dropped packet does not go on");
    assertEquals(3, engine.pending());
    assertEquals(0, engine.room());
  }

  @Test
  void aHeldPacketTakesRoomUntilItIsWrittenBack() throws Exception {
    DivertSocket s = openWithEngine(HostOptions.builder().queueLength(2).build());
    originate(1);
    ByteBuffer buf = ByteBuffer.allocate(2048);
    DivertAddress a = s.receive(buf, Duration.ZERO);
    assertNotNull(a);
    assertEquals(1, s.stats().held());
    assertEquals(1, engine.room(), "the held packet takes room");
    originate(2); // one fits beside the held packet, one does not
    assertEquals(1, s.stats().dropped(DropReason.QUEUE_FULL));
    s.send(buf.flip(), a);
    assertEquals(0, s.stats().held());
    assertEquals(1, engine.room());
    originate(1);
    assertEquals(1, s.stats().dropped(DropReason.QUEUE_FULL), "room again after the write-back");
    assertEquals(1, net.wire.size());
  }

  @Test
  void failOpenLetsThePacketThatFindsTheQueueFullGoOn() throws Exception {
    DivertSocket s = openWithEngine(HostOptions.builder().queueLength(2).failOpen(true).build());
    originate(3);
    SocketStats st = s.stats();
    assertEquals(1, st.failOpenAccepted());
    assertEquals(0, st.dropped(DropReason.QUEUE_FULL));
    assertEquals(1, net.wire.size(), "the third went on as if not diverted");
    assertEquals(102, net.wire.get(0).identification());
    assertEquals(2, engine.pending());
  }

  @Test
  void statisticsCountPacketsAndBytesOnce() throws Exception {
    DivertSocket s = openWithEngine(HostOptions.builder().queueLength(8).build());
    originate(2, 100); // 128 bytes each
    ByteBuffer buf = ByteBuffer.allocate(2048);
    DivertAddress a = s.receive(buf, Duration.ZERO);
    assertEquals(128, buf.position());
    s.send(buf.flip(), a);
    buf.clear();
    DivertAddress b = s.receive(buf, Duration.ZERO);
    s.drop(b);
    // a new packet, outbound
    s.send(udp("10.0.0.1", "10.0.0.3", 9, 20), DivertAddress.OUTBOUND);
    SocketStats st = s.stats();
    assertEquals(2, st.received());
    assertEquals(256, st.receivedBytes());
    assertEquals(1, st.reinjected());
    assertEquals(1, st.injected());
    assertEquals(2, st.sent());
    assertEquals(128 + 48, st.sentBytes());
    assertEquals(1, st.dropped(DropReason.PROGRAM));
    assertEquals(0, st.held());
    assertEquals(2, net.wire.size());
  }

  @Test
  void aTicketIsRedeemedOnceAndADropOfAStaleTicketChangesNothing() throws Exception {
    DivertSocket s = openWithEngine(HostOptions.builder().queueLength(4).build());
    originate(1);
    ByteBuffer buf = ByteBuffer.allocate(2048);
    DivertAddress a = s.receive(buf, Duration.ZERO);
    s.drop(a);
    s.drop(a);
    assertEquals(1, s.stats().dropped(DropReason.PROGRAM));
    assertEquals(0, s.stats().held());
    assertEquals(4, engine.room());
  }

  @Test
  void closeDropsWhatWaitsAndWhatIsHeld() throws Exception {
    DivertSocket s = openWithEngine(HostOptions.builder().queueLength(8).build());
    originate(3);
    ByteBuffer buf = ByteBuffer.allocate(2048);
    assertNotNull(s.receive(buf, Duration.ZERO));
    s.close();
    SocketStats st = s.stats();
    assertEquals(3, st.dropped(DropReason.CLOSED), "two waiting, one held");
    assertEquals(0, st.held());
    assertEquals(0, engine.pending());
    s.close();
    assertEquals(3, s.stats().dropped(DropReason.CLOSED), "a second close drops nothing more");
    assertThrows(DivertClosedException.class, () -> s.receive(buf, Duration.ZERO));
    assertEquals(false, s.isOpen());
  }

  @Test
  void theRingWrapsAroundItsEnd() throws Exception {
    DivertSocket s = openWithEngine(HostOptions.builder().queueLength(3).build());
    ByteBuffer buf = ByteBuffer.allocate(2048);
    for (int round = 0; round < 4; round++) {
      originate(2, 10 + round);
      for (int k = 0; k < 2; k++) {
        buf.clear();
        DivertAddress a = s.receive(buf, Duration.ZERO);
        assertNotNull(a, "round " + round);
        assertEquals(38 + round, buf.position());
        s.send(buf.flip(), a);
      }
    }
    assertNull(s.receive(buf.clear(), Duration.ZERO));
    assertEquals(8, s.stats().reinjected());
    assertEquals(0, s.stats().dropped(DropReason.QUEUE_FULL));
    assertEquals(8, net.wire.size());
  }

  @Test
  void aBufferTooSmallForThePacketLeavesItWaiting() throws Exception {
    DivertSocket s = openWithEngine(HostOptions.builder().queueLength(4).build());
    originate(1, 100); // 128 bytes
    BufferTooSmallException x =
        assertThrows(
            BufferTooSmallException.class,
            () -> s.receive(ByteBuffer.allocate(127), Duration.ZERO));
    assertEquals(128, x.required());
    ByteBuffer exact = ByteBuffer.allocate(128);
    assertNotNull(s.receive(exact, Duration.ZERO), "an exact fit is enough");
    assertEquals(128, exact.position());
    assertEquals(1, s.stats().received());
  }

  @Test
  void aBatchReceiveTakesAtMostItsCapacityAndStopsBeforeAPacketThatDoesNotFit() throws Exception {
    DivertSocket s = openWithEngine(HostOptions.builder().queueLength(8).build());
    originate(3);
    PacketBatch batch = PacketBatch.allocate(2);
    assertEquals(2, s.receive(batch, Duration.ZERO));
    assertEquals(2, batch.size());
    assertEquals(2, s.stats().held());
    assertEquals(3, engine.pending(), "two held, one still waits");
    assertEquals(2, s.send(batch));
    assertEquals(1, s.receive(batch, Duration.ZERO));
    assertEquals(1, s.send(batch));
    assertEquals(3, net.wire.size());

    // 38 bytes first, then 1028 bytes: the second does not fit a 1024-byte slot
    originate(1, 10);
    assertTrue(engine.originate(udp("10.0.0.1", "10.0.0.2", 7, 1000)));
    PacketBatch small = PacketBatch.allocate(4, 1024, false);
    assertEquals(1, s.receive(small, Duration.ZERO));
    assertEquals(38, small.packet(0).remaining());
    s.send(small);
    BufferTooSmallException x =
        assertThrows(BufferTooSmallException.class, () -> s.receive(small, Duration.ZERO));
    assertEquals(1028, x.required());
  }
}
