package org.divert4j.packet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
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
import org.divert4j.DropReason;
import org.divert4j.MalformedPacketException;
import org.divert4j.PacketTooLargeException;
import org.divert4j.fuzz.FuzzRun;
import org.divert4j.fuzz.Mutants;
import org.divert4j.fuzz.Mutants6;

/**
 * Fuzzing of the IPv6 packet toolkit with mutated IPv6 packets ({@link Mutants6}): the parser and
 * its extension-header walk ({@link Ipv6View}), the IPv6 checksums, {@link Ipv6Fragmenter} and
 * {@link Ipv6Reassembler}. Every input gives a result or the documented typed error, never another
 * exception; the answers agree with an independent reference written from the javadoc; the
 * reassembler's bounds hold. Tries, per property, are in its {@link FuzzRun.Tries}: the short run
 * (CI) and the long one ({@code -Ddivert.reliability=long}, scripts/reliability-long.sh), where the
 * parser and walk see 1,000,000 inputs and the reassembler over 1,000,000 packets.
 */
@AddLifecycleHook(value = FuzzRun.class, propagateTo = PropagationMode.DIRECT_DESCENDANTS)
class Ipv6PacketFuzzPropertyTest {

  @Provide
  Arbitrary<Mutants.Mutant> mutants() {
    return Mutants6.arbitrary();
  }

  // ------------------------------------------------------------------ reference, from the doc

  private static int u16(byte[] p, int i) {
    return (p[i] & 0xff) << 8 | (p[i + 1] & 0xff);
  }

  /** The walk of the class doc: {protocol or -1, upper offset or -1, fragment header or -1}. */
  static int[] referenceWalk(byte[] p, int end) {
    int nh = p[6] & 0xff;
    int at = 40;
    int frag = -1;
    while (true) {
      if (nh == 0 || nh == 43 || nh == 60) {
        if (at + 2 > end || at + ((p[at + 1] & 0xff) + 1) * 8 > end) {
          return new int[] {-1, -1, frag};
        }
        int len = ((p[at + 1] & 0xff) + 1) * 8;
        nh = p[at] & 0xff;
        at += len;
      } else if (nh == 44) {
        if (at + 8 > end) {
          return new int[] {-1, -1, frag};
        }
        frag = frag < 0 ? at : frag;
        boolean first = (u16(p, at + 2) & 0xfff8) == 0;
        nh = p[at] & 0xff;
        at += 8;
        if (!first) {
          return new int[] {nh, at, frag};
        }
      } else {
        return new int[] {nh, at, frag};
      }
    }
  }

  static boolean referenceJumbo(byte[] p) {
    int n = p.length;
    if (n < 48 || p[6] != 0) {
      return false;
    }
    int end = Math.min(n, 40 + ((p[41] & 0xff) + 1) * 8);
    int i = 42;
    while (i < end) {
      int type = p[i] & 0xff;
      if (type == 0) {
        i++;
      } else if (type == 0xC2) {
        return true;
      } else if (i + 1 >= end) {
        return false;
      } else {
        i += 2 + (p[i + 1] & 0xff);
      }
    }
    return false;
  }

  /** {@link Ipv6View#check()} ({@code send} false) and {@link Ipv6View#checkForSend()}. */
  static Defect reference(byte[] p, boolean send) {
    int n = p.length;
    if (n < 40) {
      return Defect.IPV6_TOO_SHORT;
    }
    if ((p[0] & 0xff) >>> 4 != 6) {
      return Defect.IPV6_BAD_VERSION;
    }
    if (referenceJumbo(p)) {
      return Defect.JUMBOGRAM;
    }
    int pl = u16(p, 4);
    if (!send && 40 + pl > n) {
      return Defect.PAYLOAD_LENGTH_INCONSISTENT;
    }
    int end = send ? Math.min(n, 65575) : 40 + pl;
    int[] w = referenceWalk(p, end);
    if (w[0] < 0) {
      return Defect.EXTENSION_HEADER_PAST_END;
    }
    if (w[2] >= 0) {
      int f = u16(p, w[2] + 2);
      int payload = end - w[2] - 8;
      if ((f & 1) != 0 && payload % 8 != 0) {
        return Defect.FRAGMENT_FLAGS_INCONSISTENT;
      }
      if ((f & 0xfff8) + payload > 65535) {
        return Defect.FRAGMENT_PAST_MAXIMUM;
      }
    }
    return null;
  }

  // ------------------------------------------------------------------ Ipv6View and the walk

