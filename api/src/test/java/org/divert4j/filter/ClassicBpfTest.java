package org.divert4j.filter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Random;
import org.divert4j.Direction;
import org.junit.jupiter.api.Test;

/**
 * The classic BPF programs decide every filter as the reference evaluator does, on random IPv4
 * packets, run by an interpreter of the instructions they use that fails on anything the kernel's
 * checker would refuse (a backward jump, a load past the end, scratch memory read before written).
 */
class ClassicBpfTest {
  private static final Direction[] DIRECTIONS = Direction.values();

  /** Runs a program as the kernel does, stricter: faults the kernel would turn into "no match". */
  static int run(List<ClassicBpf.Insn> prog, ByteBuffer p, int ifIdx) {
    int a = 0;
    int x = 0;
    int[] mem = new int[16];
    boolean[] written = new boolean[16];
    int len = p.remaining();
    int base = p.position();
    int pc = 0;
    while (true) {
      if (pc >= prog.size()) {
        throw new AssertionError("ran off the end");
      }
      ClassicBpf.Insn i = prog.get(pc++);
      int k = i.k();
      switch (i.code()) {
        case 0x30, 0x28, 0x20 -> {
          if (k == -0x1000 + 8) {
            a = ifIdx;
          } else {
            a = load(p, base, len, k, i.code());
          }
        }
        case 0x50, 0x48, 0x40 -> a = load(p, base, len, x + k, i.code() - 0x20);
        case 0x80 -> a = len;
        case 0x00 -> a = k;
        case 0x60 -> {
          assertTrue(written[k], "M[" + k + "] read before written at " + (pc - 1));
          a = mem[k];
        }
        case 0x61 -> {
          assertTrue(written[k], "M[" + k + "] read before written at " + (pc - 1));
          x = mem[k];
        }
        case 0xb1 -> x = (load(p, base, len, k, 0x30) & 0xf) * 4;
        case 0x02 -> {
          mem[k] = a;
          written[k] = true;
        }
        case 0x03 -> {
          mem[k] = x;
          written[k] = true;
        }
        case 0x04 -> a += k;
        case 0x14 -> a -= k;
        case 0x54 -> a &= k;
        case 0x74 -> a >>>= k;
        case 0x0c -> a += x;
        case 0x1c -> a -= x;
        case 0x07 -> x = a;
        case 0x05 -> pc += k;
        case 0x15 -> pc += a == k ? i.jt() : i.jf();
        case 0x25 -> pc += Integer.compareUnsigned(a, k) > 0 ? i.jt() : i.jf();
        case 0x35 -> pc += Integer.compareUnsigned(a, k) >= 0 ? i.jt() : i.jf();
        case 0x45 -> pc += (a & k) != 0 ? i.jt() : i.jf();
        case 0x1d -> pc += a == x ? i.jt() : i.jf();
        case 0x2d -> pc += Integer.compareUnsigned(a, x) > 0 ? i.jt() : i.jf();
        case 0x3d -> pc += Integer.compareUnsigned(a, x) >= 0 ? i.jt() : i.jf();
        case 0x06 -> {
          return k;
        }
        default -> throw new AssertionError("unexpected opcode " + i.code());
      }
    }
  }

  private static int load(ByteBuffer p, int base, int len, int at, int code) {
    int size = code == 0x30 ? 1 : code == 0x28 ? 2 : 4;
    if (at < 0 || at + size > len) {
      throw new AssertionError("load of " + size + " bytes at " + at + " past the end " + len);
    }
    int v = 0;
    for (int j = 0; j < size; j++) {
      v = (v << 8) | (p.get(base + at + j) & 0xff);
    }
    return v;
  }

  static boolean accepts(List<List<ClassicBpf.Insn>> programs, ByteBuffer p, int ifIdx) {
    for (List<ClassicBpf.Insn> prog : programs) {
      assertTrue(prog.size() <= ClassicBpf.XT_BPF_MAX_NUM_INSTR, prog.size() + " instructions");
      if (run(prog, p, ifIdx) == 0) {
        return false;
      }
    }
    return true;
  }

  /** A valid IPv4 packet (length = total length), often with options, random fields. */
  static ByteBuffer randomIpv4(Random r) {
    ByteBuffer base = FilterPropertyTest.randomPacket(r);
    while (base.limit() < 20 || (base.get(0) & 0xf0) != 0x40) {
      base = FilterPropertyTest.randomPacket(r);
    }
    byte[] b = new byte[base.limit()];
    base.get(0, b);
    int opt = r.nextInt(3) == 0 ? 4 * (1 + r.nextInt(2)) : 0;
    byte[] p = new byte[b.length + opt];
    System.arraycopy(b, 0, p, 0, 20);
    for (int i = 0; i < opt; i++) {
      p[20 + i] = 1; // NOP options
    }
    System.arraycopy(b, 20, p, 20 + opt, b.length - 20);
    p[0] = (byte) (0x40 | (20 + opt) / 4);
    p[1] = (byte) r.nextInt(256);
    p[8] = (byte) r.nextInt(256);
    if (r.nextInt(4) == 0 && p.length > 20 + opt + 12) {
      p[20 + opt + 12] = (byte) (r.nextInt(16) << 4); // odd TCP data offsets
    }
    Packets.put16(p, 2, p.length);
    return ByteBuffer.wrap(p);
  }

