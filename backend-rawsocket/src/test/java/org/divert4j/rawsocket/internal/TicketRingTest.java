package org.divert4j.rawsocket.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TicketRingTest {
  private static long add(TicketRing r, int id, long deadline) {
    return r.add(TicketRing.KERNEL, 0, id, 0, 0, id * 3, 100 + id, 0, 1, id * 7L, deadline);
  }

  @Test
  void addFindRemove() {
    TicketRing r = new TicketRing(4, 4);
    long a = add(r, 10, Long.MAX_VALUE);
    long b = add(r, 11, Long.MAX_VALUE);
    assertEquals(1, a);
    assertEquals(2, b);
    int sa = r.find(a);
    assertEquals(10, r.kernelId(sa));
    assertEquals(30, r.mark(sa));
    assertEquals(110, r.length(sa));
    r.remove(sa);
    assertEquals(-1, r.find(a), "a removed ticket is stale");
    assertEquals(11, r.kernelId(r.find(b)));
    assertEquals(1, r.size());
    assertEquals(-1, r.find(0));
    assertEquals(-1, r.find(99));
  }

  @Test
  void syntheticLimit() {
    TicketRing r = new TicketRing(2, 2);
    assertTrue(r.add(TicketRing.SYNTHETIC, 0, 0, 0, 0, 0, 1, 0, 0, 0, Long.MAX_VALUE) > 0);
    assertTrue(r.add(TicketRing.SYNTHETIC, 0, 0, 0, 0, 0, 1, 0, 0, 0, Long.MAX_VALUE) > 0);
    assertEquals(0, r.add(TicketRing.SYNTHETIC, 0, 0, 0, 0, 0, 1, 0, 0, 0, Long.MAX_VALUE));
    assertTrue(r.syntheticFull());
    assertTrue(add(r, 1, Long.MAX_VALUE) > 0, "kernel entries are not limited by synthetic ones");
  }

  @Test
  void expiresOldestFirst() {
    TicketRing r = new TicketRing(8, 8);
    add(r, 1, 100);
    long keep = add(r, 2, Long.MAX_VALUE);
    add(r, 3, 50);
    List<Integer> gone = new ArrayList<>();
    int n = r.expire(200, (ring, slot) -> gone.add(ring.kernelId(slot)));
    // expiry walks in sequence order and stops at the first live entry that has not expired
    assertEquals(1, n);
    assertEquals(List.of(1), gone);
    assertTrue(r.find(keep) >= 0);
    r.remove(r.find(keep));
    assertEquals(1, r.expire(200, (ring, slot) -> gone.add(ring.kernelId(slot))));
    assertEquals(List.of(1, 3), gone);
    assertEquals(0, r.size());
  }

  @Test
  void batchVerdictNeedsTheOldest() {
    TicketRing r = new TicketRing(8, 8);
    long s1 = add(r, 1, Long.MAX_VALUE);
    long s2 = add(r, 2, Long.MAX_VALUE);
    long s3 = add(r, 3, Long.MAX_VALUE);
    r.remove(r.find(s2));
    r.remove(r.find(s3));
    assertFalse(
        r.noKernelEntryBefore(s3 + 1, 0, 100), "entry 1 is still held: a batch would take it");
    assertTrue(r.noKernelEntryBefore(s1, 0, 100));
    r.remove(r.find(s1));
    assertTrue(r.noKernelEntryBefore(s3 + 1, 0, 100));
    r.add(TicketRing.SYNTHETIC, 0, 0, 0, 0, 0, 1, 0, 0, 0, Long.MAX_VALUE);
    long other = r.add(TicketRing.KERNEL, 1, 9, 0, 0, 0, 1, 0, 0, 0, Long.MAX_VALUE);
    long s6 = add(r, 6, Long.MAX_VALUE);
    r.remove(r.find(s6));
    assertTrue(
        r.noKernelEntryBefore(s6 + 1, 0, 100),
        "synthetic entries and other lanes' packets are not in this queue");
    assertFalse(r.noKernelEntryBefore(s6 + 1, 1, 100));
    assertTrue(r.find(other) >= 0);
  }

  @Test
  void randomisedAgainstAMap() {
    Random rnd = new Random(42);
    TicketRing r = new TicketRing(64, 64);
    Map<Long, Integer> model = new HashMap<>();
    List<Long> live = new ArrayList<>();
    for (int step = 0; step < 200_000; step++) {
      if (live.size() < 100 && (live.isEmpty() || rnd.nextInt(3) != 0)) {
        int id = rnd.nextInt(1 << 30);
        long s = add(r, id, Long.MAX_VALUE);
        assertTrue(s > 0);
        model.put(s, id);
        live.add(s);
      } else {
        long s = live.remove(rnd.nextInt(live.size()));
        int slot = r.find(s);
        assertEquals(model.remove(s), r.kernelId(slot));
        r.remove(slot);
        assertEquals(-1, r.find(s));
      }
      assertEquals(model.size(), r.size());
    }
    for (Map.Entry<Long, Integer> e : model.entrySet()) {
      assertEquals(e.getValue(), r.kernelId(r.find(e.getKey())));
    }
  }
}
