package org.divert4j.rawsocket.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class QueueLineCounterTest {
  private static Map<String, Long> lines(Object... keyAndCount) {
    Map<String, Long> m = new HashMap<>();
    for (int i = 0; i < keyAndCount.length; i += 2) {
      m.put((String) keyAndCount[i], ((Number) keyAndCount[i + 1]).longValue());
    }
    return m;
  }

  @Test
  void sumsTheLines() {
    QueueLineCounter c = new QueueLineCounter();
    assertEquals(12, c.total(lines("0 A r1", 5, "1 A r1", 7)));
    assertEquals(-1, c.total(null), "unknown when the lines cannot be read");
  }

  @Test
  void aCounterKeptAcrossARewriteCountsOnce() {
    QueueLineCounter c = new QueueLineCounter();
    assertEquals(10, c.total(lines("0 A r1", 10)));
    // another rule was inserted: the writer rewrote the chain and kept r1's counter
    assertEquals(14, c.total(lines("0 A r1", 13, "0 A r2", 1)));
  }

  @Test
  void aRemovedLineKeepsWhatItCounted() {
    QueueLineCounter c = new QueueLineCounter();
    assertEquals(10, c.total(lines("0 A r1", 6, "0 A r2", 4)));
    assertEquals(11, c.total(lines("0 A r1", 7)), "r2 was removed: its 4 stay counted");
    assertEquals(12, c.total(lines("0 A r1", 8)), "and are not added again");
  }

  @Test
  void aCounterRestoredFromAnOlderSaveIsNotCountedAgain() {
    QueueLineCounter c = new QueueLineCounter();
    assertEquals(100, c.total(lines("0 A r1", 100)));
    // the writer saved 95, we read 100, then it restored 95; three packets more
    assertEquals(100, c.total(lines("0 A r1", 95)), "what was read stays counted");
    assertEquals(103, c.total(lines("0 A r1", 98)));
  }

  @Test
  void aCounterResetToZeroKeepsWhatWasRead() {
    QueueLineCounter c = new QueueLineCounter();
    assertEquals(9, c.total(lines("0 A r1", 9)));
    assertEquals(9, c.total(lines("0 A r1", 2)), "the 2 since the reset are below what was read");
    assertEquals(10, c.total(lines("0 A r1", 3)), "increments count again");
  }
}
