package org.divert4j.filter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.lifecycle.AddLifecycleHook;
import net.jqwik.api.lifecycle.PropagationMode;
import org.divert4j.Direction;
import org.divert4j.fuzz.FuzzRun;

/**
 * Fuzzes the filter parser (issue 14: a million inputs in the long run) with mutated valid filters:
 * random filters over every field, then zero to four mutations among deleted, inserted, replaced
 * and repeated characters, truncation, a long run of one operator or parenthesis, a huge number or
 * index, a field of another layer. The contract for every input: a filter or {@link
 * FilterSyntaxException} with a position inside the text, nothing else; a filter reads back from
 * its canonical text and evaluates random packets without throwing. Hangs fail the run ({@link
 * FuzzRun}), which also prints the slowest try.
 */
@AddLifecycleHook(value = FuzzRun.class, propagateTo = PropagationMode.DIRECT_DESCENDANTS)
class FilterFuzzPropertyTest {
  private static final String ALPHABET = "()[]!=<>&|?:-/.,# \t\"'abcdefpsiotuxbTCPUDI0123456789";
  private static final String[] PIECES = {
    "(",
    ")",
    " and ",
    " or ",
    " not ",
    "!",
    "&&",
    "||",
    " ? ",
    " : ",
    "==",
    "!=",
    "<=",
    ">=",
    "[",
    "]",
    "-",
    "/",
    "packet32[-",
    "tcp.Payload[",
    "processId",
    "flow.Packets",
    "ipv6.SrcAddr",
    "::ffff:1.2.3.4",
    "1.2.3.4/33",
    "0x",
    "340282366920938463463374607431768211456",
    "65536b",
    "TCP",
    "zero"
  };

  @Property
  @FuzzRun.Tries(shortRun = 10_000, longRun = 1_000_000)
  void parserAnswersEveryInputWithAFilterOrThePositionedError(@ForAll long seed) {
    Random r = new Random(seed);
    String text = mutate(FilterPropertyTest.randomFilter(r, r.nextInt(5)), r);
    Filter f;
    try {
      f = Filter.parse(text);
    } catch (FilterSyntaxException e) {
      assertTrue(
          e.position() >= 1 && e.position() <= text.length() + 1, e.getMessage() + " for " + text);
      assertTrue(e.getMessage().startsWith("at " + e.position() + ": "), e.getMessage());
      return;
    }
    assertEquals(f, Filter.parse(f.toString()), text);
    FilterContext c =
        new FilterContext()
            .set(
                r.nextBoolean() ? Direction.INBOUND : Direction.OUTBOUND,
                r.nextBoolean(),
                r.nextInt(4));
    for (int i = 0; i < 3; i++) {
      ByteBuffer p = FilterPropertyTest.randomPacket(r);
      boolean v = f.matches(p, c);
      assertEquals(v, Filter.parse(f.toString()).matches(p, c), text);
    }
  }

  private static String mutate(String s, Random r) {
    StringBuilder sb = new StringBuilder(s);
    int n = r.nextInt(5);
    for (int m = 0; m < n; m++) {
      int at = sb.length() == 0 ? 0 : r.nextInt(sb.length() + 1);
      switch (r.nextInt(8)) {
        case 0 -> {
          if (at < sb.length()) {
            sb.deleteCharAt(at);
          }
        }
        case 1 -> sb.insert(at, ALPHABET.charAt(r.nextInt(ALPHABET.length())));
        case 2 -> {
          if (at < sb.length()) {
            sb.setCharAt(at, ALPHABET.charAt(r.nextInt(ALPHABET.length())));
          }
        }
        case 3 -> sb.setLength(at);
        case 4 -> sb.insert(at, PIECES[r.nextInt(PIECES.length)]);
        case 5 -> sb.insert(at, PIECES[r.nextInt(PIECES.length)].repeat(1 + r.nextInt(200)));
        case 6 -> sb.insert(at, (char) r.nextInt(0x3000));
        default -> {
          String whole = sb.toString();
          sb.append(" and (").append(whole).append(')');
        }
      }
    }
    return sb.toString();
  }
}
