package org.divert4j.impair;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import org.divert4j.DivertAddress;
import org.junit.jupiter.api.Test;

/** The held-packet store: due order, arrival order among equals, bounds, and no allocation. */
class HeldPacketsTest {
  private static ByteBuffer packet(int tag, int len) {
    ByteBuffer b = ByteBuffer.allocate(len);
    b.putInt(0, tag);
    return b;
  }

  @Test
  void packetsLeaveByDueTimeThenByArrival() {
    HeldPackets h = new HeldPackets(64, 100);
    SplittableRandom r = new SplittableRandom(1);
    long base = Long.MAX_VALUE - 500; // due times that wrap past Long.MAX_VALUE, as nanoTime may
    long[] due = new long[64];
    for (int i = 0; i < 64; i++) {
      due[i] = base + r.nextInt(1000) / 100 * 100;
      assertTrue(h.add(packet(i, 20 + i), DivertAddress.OUTBOUND, due[i]));
    }
    assertTrue(h.isFull());
    assertFalse(h.add(packet(99, 20), DivertAddress.OUTBOUND, base));
    long lastDue = base - 1;
    int lastTag = -1;
    for (int k = 0; k < 64; k++) {
      long next = h.nextDue();
      int s = h.take();
      ByteBuffer p = h.packet(s);
      int tag = p.getInt(0);
      assertEquals(20 + tag, p.remaining(), "length kept");
      assertEquals(due[tag], next);
      assertTrue(next - lastDue >= 0, "due order");
      if (next == lastDue) {
        assertTrue(tag > lastTag, "arrival order among equal due times");
      }
      assertSame(DivertAddress.OUTBOUND, h.address(s));
      h.release(s);
      lastDue = next;
      lastTag = tag;
    }
    assertEquals(0, h.size());
  }

  @Test
  void aPacketLargerThanASlotIsRefused() {
    HeldPackets h = new HeldPackets(4, 100);
    assertFalse(h.add(packet(1, 101), DivertAddress.OUTBOUND, 0));
    assertTrue(h.add(packet(1, 100), DivertAddress.OUTBOUND, 0));
    assertEquals(1, h.size());
  }

  @Test
  void holdingAndDecidingAllocateNothingPerPacket() {
    com.sun.management.ThreadMXBean mx =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    HeldPackets h = new HeldPackets(1024, 1500);
    RuleState r =
        new RuleState(
            Impairment.builder()
                .delay(java.time.Duration.ofMillis(5))
                .jitter(java.time.Duration.ofMillis(2))
                .loss(0.1)
                .duplicate(0.1)
                .reorder(0.1)
                .rate(100_000_000)
                .corrupt(0.1, true)
                .build(),
            1,
            0);
    ByteBuffer udp = ByteBuffer.allocate(1000);
    udp.put(0, (byte) 0x45).putShort(2, (short) 1000).put(9, (byte) 17);
    udp.putShort(24, (short) 980);
    Runnable round =
        () -> {
          long now = 0;
          for (int i = 0; i < 100_000; i++) {
            now += 10_000;
            if (!r.lose()) {
              r.duplicate();
              r.corrupt(udp.clear().limit(1000));
              long d = r.depart(now, 1000);
              if (d != RuleState.RATE_DROP) {
                h.add(udp, DivertAddress.OUTBOUND, r.due(d));
              }
            }
            while (h.size() > 0 && h.nextDue() - now <= 0) {
              h.release(h.take());
            }
          }
        };
    round.run(); // warm up: JIT and class loading allocate
    long before = mx.getCurrentThreadAllocatedBytes();
    round.run();
    long allocated = mx.getCurrentThreadAllocatedBytes() - before;
    assertTrue(allocated < 10_000, "allocated " + allocated + " bytes for 100,000 packets");
  }
}