  @Property
  @FuzzRun.Tries(shortRun = 10_000, longRun = 1_000_000)
  void ipv6ViewAndItsWalkAnswerEveryInputAsDocumented(@ForAll("mutants") Mutants.Mutant m) {
    ByteBuffer b = m.packet();
    int pos = b.position();
    int lim = b.limit();
    ByteOrder order = b.order();
    byte[] bytes = m.bytes();
    Ipv6View v = new Ipv6View().wrap(b);

    Defect d = v.check();
    assertEquals(reference(bytes, false), d, "check");
    assertEquals(reference(bytes, true), v.checkForSend(), "checkForSend");
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
    assertEquals(referenceJumbo(bytes), v.isJumbogram());

    int sp = v.sourcePort();
    int dp = v.destinationPort();
    int type = v.icmpv6Type();
    int code = v.icmpv6Code();
    assertTrue(sp >= -1 && sp <= 65535 && dp >= -1 && dp <= 65535);
    assertTrue(type >= -1 && type <= 255 && code >= -1 && code <= 255);
    if (bytes.length >= 40) {
      int end = Math.min(bytes.length, 40 + u16(bytes, 4));
      int[] w = referenceWalk(bytes, end);
      assertEquals(w[0], v.upperLayerProtocol(), "upper-layer protocol");
      assertEquals(w[1] < 0 ? -1 : pos + w[1], v.upperLayerOffset(), "upper-layer offset");
      assertEquals(w[0] < 0, v.headerChainPastEnd());
      assertEquals(w[2] < 0 ? -1 : pos + w[2], v.fragmentHeaderOffset(), "Fragment header");
      boolean nonFirst = w[2] >= 0 && (u16(bytes, w[2] + 2) & 0xfff8) != 0;
      if (sp >= 0) {
        assertTrue(w[1] + 4 <= end, "ports inside the datagram");
        assertTrue(!nonFirst, "S56: ports only in a first fragment");
      }
      if (type >= 0) {
        assertEquals(58, w[0]);
        assertTrue(!nonFirst && w[1] + 1 <= end);
      }
      Statistics.label("walk")
          .collect(w[0] < 0 ? "past end" : w[2] >= 0 ? "fragment header" : "upper layer");
      v.version();
      v.trafficClass();
      v.flowLabel();
      v.hopLimit();
      v.fragmentOffset();
      v.moreFragments();
      v.fragmentIdentification();
      v.isFragment();
    }
    assertEquals(pos, b.position());
    assertEquals(lim, b.limit());
    assertEquals(order, b.order());
    assertArrayEquals(bytes, m.bytes(), "reading changes nothing");
  }

  // ------------------------------------------------------------------ checksums

