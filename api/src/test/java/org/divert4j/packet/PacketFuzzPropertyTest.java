package org.divert4j.packet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AddLifecycleHook;
import net.jqwik.api.lifecycle.PropagationMode;
import net.jqwik.api.statistics.Statistics;
import org.divert4j.DivertException;
import org.divert4j.MalformedPacketException;
import org.divert4j.PacketTooLargeException;
import org.divert4j.fuzz.FuzzRun;
import org.divert4j.fuzz.Mutants;

/**
 * Fuzzing of the packet toolkit with mutated packets ({@link Mutants}): every input gives a result
 * or the documented typed error, never another exception; the answers agree with the rules written
 * in the javadoc (an independent reference of {@link Ipv4View#check()}), and the reassembler's
 * memory bound holds. Tries: 10,000 per property in the short run, 250,000 with {@code
 * -Ddivert.reliability=long} (see {@link FuzzRun}).
 */
@AddLifecycleHook(value = FuzzRun.class, propagateTo = PropagationMode.DIRECT_DESCENDANTS)
class PacketFuzzPropertyTest {

  @Provide
  Arbitrary<Mutants.Mutant> mutants() {
    return Mutants.arbitrary();
  }

  // ------------------------------------------------------------------ Ipv4View

  /** The checks of {@link Ipv4View#check()} and {@link Ipv4View#checkForSend()}, from their doc. */
  static Defect reference(byte[] p, boolean send) {
    int n = p.length;
    if (n < 20) {
      return Defect.TOO_SHORT;
    }
    if ((p[0] & 0xff) >>> 4 != 4) {
      return Defect.BAD_VERSION;
    }
    int hl = (p[0] & 0x0f) * 4;
    if (hl < 20) {
      return Defect.BAD_HEADER_LENGTH;
    }
    if (hl > n) {
      return Defect.HEADER_PAST_END;
    }
    int payload;
    if (send) {
      payload = n - hl;
    } else {
      int total = (p[2] & 0xff) << 8 | (p[3] & 0xff);
      if (total > n) {
        return Defect.TOTAL_LENGTH_PAST_END;
      }
      if (total < hl) {
        return Defect.TOTAL_LENGTH_TOO_SHORT;
      }
      payload = total - hl;
    }
    boolean mf = (p[6] & 0x20) != 0;
    int offset = (((p[6] & 0x1f) << 8) | (p[7] & 0xff)) * 8;
    if (mf && payload % 8 != 0) {
      return Defect.FRAGMENT_FLAGS_INCONSISTENT;
    }
    if ((mf || offset != 0) && offset + payload > 65535) {
      return Defect.FRAGMENT_PAST_MAXIMUM;
    }
    return null;
  }

  @Property
  @FuzzRun.Tries(shortRun = 10_000, longRun = 250_000)
  void ipv4ViewAnswersEveryInputAsDocumented(@ForAll("mutants") Mutants.Mutant m) {
    ByteBuffer b = m.packet();
    int pos = b.position();
    int lim = b.limit();
    ByteOrder order = b.order();
    byte[] bytes = m.bytes();
    Ipv4View v = new Ipv4View().wrap(b);

    Defect d = v.check();
    assertEquals(reference(bytes, false), d, "check");
    assertEquals(reference(bytes, true), v.checkForSend(), "checkForSend");
    Defect strict = v.checkStrict();
    if (d == null) {
      assertEquals(v.reservedFlag() ? Defect.RESERVED_FLAG_SET : null, strict);
    } else {
      assertEquals(d, strict);
    }
    Statistics.label("defect").collect(d == null ? "none" : d.name());
    try {
      v.validate();
      assertNull(d);
    } catch (MalformedPacketException e) {
      assertEquals(d, e.defect());
      assertTrue(e.getMessage().contains(d.description()), e.getMessage());
    }
    try {
      v.validateForSend();
      assertNull(v.checkForSend());
    } catch (MalformedPacketException e) {
      assertEquals(v.checkForSend(), e.defect());
    }
    assertNotNull(v.toString());
    v.isHeaderChecksumValid();
    // Ports and ICMP fields guard themselves: -1 when absent, never an exception.
    int sp = v.sourcePort();
    int dp = v.destinationPort();
    int type = v.icmpType();
    int code = v.icmpCode();
    assertTrue(sp >= -1 && sp <= 65535 && dp >= -1 && dp <= 65535);
    assertTrue(type >= -1 && type <= 255 && code >= -1 && code <= 255);
    if (bytes.length >= 20) {
      // The fixed header is present: every getter answers.
      v.version();
      v.ihl();
      v.tos();
      v.identification();
      v.dontFragment();
      v.moreFragments();
      v.fragmentOffset();
      v.isFragment();
      v.ttl();
      v.protocol();
      v.headerChecksum();
      v.source();
      v.destination();
      v.optionsLength();
    }
    if (d == null) {
      assertTrue(v.payloadLength() >= 0);
      assertTrue(v.payloadOffset() + v.payloadLength() <= pos + bytes.length);
      if (sp >= 0) {
        assertTrue(v.headerLength() + 4 <= v.totalLength(), "ports inside the datagram");
        assertFalse(v.fragmentOffset() != 0, "ports only in a first fragment");
      }
    }
    assertEquals(pos, b.position());
    assertEquals(lim, b.limit());
    assertEquals(order, b.order());
    assertArrayEquals(bytes, m.bytes(), "reading changes nothing");
  }

