package org.divert4j.rawsocket.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.divert4j.Chain;
import org.junit.jupiter.api.Test;

class MarksTest {
  @Test
  void everyValueStaysInsideTheMask() {
    for (int w = Marks.MIN_BITS; w <= Marks.MAX_BITS; w++) {
      for (int s = 0; s + w <= 32; s++) {
        int mask = (int) (((1L << w) - 1) << s);
        Marks m = Marks.of(mask);
        assertEquals(mask, m.stateMask() | m.injectorMask(), "fields cover the mask " + mask);
        assertEquals(0, m.stateMask() & m.injectorMask());
        for (Chain c : Chain.values()) {
          for (int tag : new int[] {1, m.maxTag()}) {
            assertEquals(0, m.resume(c, tag) & ~mask);
            assertEquals(tag, m.tagOf(m.queued(c, tag), c));
            assertEquals(0, m.tagOf(m.resume(c, tag), c), "a written-back state is no queue");
            assertTrue(Integer.bitCount(m.queued(c, tag)) >= 2, "a state is never one bit");
          }
        }
        for (int port : new int[] {1, 7, 65535}) {
          int inj = m.injector(port);
          assertNotEquals(0, inj);
          assertEquals(0, inj & ~m.injectorMask());
        }
        assertEquals(
            mask,
            Marks.ofEndLine(Chain.FORWARD, RuleText.endLine(m, Chain.FORWARD)).mask(),
            "the end line tells the mask");
      }
    }
  }

  /** Whether every mark match of an iptables line (as RuleText writes it) accepts the mark. */
  private static boolean matches(String line, int mark) {
    java.util.regex.Matcher x =
        java.util.regex.Pattern.compile("-m mark (! )?--mark 0x([0-9a-f]+)/0x([0-9a-f]+)")
            .matcher(line);
    boolean any = false;
    while (x.find()) {
      any = true;
      int v = (int) Long.parseLong(x.group(2), 16);
      int m = (int) Long.parseLong(x.group(3), 16);
      boolean eq = (mark & m) == v;
      if (eq == (x.group(1) != null)) {
        return false;
      }
    }
    return any;
  }

  @Test
  void noLineThatChangesOrDivertsAcceptsOneBitOrAllBits() {
    Marks m = Marks.DEFAULT;
    java.util.List<Integer> marks = new java.util.ArrayList<>();
    for (int b = 0; b < 32; b++) {
      marks.add(1 << b);
    }
    marks.add(-1);
    marks.add(0x18004000);
    for (Chain c : Chain.values()) {
      for (int tag = 1; tag <= m.maxTag(); tag++) {
        java.util.List<String> l =
            RuleText.ruleLines(
                m,
                org.divert4j.DivertRule.parse(c.keyword() + " udp port 9"),
                tag,
                "divert4j:h:1:" + tag,
                "DIVERT4J-D9");
        for (int mark : marks) {
          assertTrue(!matches(l.get(1), mark), "line B diverts " + Integer.toHexString(mark));
          assertTrue(!matches(l.get(2), mark), "line C changes " + Integer.toHexString(mark));
        }
      }
      String end = RuleText.endLine(m, c);
      for (int mark : marks) {
        assertTrue(!matches(end, mark), "the end line changes " + Integer.toHexString(mark));
      }
      assertTrue(matches(end, m.resume(c, 5)), "the end line clears a stale resume state");
      assertTrue(!matches(end, m.resume(c, 5) ^ m.chainMask()), "of its own chain only");
    }
  }

  @Test
  void writtenBackMarksChangeOnlyTheBackendsStateAndTheProgramsBits() {
    Marks m = Marks.DEFAULT;
    int foreign = 0x000ca6c | 0x4000;
    int queued = foreign | m.injector(9) | m.queued(Chain.OUTPUT, 3);
    assertEquals(
        foreign | m.injector(9) | m.resume(Chain.OUTPUT, 3),
        m.writtenBack(queued, queued, Chain.OUTPUT, 3),
        "the packet's own bits and its injector slot are carried through");
    assertEquals(
        0x80000 | m.injector(9) | m.resume(Chain.OUTPUT, 3),
        m.writtenBack(queued, 0x80000 | 0xfff00000, Chain.OUTPUT, 3),
        "the program sets the bits outside the mask, never the backend's");
    assertEquals(0x40000 | m.injector(5), m.injected(0x40000 | 0x100000, 5));
    assertEquals(foreign, m.foreign(queued));
  }

  @Test
  void masksAreOneRunOfNineToTwelveBits() {
    assertEquals(0xfff00000, Marks.parse("0xfff00000").mask());
    assertEquals(0x1ff0, Marks.parse("8176").mask());
    assertThrows(IllegalArgumentException.class, () -> Marks.parse("0x1fff"));
    assertThrows(IllegalArgumentException.class, () -> Marks.parse("0xff"));
    assertThrows(IllegalArgumentException.class, () -> Marks.parse("0xf0f0f0"));
    assertThrows(IllegalArgumentException.class, () -> Marks.parse("0"));
    assertThrows(IllegalArgumentException.class, () -> Marks.parse("nope"));
  }
}