  @Property
  @FuzzRun.Tries(shortRun = 10_000, longRun = 250_000)
  void ipv6ChecksumsAnswerOrThrowOnlyWhatTheyDocument(
      @ForAll("mutants") Mutants.Mutant m, @ForAll long seed) {
    ByteBuffer b = m.packet();
    int pos = b.position();
    Random r = new Random(seed);
    Checksums.isTransportValid6(b, r.nextInt(4) == 0 ? pos + r.nextInt(11) - 5 : pos);
    Checksums.isTransportValid6(b, pos);
    ByteBuffer c = TestPackets.copy(b);
    boolean filled = false;
    try {
      filled = Checksums.fillTransport6(c, 0);
    } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
      // documented
    }
    for (int which = 0; which < 4; which++) {
      try {
        switch (which) {
          case 0 -> Checksums.udp6(c, 0);
          case 1 -> Checksums.tcp6(c, 0);
          case 2 -> Checksums.icmpv6(c, 0);
          default -> Checksums.ipv6PseudoHeaderSum(c, 0, r.nextInt(256), r.nextInt());
        }
      } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
        // documented
      }
    }
    if (filled) {
      assertTrue(Checksums.isTransportValid6(c, 0), "a filled checksum verifies");
    }
    Statistics.label("filled").collect(filled);
  }

  // ------------------------------------------------------------------ Ipv6Fragmenter

  @Property
  @FuzzRun.Tries(shortRun = 5_000, longRun = 250_000)
  void ipv6FragmenterGivesValidFragmentsOrTheTypedError(
      @ForAll("mutants") Mutants.Mutant m, @ForAll long seed) {
    Random r = new Random(seed);
    int mtu =
        r.nextInt(50) == 0
            ? r.nextInt(Ipv6Fragmenter.MIN_MTU)
            : r.nextBoolean() ? 56 + r.nextInt(300) : 1280 + r.nextInt(8000);
    int id = r.nextInt(20) == 0 ? 0 : r.nextInt();
    ByteBuffer b = m.packet();
    byte[] original = m.bytes();
    List<ByteBuffer> out = new ArrayList<>();
    try {
      new Ipv6Fragmenter(r.nextBoolean())
          .fragment(
              b,
              mtu,
              id,
              f -> {
                ByteBuffer c = ByteBuffer.allocate(f.remaining());
                c.put(0, f, f.position(), f.remaining());
                out.add(c);
              });
    } catch (IllegalArgumentException e) {
      assertTrue(mtu < Ipv6Fragmenter.MIN_MTU || id == 0, "only a bad MTU or a zero id: " + e);
      Statistics.label("result").collect("argument");
      return;
    } catch (MalformedPacketException e) {
      assertEquals(reference(original, true), e.defect());
      Statistics.label("result").collect("malformed");
      return;
    } catch (PacketTooLargeException e) {
      assertTrue(original.length > mtu, "only a datagram that must be cut is too large");
      Statistics.label("result").collect("too large");
      return;
    } catch (DivertException e) {
      fail("the sink throws nothing: " + e);
      return;
    }
    assertNull(reference(original, true), "only sendable packets fragment");
    Statistics.label("result").collect(out.size() == 1 ? "fits" : "fragmented");
    if (out.size() == 1) {
      assertArrayEquals(original, TestPackets.bytes(out.get(0)));
      return;
    }
    Ipv6View v = new Ipv6View();
    Ipv6Reassembler re = new Ipv6Reassembler(16L << 20, 4, 1_000_000_000L, () -> 0L);
    ByteBuffer whole = null;
    int expect = -1;
    for (ByteBuffer f : out) {
      v.wrap(f);
      assertTrue(f.remaining() <= mtu, "fits the MTU");
      assertNull(v.check(), "each fragment is well-formed");
      assertTrue(v.isFragment() || out.size() == 1);
      expect = expect < 0 ? v.fragmentOffset() : expect;
      assertEquals(expect, v.fragmentOffset(), "contiguous");
      expect += f.remaining() - (v.fragmentHeaderOffset() + 8);
      ByteBuffer o = re.offer(f);
      whole = o != null ? o : whole;
    }
    // Send side: the walk runs over all the bytes, as the fragmenter's does.
    boolean hadFragmentHeader = referenceWalk(original, Math.min(original.length, 65575))[2] >= 0;
    if (!hadFragmentHeader) {
      assertNotNull(whole, "the fragments of a whole datagram reassemble");
      byte[] got = TestPackets.bytes(whole);
      byte[] want = original.clone();
      want[4] = got[4]; // the payload length: ignored on send (S61), set by reassembly (S58)
      want[5] = got[5];
      assertArrayEquals(want, got, "reassembly gives the datagram back");
      assertEquals(original.length - 40, u16(got, 4));
    }
  }

  // ------------------------------------------------------------------ Ipv6Reassembler

  /** Fragments of a few datagrams, some mutated, some duplicated, and loose mutants; shuffled. */
  static List<ByteBuffer> stream(Random r) throws DivertException {
    List<ByteBuffer> s = new ArrayList<>();
    int datagrams = 1 + r.nextInt(4);
    byte[] src = new byte[16];
    byte[] dst = new byte[16];
    src[15] = 1;
    dst[15] = 2;
    for (int k = 0; k < datagrams; k++) {
      ByteBuffer d =
          Ipv6FragmentReassemblePropertyTest.datagram(
              r, 21 + r.nextInt(r.nextInt(8) == 0 ? 65000 : 4000));
      // Shared addresses, so that ids and mutations collide across datagrams.
      d.put(8, src).put(24, dst);
      d.put(23, (byte) (1 + r.nextInt(2)));
      List<ByteBuffer> fs = Ipv6Fragmenter.fragment(d, 300 + r.nextInt(1500), 1 + r.nextInt(4));
      for (ByteBuffer f : fs) {
        byte[] p = TestPackets.bytes(f);
        if (r.nextInt(6) == 0) {
          p = Mutants6.mutate(r, p, new StringBuilder());
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
      s.add(Mutants6.make(r).packet());
    }
    Collections.shuffle(s, r);
    return s;
  }

  @Property
  @FuzzRun.Tries(shortRun = 2_000, longRun = 100_000)
  void ipv6ReassemblerTakesAnyStreamWithinItsBounds(@ForAll long seed) throws DivertException {
    Random r = new Random(seed);
    long memory = r.nextBoolean() ? 1 + r.nextInt(200_000) : 4L << 20;
    int max = 1 + r.nextInt(8);
    long[] clock = {r.nextLong()};
    Ipv6Reassembler re = new Ipv6Reassembler(memory, max, 1_000_000_000L, () -> clock[0]);
    List<ByteBuffer> s = stream(r);
    Ipv6View v = new Ipv6View();
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
        assertTrue(!v.wrap(out).isFragment(), "only non-fragments pass as they are");
        continue;
      }
      v.wrap(out);
      assertEquals(6, v.version());
      assertEquals(out.remaining() - 40, v.payloadLength(), "S58: the full payload length");
      Defect d = v.check();
      // The fragmentable part of a mutated stream may hold anything, headers included; the
      // unfragmentable part and the lengths are the reassembler's and are always right.
      assertTrue(
          d == null
              || d == Defect.EXTENSION_HEADER_PAST_END
              || d == Defect.FRAGMENT_FLAGS_INCONSISTENT
              || d == Defect.FRAGMENT_PAST_MAXIMUM,
          "reassembled: " + d);
    }
    FuzzRun.inputs(s.size());
    clock[0] += 1_000_000_000L;
    re.expire();
    assertEquals(0, re.bytesHeld());
    assertEquals(0, re.datagramsInFlight());
    long discarded = 0;
    for (DropReason reason : DropReason.values()) {
      discarded += re.discarded(reason);
    }
    assertTrue(passed + re.duplicates() + discarded + re.reassembled() <= s.size());
    Statistics.label("reassembled").collect(re.reassembled() > 0);
    Statistics.label("discarded")
        .collect(
            Arrays.stream(DropReason.values())
                .filter(x -> re.discarded(x) > 0)
                .map(Enum::name)
                .toList()
                .toString());
  }
}