  @Test
  void programsDecideAsTheReferenceEvaluator() {
    long seed = new Random().nextLong();
    Random r = new Random(seed);
    FilterContext ctx = new FilterContext();
    for (int f = 0; f < 1500; f++) {
      String text = FilterPropertyTest.randomFilter(r, 1 + r.nextInt(3));
      Filter filter = Filter.parse(text);
      Direction d = DIRECTIONS[r.nextInt(2)];
      List<List<ClassicBpf.Insn>> progs;
      try {
        progs = ClassicBpf.compileIpv4(filter, d, ClassicBpf.XT_BPF_MAX_NUM_INSTR);
      } catch (IllegalArgumentException e) {
        assertTrue(e.getMessage().contains("XT_BPF_MAX_NUM_INSTR"), e.getMessage());
        continue;
      }
      for (int i = 0; i < 12; i++) {
        ByteBuffer p = randomIpv4(r);
        int ifIdx = r.nextInt(3);
        ctx.set(d, ifIdx == 1, ifIdx);
        boolean want = filter.matches(p, ctx);
        assertEquals(
            want,
            accepts(progs, p, ifIdx),
            () -> "seed " + seed + " filter " + text + " " + d + "\n" + listings(progs));
      }
    }
  }

  private static final String[] FIELDS6 = {
    "ipv6.SrcAddr",
    "ipv6.DstAddr",
    "ipv6.TrafficClass",
    "ipv6.FlowLabel",
    "ipv6.Length",
    "ipv6.NextHdr",
    "ipv6.HopLimit",
    "length",
    "packet[6]",
    "packet16[4]",
    "packet32[-4]",
    "ifIdx",
    "loopback",
    "inbound",
    "ip",
    "ipv6",
    "icmp",
    "ip.TTL",
    "ip.SrcAddr",
    "icmp.Type"
  };

  private static final String[] VALUES6 = {
    "0",
    "1",
    "17",
    "40",
    "64",
    "-1",
    "0x11",
    "2001:db8::2",
    "2001:db8::1",
    "2001:db8::/32",
    "2001:db8::/127",
    "2001:db8::3",
    "fe80::2",
    "fe80::/10",
    "::ffff:10.0.0.2",
    "::/0",
    "10.0.0.2"
  };

  /** A filter over what an IPv6 program can decide (the fixed header and what needs no walk). */
  private static String randomFilter6(Random r, int depth) {
    int k = depth <= 0 ? 0 : r.nextInt(5);
    switch (k) {
      case 1:
        return "not " + randomFilter6(r, depth - 1);
      case 2:
        return "(" + randomFilter6(r, depth - 1) + " and " + randomFilter6(r, depth - 1) + ")";
      case 3:
        return "(" + randomFilter6(r, depth - 1) + " or " + randomFilter6(r, depth - 1) + ")";
      default:
        String f = FIELDS6[r.nextInt(FIELDS6.length)];
        if (r.nextInt(5) == 0) {
          return f;
        }
        String v = VALUES6[r.nextInt(VALUES6.length)];
        String[] ops = {"==", "!=", "<", "<=", ">", ">="};
        String op = v.contains("/") ? (r.nextBoolean() ? "==" : "!=") : ops[r.nextInt(6)];
        return f + " " + op + " " + v;
    }
  }

  /** A valid IPv6 packet as ip6tables sees it: version 6, length = 40 + payload length. */
  static ByteBuffer randomIpv6(Random r) {
    ByteBuffer base = FilterPropertyTest.randomPacket(r);
    while (base.limit() < 40 || (base.get(0) & 0xf0) != 0x60) {
      base = FilterPropertyTest.randomPacket(r);
    }
    byte[] p = new byte[base.limit()];
    base.get(0, p);
    p[1] = (byte) r.nextInt(256); // traffic class and flow label bits
    p[2] = (byte) r.nextInt(256);
    p[7] = (byte) (r.nextBoolean() ? 64 : r.nextInt(256));
    if (r.nextBoolean()) {
      p[23] = (byte) r.nextInt(4); // 2001:db8::0..3
    }
    Packets.put16(p, 4, p.length - 40);
    return ByteBuffer.wrap(p);
  }

