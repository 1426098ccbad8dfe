package org.divert4j.filter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Random;
import java.util.function.Function;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.CharRange;
import net.jqwik.api.constraints.StringLength;
import org.divert4j.Direction;

/**
 * Properties of the parser and evaluator: any text either parses or fails with the typed error;
 * canonical text reads back to an equal filter; the evaluator obeys the logic of its operators on
 * random packets.
 */
class FilterPropertyTest {
  private static final String[] FIELDS = {
    "ip",
    "ipv6",
    "tcp",
    "udp",
    "icmp",
    "icmpv6",
    "fragment",
    "inbound",
    "outbound",
    "loopback",
    "tcp.DstPort",
    "tcp.SrcPort",
    "tcp.Syn",
    "tcp.Ack",
    "tcp.PayloadLength",
    "udp.DstPort",
    "udp.PayloadLength",
    "ip.TTL",
    "ip.Protocol",
    "ip.DstAddr",
    "ipv6.DstAddr",
    "ipv6.HopLimit",
    "icmp.Type",
    "icmpv6.Type",
    "length",
    "packet[0]",
    "packet16[-1]",
    "packet32[3]",
    "tcp.Payload[0]",
    "udp.Payload[-1]",
    "ifIdx"
  };
  private static final String[] VALUES = {
    "0",
    "1",
    "6",
    "17",
    "53",
    "443",
    "64",
    "0x45",
    "-1",
    "10.0.0.2",
    "10.0.0.0/8",
    "2001:db8::2",
    "2001:db8::/32",
    "TCP",
    "65535"
  };
  private static final String[] OPS = {"==", "!=", "<", "<=", ">", ">="};
  private static final String ALPHABET = "() !=<>&|?:[]-/.abcdiptuxTCP0123456789 ";

  static String randomFilter(Random r, int depth) {
    return randomFilter(r, depth, FilterPropertyTest::randomTerm);
  }

  /** A random filter of {@code not}, {@code and}, {@code ||} and {@code ? :} over random terms. */
  static String randomFilter(Random r, int depth, Function<Random, String> term) {
    int k = depth <= 0 ? 0 : r.nextInt(6);
    switch (k) {
      case 1:
        return "not " + randomFilter(r, depth - 1, term);
      case 2:
        return "("
            + randomFilter(r, depth - 1, term)
            + " and "
            + randomFilter(r, depth - 1, term)
            + ")";
      case 3:
        return "("
            + randomFilter(r, depth - 1, term)
            + " || "
            + randomFilter(r, depth - 1, term)
            + ")";
      case 4:
        return "("
            + randomFilter(r, depth - 1, term)
            + " ? "
            + randomFilter(r, depth - 1, term)
            + " : "
            + randomFilter(r, depth - 1, term)
            + ")";
      default:
        return term.apply(r);
    }
  }

  private static String randomTerm(Random r) {
    String f = FIELDS[r.nextInt(FIELDS.length)];
    if (r.nextInt(4) == 0) {
      return f;
    }
    String v = VALUES[r.nextInt(VALUES.length)];
    String op = v.contains("/") ? (r.nextBoolean() ? "==" : "!=") : OPS[r.nextInt(OPS.length)];
    return f + " " + op + " " + v;
  }

  static ByteBuffer randomPacket(Random r) {
    byte[] payload = new byte[r.nextInt(6)];
    r.nextBytes(payload);
    int proto = new int[] {Packets.TCP, Packets.UDP, Packets.ICMP, Packets.ICMPV6}[r.nextInt(4)];
    byte[] l4 =
        Packets.transport(
            proto,
            r.nextInt(3) == 0 ? 53 : 40000,
            r.nextBoolean() ? 443 : 53,
            r.nextInt(64),
            payload);
    ByteBuffer p;
    if (r.nextBoolean()) {
      int frag = new int[] {0, 0x4000, 0x2000, 0x0003}[r.nextInt(4)];
      p = Packets.ipv4(proto, "10.0.0.1", r.nextBoolean() ? "10.0.0.2" : "11.1.1.1", frag, l4);
    } else {
      int[][] ext = {{}, {0}, {44}, {0, 60}};
      int[] e = ext[r.nextInt(ext.length)];
      p =
          Packets.ipv6(
              proto,
              "2001:db8::1",
              r.nextBoolean() ? "2001:db8::2" : "fe80::2",
              e,
              r.nextBoolean() ? 0 : 0x0011,
              l4,
              64);
    }
    if (r.nextInt(8) == 0) {
      p.limit(r.nextInt(p.limit() + 1)); // truncated
    }
    return p;
  }