  // ------------------------------------------------------------------ Checksums

  @Property
  @FuzzRun.Tries(shortRun = 10_000, longRun = 250_000)
  void checksumsAnswerOrThrowOnlyWhatTheyDocument(
      @ForAll("mutants") Mutants.Mutant m, @ForAll long seed) {
    ByteBuffer b = m.packet();
    int pos = b.position();
    Random r = new Random(seed);
    // The validity tests never throw, whatever the base index.
    int base = r.nextInt(4) == 0 ? pos + r.nextInt(11) - 5 : pos;
    Checksums.isIpv4HeaderValid(b, base);
    Checksums.isTransportValid(b, base);
    Checksums.isIpv4HeaderValid(b, pos);
    Checksums.isTransportValid(b, pos);

    // The computing ones throw IllegalArgumentException or IndexOutOfBoundsException, as
    // documented, and what they fill then verifies.
    ByteBuffer c = TestPackets.copy(b);
    boolean headerFilled = false;
    try {
      Checksums.fillIpv4Header(c, 0);
      headerFilled = true;
    } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
      // documented
    }
    boolean transportFilled = false;
    try {
      transportFilled = Checksums.fillTransport(c, 0);
    } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
      // documented
    }
    for (int which = 0; which < 3; which++) {
      try {
        switch (which) {
          case 0 -> Checksums.udp(c, 0);
          case 1 -> Checksums.tcp(c, 0);
          default -> Checksums.icmp(c, 0);
        }
      } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
        // documented
      }
    }
    if (headerFilled) {
      assertTrue(Checksums.isIpv4HeaderValid(c, 0), "a filled header checksum verifies");
    }
    if (transportFilled) {
      assertTrue(Checksums.isTransportValid(c, 0), "a filled transport checksum verifies");
    }
    Statistics.label("filled").collect(headerFilled + "/" + transportFilled);
  }

  // ------------------------------------------------------------------ Fragmenter

  @Property
  @FuzzRun.Tries(shortRun = 10_000, longRun = 250_000)
  void fragmenterGivesValidFragmentsOrTheTypedError(
      @ForAll("mutants") Mutants.Mutant m, @ForAll long seed) {
    Random r = new Random(seed);
    int mtu =
        r.nextInt(50) == 0
            ? r.nextInt(Fragmenter.MIN_MTU)
            : r.nextBoolean() ? 68 + r.nextInt(200) : 68 + r.nextInt(9000);
    ByteBuffer b = m.packet();
    int pos = b.position();
    int lim = b.limit();
    byte[] original = m.bytes();
    List<ByteBuffer> out = new ArrayList<>();
    int count;
    try {
      count =
          new Fragmenter(r.nextBoolean())
              .fragment(
                  b,
                  mtu,
                  f -> {
                    ByteBuffer c = ByteBuffer.allocate(f.remaining());
                    c.put(0, f, f.position(), f.remaining());
                    out.add(c);
                  });
    } catch (IllegalArgumentException e) {
      assertTrue(mtu < Fragmenter.MIN_MTU, "only a bad MTU is an argument error: " + e);
      Statistics.label("result").collect("bad MTU");
      return;
    } catch (MalformedPacketException e) {
      assertEquals(reference(original, true), e.defect());
      Statistics.label("result").collect("malformed");
      return;
    } catch (PacketTooLargeException e) {
      assertTrue(
          original.length > 65535 || original.length > mtu && (original[6] & 0x40) != 0,
          "too large only over 65535 or the MTU with DF");
      Statistics.label("result").collect("too large");
      return;
    } catch (DivertException e) {
      fail("the sink throws nothing, so no other DivertException: " + e);
      return;
    }
    assertNull(reference(original, true), "only sendable packets fragment");
    assertEquals(pos, b.position());
    assertEquals(lim, b.limit());
    assertEquals(count, out.size());
    Statistics.label("result").collect(count == 1 ? "fits" : "fragmented");
    if (count == 1) {
      assertArrayEquals(original, TestPackets.bytes(out.get(0)));
      return;
    }
    Ipv4View v = new Ipv4View();
    int hl = (original[0] & 0x0f) * 4;
    int firstOffset = (((original[6] & 0x1f) << 8) | (original[7] & 0xff)) * 8;
    int expectOffset = firstOffset;
    for (int i = 0; i < out.size(); i++) {
      ByteBuffer f = out.get(i);
      v.wrap(f);
      assertTrue(f.remaining() <= mtu, "fits the MTU");
      assertNull(v.check(), "each fragment is well-formed");
      assertTrue(v.isHeaderChecksumValid());
      assertEquals(expectOffset, v.fragmentOffset(), "contiguous");
      expectOffset += v.payloadLength();
    }
    assertEquals(firstOffset + original.length - hl, expectOffset, "every payload byte once");
    if (firstOffset == 0 && (original[6] & 0x20) == 0) {
      // A whole datagram: reassembly gives its payload back byte for byte.
      Reassembler re = new Reassembler(1L << 20, 4, 1_000_000_000L, () -> 0L);
      ByteBuffer whole = null;
      for (ByteBuffer f : out) {
        ByteBuffer o = re.offer(f);
        if (o != null) {
          whole = o;
        }
      }
      assertNotNull(whole);
      assertArrayEquals(
          Arrays.copyOfRange(original, hl, original.length),
          Arrays.copyOfRange(TestPackets.bytes(whole), hl, whole.remaining()));
    }
  }

  // ------------------------------------------------------------------ Reassembler

  /** A stream: fragments of a few datagrams, some mutated, some duplicated, and loose mutants. */
  static List<ByteBuffer> stream(Random r) throws DivertException {
    List<ByteBuffer> s = new ArrayList<>();
    int datagrams = 1 + r.nextInt(4);
    for (int k = 0; k < datagrams; k++) {
      int size = 21 + r.nextInt(r.nextInt(8) == 0 ? 65515 : 4000);
      ByteBuffer d =
          Ipv4Builder.raw(17)
              .source(0x0A000001 + r.nextInt(2))
              .destination(0x0A000002)
              .identification(r.nextInt(4))
              .options(r.nextInt(4) == 0 ? Mutants.options(r) : new byte[0])
              .payloadLength(Math.max(0, size - 80))
              .build();
      for (ByteBuffer f : Fragmenter.fragment(d, 68 + r.nextInt(1500))) {
        byte[] p = TestPackets.bytes(f);
        if (r.nextInt(6) == 0) {
          p = Mutants.mutate(r, p, new StringBuilder());
        }
        if (r.nextInt(10) != 0) {
          s.add(Mutants.place(r, p));
        }
        if (r.nextInt(10) == 0) {
          s.add(Mutants.place(r, p.clone()));
        }
      }
    }
    for (int k = r.nextInt(10); k > 0; k--) {
      s.add(Mutants.make(r).packet());
    }
    java.util.Collections.shuffle(s, r);
    return s;
  }

  @Property
  @FuzzRun.Tries(shortRun = 2_000, longRun = 50_000)
  void reassemblerTakesAnyStreamWithinItsBounds(@ForAll long seed) throws DivertException {
    Random r = new Random(seed);
    long memory = r.nextBoolean() ? 1 + r.nextInt(200_000) : 4L << 20;
    int max = 1 + r.nextInt(8);
    long[] clock = {r.nextLong()};
    Reassembler re = new Reassembler(memory, max, 1_000_000_000L, () -> clock[0]);
    List<ByteBuffer> s = stream(r);
    Ipv4View v = new Ipv4View();
    long passed = 0;
    for (ByteBuffer p : s) {
      int pos = p.position();
      int lim = p.limit();
      if (r.nextInt(10) == 0) {
        clock[0] += r.nextInt(600_000_000);
      }
      ByteBuffer out = re.offer(p);
      assertEquals(pos, p.position());
      assertEquals(lim, p.limit());
      assertTrue(re.bytesHeld() >= 0 && re.bytesHeld() <= memory, "memory bound");
      assertTrue(re.datagramsInFlight() <= max, "datagram bound");
      if (out == null) {
        continue;
      }
      if (out == p) {
        passed++;
        assertFalse(v.wrap(out).isFragment());
        continue;
      }
      v.wrap(out);
      assertNull(v.check(), "a reassembled datagram is well-formed");
      assertFalse(v.isFragment());
      assertTrue(v.isHeaderChecksumValid());
    }
    FuzzRun.inputs(s.size());
    clock[0] += 1_000_000_000L;
    re.expire();
    assertEquals(0, re.bytesHeld());
    assertEquals(0, re.datagramsInFlight());
    long discarded = 0;
    for (org.divert4j.DropReason reason : org.divert4j.DropReason.values()) {
      discarded += re.discarded(reason);
    }
    assertTrue(passed + re.duplicates() + discarded + re.reassembled() <= s.size());
    Statistics.label("reassembled").collect(re.reassembled() > 0);
  }

  // ------------------------------------------------------------------ Ipv4Builder

  @Property
  @FuzzRun.Tries(shortRun = 10_000, longRun = 250_000)
  void builderBuildsWellFormedPacketsOrRefusesTheArgument(@ForAll long seed) {
    Random r = new Random(seed);
    int kind = r.nextInt(4);
    try {
      Ipv4Builder b =
          switch (kind) {
            case 0 -> Ipv4Builder.udp(wild(r, 65535), wild(r, 65535));
            case 1 ->
                Ipv4Builder.tcp(wild(r, 65535), wild(r, 65535))
                    .sequence(r.nextInt(20) == 0 ? r.nextLong() : r.nextLong() & 0xffffffffL)
                    .acknowledgment(r.nextLong() & 0xffffffffL)
                    .tcpFlags(wild(r, 255))
                    .window(wild(r, 65535));
            case 2 -> Ipv4Builder.icmpEchoRequest(wild(r, 65535), wild(r, 65535));
            default -> Ipv4Builder.raw(wild(r, 255));
          };
      byte[] opts = new byte[r.nextInt(20) == 0 ? 41 + r.nextInt(10) : r.nextInt(41)];
      r.nextBytes(opts);
      b.source(r.nextInt())
          .destination(r.nextInt())
          .ttl(wild(r, 255))
          .tos(wild(r, 255))
          .identification(wild(r, 65535))
          .dontFragment(r.nextBoolean())
          .moreFragments(r.nextInt(5) == 0)
          .reservedFlag(r.nextInt(5) == 0)
          .options(opts);
      if (r.nextInt(5) == 0) {
        int off = r.nextInt(20) == 0 ? r.nextInt(70000) - 100 : 8 * r.nextInt(8192);
        b.fragmentOffset(off);
      }
      b.payloadLength(r.nextInt(10) == 0 ? 65535 - r.nextInt(200) : r.nextInt(3000));
      ByteBuffer p;
      try {
        p = b.build();
      } catch (IllegalStateException e) {
        assertTrue(b.length() > 65535, "only an oversized datagram fails to build");
        Statistics.label("result").collect("too large");
        return;
      }
      Ipv4View v = new Ipv4View().wrap(p);
      assertEquals(b.length(), p.remaining());
      assertTrue(v.isHeaderChecksumValid());
      Defect d = v.check();
      // Only the fragment fields the caller chose can make a built packet malformed.
      assertTrue(
          d == null || d == Defect.FRAGMENT_FLAGS_INCONSISTENT || d == Defect.FRAGMENT_PAST_MAXIMUM,
          "built packet: " + d);
      if (!v.isFragment() && kind != 3) {
        assertTrue(Checksums.isTransportValid(p, 0));
      }
      Statistics.label("result").collect(d == null ? "well-formed" : d.name());
    } catch (IllegalArgumentException e) {
      Statistics.label("result").collect("argument refused");
    }
  }

  /** Mostly in range, sometimes just outside it. */
  private static int wild(Random r, int max) {
    return switch (r.nextInt(30)) {
      case 0 -> -1 - r.nextInt(5);
      case 1 -> max + 1 + r.nextInt(5);
      default -> r.nextInt(max + 1);
    };
  }
}
