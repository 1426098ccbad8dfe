package org.divert4j.rawsocket.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class IdGapCounterTest {
  private static IdGapCounter seen(int... ids) {
    IdGapCounter c = new IdGapCounter();
    for (int id : ids) {
      c.seen(id);
    }
    return c;
  }

  @Test
  void consecutiveIdsLoseNothing() {
    IdGapCounter c = seen(1, 2, 3, 4);
    assertEquals(0, c.missed());
    assertEquals(4, c.issued());
  }

  @Test
  void eachGapIsThatManyUnicastLosses() {
    IdGapCounter c = seen(1, 2, 5, 6, 9);
    assertEquals(4, c.missed(), "3, 4, 7 and 8 were numbered and never delivered");
    assertEquals(9, c.issued());
  }

  @Test
  void idsBeforeTheFirstOneSeenWereLost() {
    IdGapCounter c = seen(3, 4);
    assertEquals(2, c.missed());
    assertEquals(4, c.issued());
  }

  @Test
  void aRebindStartsTheIdsAgain() {
    IdGapCounter c = seen(1, 2, 3, 1, 2, 4);
    assertEquals(1, c.missed(), "only 3 of the second instance was lost");
    assertEquals(3 + 4, c.issued(), "both instances' ids count");
    c.seen(2);
    assertEquals(2, c.missed(), "a third instance that lost its first id");
    assertEquals(3 + 4 + 2, c.issued());
  }

  @Test
  void idsAreUnsigned() {
    IdGapCounter c = seen(0x7FFF_FFFF, 0x8000_0001);
    assertEquals(0x7FFF_FFFEL + 1, c.missed());
    assertEquals(0x8000_0001L, c.issued());
  }
}
