package org.divert4j.stack;

import static org.divert4j.stack.TestNet.udp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import org.divert4j.DivertAddress;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.HostOptions;
import org.junit.jupiter.api.Test;

/**
 * Held packets expire after the hold time, on the engine's clock: exactly at it and not a
 * nanosecond before, on {@code tick()} or lazily when the program next receives or sends (a lazy
 * scan runs at most every quarter of the hold time), and never with a hold time of zero.
 */
class EngineHoldTest {
  private static final Duration HOLD = Duration.ofMillis(100);

  private final TestNet net = new TestNet();
  private DivertEngine engine;
  private final ByteBuffer buf = ByteBuffer.allocate(2048);

  private DivertSocket open(Duration hold) throws Exception {
    HostOptions o = HostOptions.builder().queueLength(4).holdTimeout(hold).build();
    engine = net.engine(o);
    DivertHost host = engine.openHost(o);
    host.addRule(DivertRule.parse("output -p udp -j DIVERT 100"));
    return host.bind(100);
  }

  private DivertAddress divertAndReceive(DivertSocket s, int id) throws Exception {
    assertTrue(engine.originate(udp("10.0.0.1", "10.0.0.2", id, 10)));
    buf.clear();
    DivertAddress a = s.receive(buf, Duration.ZERO);
    assertNotNull(a);
    return a;
  }

  private static long expired(DivertSocket s) {
    return s.stats().dropped(DropReason.HOLD_EXPIRED);
  }

  @Test
  void tickExpiresAHeldPacketExactlyAtTheHoldTime() throws Exception {
    DivertSocket s = open(HOLD);
    DivertAddress a = divertAndReceive(s, 1);
    net.advance(HOLD.minusNanos(1));
    engine.tick();
    assertEquals(0, expired(s));
    assertEquals(1, s.stats().held());
    net.advance(Duration.ofNanos(1));
    engine.tick();
    assertEquals(1, expired(s));
    assertEquals(0, s.stats().held());
    assertEquals(4, engine.room(), "the slot is free again");
    // the expired ticket no longer writes back: the packet is injected as a new one
    s.send(buf.flip(), a);
    assertEquals(0, s.stats().reinjected());
    assertEquals(1, s.stats().injected());
  }

  @Test
  void aReceiveExpiresDuePacketsWithoutATick() throws Exception {
    DivertSocket s = open(HOLD);
    divertAndReceive(s, 1);
    net.advance(HOLD.minusNanos(1));
    s.receive(buf.clear(), Duration.ZERO);
    assertEquals(0, expired(s));
    net.advance(Duration.ofNanos(1));
    s.receive(buf.clear(), Duration.ZERO);
    assertEquals(1, expired(s));
  }

  @Test
  void aSendExpiresDuePacketsWithoutATick() throws Exception {
    DivertSocket s = open(HOLD);
    divertAndReceive(s, 1);
    net.advance(HOLD);
    s.send(udp("10.0.0.1", "10.0.0.3", 2, 10), DivertAddress.OUTBOUND);
    assertEquals(1, expired(s));
    assertEquals(0, s.stats().held());
  }

  @Test
  void lazyScansRunAtMostEveryQuarterOfTheHoldTime() throws Exception {
    DivertSocket s = open(HOLD);
    divertAndReceive(s, 1); // held at t0
    net.advance(Duration.ofMillis(50));
    divertAndReceive(s, 2); // held at t0 + 50 ms
    net.advance(Duration.ofMillis(50)); // t0 + 100: the first is due, the scan runs
    s.receive(buf.clear(), Duration.ZERO);
    assertEquals(1, expired(s));
    net.advance(Duration.ofMillis(49)); // t0 + 149: next scan at t0 + 125 is due, nothing expires
    s.receive(buf.clear(), Duration.ZERO);
    assertEquals(1, expired(s));
    net.advance(Duration.ofMillis(1)); // t0 + 150: the second is due, the next scan at t0 + 174
    s.receive(buf.clear(), Duration.ZERO);
    assertEquals(1, expired(s), "no lazy scan before a quarter of the hold time");
    assertEquals(1, s.stats().held());
    net.advance(Duration.ofMillis(24)); // t0 + 174
    s.receive(buf.clear(), Duration.ZERO);
    assertEquals(2, expired(s));
    assertEquals(0, s.stats().held());
  }

  @Test
  void tickScansEveryTimeWhateverTheLastScan() throws Exception {
    DivertSocket s = open(HOLD);
    divertAndReceive(s, 1);
    net.advance(Duration.ofMillis(50));
    divertAndReceive(s, 2);
    net.advance(Duration.ofMillis(50));
    engine.tick();
    assertEquals(1, expired(s));
    net.advance(Duration.ofMillis(50)); // t0 + 150, before the lazy scan's next time
    engine.tick();
    assertEquals(2, expired(s));
  }

  @Test
  void aPacketHeldAfterAnIdlePeriodGetsItsWholeHoldTime() throws Exception {
    DivertSocket s = open(HOLD);
    divertAndReceive(s, 1);
    net.advance(HOLD);
    engine.tick();
    assertEquals(1, expired(s));
    net.advance(Duration.ofSeconds(10));
    divertAndReceive(s, 2);
    net.advance(HOLD.minusNanos(1));
    s.receive(buf.clear(), Duration.ZERO);
    engine.tick();
    assertEquals(1, expired(s));
    net.advance(Duration.ofNanos(1));
    engine.tick();
    assertEquals(2, expired(s));
  }

  @Test
  void aHoldTimeOfZeroHoldsUntilClose() throws Exception {
    DivertSocket s = open(Duration.ZERO);
    divertAndReceive(s, 1);
    net.advance(Duration.ofDays(1));
    engine.tick();
    s.receive(buf.clear(), Duration.ZERO);
    assertEquals(0, expired(s));
    assertEquals(1, s.stats().held());
    s.close();
    assertEquals(1, s.stats().dropped(DropReason.CLOSED));
  }

  @Test
  void anExpiredPacketsSlotServesTheNextPacket() throws Exception {
    HostOptions o = HostOptions.builder().queueLength(1).holdTimeout(HOLD).build();
    engine = net.engine(o);
    DivertHost host = engine.openHost(o);
    host.addRule(DivertRule.parse("output -p udp -j DIVERT 100"));
    DivertSocket s = host.bind(100);
    divertAndReceive(s, 1);
    assertTrue(engine.originate(udp("10.0.0.1", "10.0.0.2", 2, 10)));
    assertEquals(1, s.stats().dropped(DropReason.QUEUE_FULL));
    net.advance(HOLD);
    engine.tick();
    DivertAddress b = divertAndReceive(s, 3);
    s.send(buf.flip(), b);
    assertEquals(1, s.stats().reinjected());
    assertEquals(1, net.wire.size());
    assertEquals(3, net.wire.get(0).identification());
  }
}
