package org.divert4j.filter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.divert4j.Direction;
import org.junit.jupiter.api.Test;

/**
 * FilterCompiler: the bytecode of a program gives the interpreter's verdict for every field,
 * operator, literal and shape of filter, and programs it cannot hold stay with the interpreter.
 */
class FilterCompilerTest {
  private static final String[] LITERALS = {
    "0",
    "1",
    "2",
    "5",
    "6",
    "17",
    "53",
    "64",
    "443",
    "0x45",
    "-1",
    "65535",
    "4294967295",
    "10.0.0.2",
    "10.0.0.0/8",
    "11.1.1.1",
    "2001:db8::2",
    "2001:db8::/32",
    "::ffff:10.0.0.2",
    "18446744073709551615"
  };
  private static final String[] OPS = {"==", "!=", "<", "<=", ">", ">="};

  /** A test of any field the language has, against a literal or another field, either side. */
  private static String term(Random r) {
    Field[] all = Field.values();
    String f = operand(all[r.nextInt(all.length)], r);
    int k = r.nextInt(8);
    if (k == 0) {
      return f;
    }
    String other =
        k == 1 ? operand(all[r.nextInt(all.length)], r) : LITERALS[r.nextInt(LITERALS.length)];
    String op = other.contains("/") ? (r.nextBoolean() ? "==" : "!=") : OPS[r.nextInt(6)];
    return k == 2 && !other.contains("/") ? other + " " + op + " " + f : f + " " + op + " " + other;
  }

  private static String operand(Field f, Random r) {
    return f.indexed() ? f.text + "[" + (r.nextInt(24) - 8) + "]" : f.text;
  }

  private static Filter parse(Random r) {
    while (true) {
      try {
        return Filter.parse(
            FilterPropertyTest.randomFilter(r, r.nextInt(7), FilterCompilerTest::term));
      } catch (FilterSyntaxException e) {
        // a field the language refuses against that literal (an address against a port): again
      }
    }
  }

  @Property(tries = 4000)
  void compiledProgramsAgreeWithTheInterpreter(@ForAll long seed) {
    Random r = new Random(seed);
    Filter f = parse(r);
    Program program = Program.compile(f.root());
    assertEquals(program.tests() > 0, program.isCompiled(), f + ": compiled");
    FilterContext ctx = new FilterContext();
    for (int i = 0; i < 8; i++) {
      ctx.set(
          r.nextBoolean() ? Direction.INBOUND : Direction.OUTBOUND, r.nextBoolean(), r.nextInt(3));
      ctx.flowPackets(r.nextInt(4));
      ByteBuffer p = FilterPropertyTest.randomPacket(r);
      if (r.nextBoolean()) {
        ByteBuffer d = ByteBuffer.allocateDirect(p.remaining());
        d.put(0, p, p.position(), p.remaining());
        p = d;
      }
      if (r.nextBoolean()) {
        p.order(ByteOrder.LITTLE_ENDIAN);
      }
      boolean expected = program.matchesInterpreted(p, ctx);
      assertEquals(
          expected,
          program.matches(p, ctx),
          f + " on " + HexFormat.of().formatHex(FilterPropertyTest.bytes(p)) + " seed " + seed);
      assertEquals(expected, program.matchesWithoutFastPath(p, ctx), f + ": the reference");
    }
  }

  @Test
  void everyFieldAndOperatorCompilesAndRunsHotInTheJit() {
    // Enough calls for C2 to compile each class: a verifier or JIT problem would show here.
    Random r = new Random(7);
    FilterContext ctx = new FilterContext().set(Direction.INBOUND, false, 2);
    for (Field field : Field.values()) {
      for (String op : OPS) {
        String text = operand(field, r) + " " + op + " 1 or " + operand(field, r) + " " + op + " 0";
        Program program = Program.compile(Filter.parse(text).root());
        assertTrue(program.tests() == 0 || program.isCompiled(), text);
        ByteBuffer[] packets = new ByteBuffer[16];
        for (int i = 0; i < packets.length; i++) {
          packets[i] = FilterPropertyTest.randomPacket(r);
        }
        for (int i = 0; i < 20_000; i++) {
          ByteBuffer p = packets[i & 15];
          assertEquals(program.matchesInterpreted(p, ctx), program.matches(p, ctx), text);
        }
      }
    }
  }

  @Test
  void aProgramTooLargeForTheJitStaysWithTheInterpreter() {
    StringBuilder b = new StringBuilder("ip.TTL==300");
    for (int i = 2; i < Filter.MAX_TESTS; i++) {
      b.append("||ip.TTL==").append(i + 300);
    }
    Program program = Program.compile(Filter.parse(b + "||ip.TTL==1").root());
    assertEquals(Filter.MAX_TESTS, program.tests());
    assertNull(FilterCompiler.classFile(program, program.plan()), "over HotSpot's HugeMethodLimit");
    assertFalse(program.isCompiled());
    ByteBuffer p = Packets.ipv4(Packets.UDP, "10.0.0.1", "10.0.0.2", 0, udp(53)); // TTL 64
    assertFalse(program.matches(p, new FilterContext()));
    program = Program.compile(Filter.parse(b + "||ip.TTL==64").root());
    assertTrue(program.matches(p, new FilterContext()));
  }

  private static byte[] udp(int port) {
    return Packets.transport(Packets.UDP, 40000, port, 0, new byte[4]);
  }
}