  @Property(tries = 2000)
  void anyTextParsesOrFailsWithPosition(
      @ForAll @StringLength(max = 60) @CharRange(from = ' ', to = '~') String raw,
      @ForAll long seed) {
    Random r = new Random(seed);
    StringBuilder sb = new StringBuilder(raw);
    for (int i = 0; i < 20; i++) {
      sb.append(ALPHABET.charAt(r.nextInt(ALPHABET.length())));
    }
    for (String text : new String[] {raw, sb.toString()}) {
      try {
        Filter f = Filter.parse(text);
        assertEquals(f, Filter.parse(f.toString()));
      } catch (FilterSyntaxException e) {
        assertTrue(e.position() >= 1 && e.position() <= text.length() + 1, e.getMessage());
        assertTrue(e.getMessage().startsWith("at " + e.position() + ": "));
      }
    }
  }

  @Property(tries = 3000)
  void operatorsMeanWhatTheySay(@ForAll long seed) {
    Random r = new Random(seed);
    String a = randomFilter(r, 3);
    String b = randomFilter(r, 3);
    String c = randomFilter(r, 2);
    Filter fa = Filter.parse(a);
    Filter fb = Filter.parse(b);
    Filter fc = Filter.parse(c);
    assertEquals(fa, Filter.parse(fa.toString()), a);
    FilterContext ctx = new FilterContext();
    ctx.set(
        r.nextBoolean() ? Direction.INBOUND : Direction.OUTBOUND, r.nextBoolean(), r.nextInt(3));
    for (int i = 0; i < 8; i++) {
      ByteBuffer p = randomPacket(r);
      boolean va = fa.matches(p, ctx);
      boolean vb = fb.matches(p, ctx);
      boolean vc = fc.matches(p, ctx);
      String why = a + " | " + b + " | " + c + " seed " + seed;
      assertEquals(!va, Filter.parse("not (" + a + ")").matches(p, ctx), why);
      assertEquals(va && vb, Filter.parse("(" + a + ") and (" + b + ")").matches(p, ctx), why);
      assertEquals(va || vb, Filter.parse("(" + a + ") or (" + b + ")").matches(p, ctx), why);
      assertEquals(
          va ? vb : vc, Filter.parse(a + " ? " + b + " : (" + c + ")").matches(p, ctx), why);
      assertEquals(va, Filter.parse(fa.toString()).matches(p, ctx), why);
    }
  }

  /**
   * The fast path (FastPath: table loads, flags without a switch, filters without header fields
   * skipping the layout) decides every test as Program.test does, on random filters over every
   * field and random packets of both families, in heap and direct buffers of either byte order.
   */
  @Property(tries = 3000)
  void fastPathAgreesWithTheGeneralTest(@ForAll long seed) {
    Random r = new Random(seed);
    Filter f = Filter.parse(randomFilter(r, r.nextInt(4)));
    Program program = Program.compile(f.root());
    FilterContext ctx = new FilterContext();
    for (int i = 0; i < 8; i++) {
      ctx.set(
          r.nextBoolean() ? Direction.INBOUND : Direction.OUTBOUND, r.nextBoolean(), r.nextInt(3));
      ByteBuffer p = randomPacket(r);
      if (r.nextBoolean()) {
        ByteBuffer d = ByteBuffer.allocateDirect(p.remaining());
        d.put(0, p, p.position(), p.remaining());
        p = d;
      }
      if (r.nextBoolean()) {
        p.order(java.nio.ByteOrder.LITTLE_ENDIAN);
      }
      assertEquals(
          program.matchesWithoutFastPath(p, ctx),
          program.matches(p, ctx),
          f + " on " + java.util.HexFormat.of().formatHex(bytes(p)) + " seed " + seed);
    }
  }

  static byte[] bytes(ByteBuffer p) {
    byte[] a = new byte[p.remaining()];
    p.get(p.position(), a);
    return a;
  }
}