  @Test
  void ipv6ProgramsDecideAsTheReferenceEvaluator() {
    long seed = new Random().nextLong();
    Random r = new Random(seed);
    FilterContext ctx = new FilterContext();
    int compiled = 0;
    for (int f = 0; f < 1500; f++) {
      String text = randomFilter6(r, 1 + r.nextInt(3));
      Filter filter = Filter.parse(text);
      Direction d = DIRECTIONS[r.nextInt(2)];
      List<List<ClassicBpf.Insn>> progs;
      try {
        progs = ClassicBpf.compileIpv6(filter, d, ClassicBpf.XT_BPF_MAX_NUM_INSTR);
      } catch (IllegalArgumentException e) {
        assertTrue(e.getMessage().contains("XT_BPF_MAX_NUM_INSTR"), e.getMessage());
        continue;
      }
      compiled++;
      for (int i = 0; i < 12; i++) {
        ByteBuffer p = randomIpv6(r);
        int ifIdx = r.nextInt(3);
        ctx.set(d, ifIdx == 1, ifIdx);
        boolean want = filter.matches(p, ctx);
        assertEquals(
            want,
            accepts(progs, p, ifIdx),
            () -> "seed " + seed + " filter " + text + " " + d + "\n" + listings(progs));
      }
    }
    assertTrue(compiled > 1000, "filters compiled: " + compiled + " (seed " + seed + ")");
  }

  @Test
  void ipv6FiltersThatNeedTheUpperLayerAreRefusedNamingTheField() {
    for (String f :
        new String[] {
          "tcp.DstPort == 443", "udp", "icmpv6.Type == 128", "fragment", "ipv6 and tcp"
        }) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> ClassicBpf.compileIpv6(Filter.parse(f), Direction.INBOUND, 64),
              f);
      assertTrue(e.getMessage().contains("extension headers"), e.getMessage());
    }
    // decided without the walk: the IPv6 header, and IPv4 fields, which are absent (false)
    assertEquals(
        1,
        ClassicBpf.compileIpv6(
                Filter.parse("ipv6.SrcAddr == 2001:db8::/32 and ipv6.HopLimit > 1"),
                Direction.INBOUND,
                64)
            .size());
    assertEquals(0, ClassicBpf.compileIpv6(Filter.parse("ipv6"), Direction.INBOUND, 64).size());
    assertEquals(
        List.of(new ClassicBpf.Insn(0x06, 0, 0, 0)),
        ClassicBpf.compileIpv6(Filter.parse("ip.TTL == 64"), Direction.INBOUND, 64).get(0));
  }

  private static String listings(List<List<ClassicBpf.Insn>> progs) {
    StringBuilder sb = new StringBuilder();
    for (List<ClassicBpf.Insn> p : progs) {
      sb.append(ClassicBpf.listing(p)).append("--\n");
    }
    return sb.toString();
  }

  @Test
  void typicalFiltersFitOneMatch() {
    for (String f :
        new String[] {
          "tcp.DstPort == 443",
          "outbound and tcp.DstPort == 443 and tcp.PayloadLength > 5 and tcp.Payload[0] == 0x16"
              + " and tcp.Payload[5] == 1",
          "udp.DstPort == 53 or udp.SrcPort == 53",
          "ip.DstAddr == 10.0.0.0/8 and not ip.SrcAddr == 10.0.0.0/8",
        }) {
      List<List<ClassicBpf.Insn>> p =
          ClassicBpf.compileIpv4(Filter.parse(f), Direction.OUTBOUND, 64);
      assertEquals(1, p.size(), f);
    }
    assertEquals(
        0, ClassicBpf.compileIpv4(Filter.parse("ip or tcp"), Direction.INBOUND, 64).size());
    assertEquals(
        "1,6 0 0 0",
        ClassicBpf.bytecode(
            ClassicBpf.compileIpv4(Filter.parse("ipv6"), Direction.INBOUND, 64).get(0)));
  }

  @Test
  void longFiltersSplitAtAndOrAreRefusedWithTheLimit() {
    StringBuilder and = new StringBuilder("tcp.DstPort != 1");
    StringBuilder or = new StringBuilder("tcp.DstPort == 1");
    for (int i = 2; i < 60; i++) {
      and.append(" and tcp.DstPort != ").append(i);
      or.append(" or tcp.DstPort == ").append(i);
    }
    List<List<ClassicBpf.Insn>> split =
        ClassicBpf.compileIpv4(Filter.parse(and.toString()), Direction.INBOUND, 64);
    assertTrue(split.size() > 1, "split into " + split.size());
    ByteBuffer p = Packets.tcp4(1, 80, 2, new byte[0]);
    assertTrue(accepts(split, p, 2));
    assertEquals(false, accepts(split, Packets.tcp4(1, 7, 2, new byte[0]), 2));
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> ClassicBpf.compileIpv4(Filter.parse(or.toString()), Direction.INBOUND, 64));
    assertTrue(e.getMessage().contains("at most 64 (XT_BPF_MAX_NUM_INSTR)"), e.getMessage());
  }
}
