package org.divert4j.packet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.RandomDistribution;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.statistics.Statistics;
import org.divert4j.DivertException;
import org.divert4j.DropReason;

/**
 * The IPv6 reassembler under the flood of {@link ReassemblerFloodPropertyTest}, in IPv6 form:
 * complete datagrams (shuffled, with duplicates) interleaved with teardrop overlaps, pings of
 * death, tiny 8-byte fragments of datagrams that never complete, garbage, non-fragments and clock
 * jumps. Whatever arrives, the memory and datagram bounds hold, nothing throws, every datagram that
 * comes out is a legitimate one byte for byte, and every packet offered is accounted for exactly
 * once (passed through, part of a reassembled datagram, a duplicate, or counted as discarded for a
 * reason). Tries come from {@code jqwik.tries.default}.
 */
class Ipv6ReassemblerFloodPropertyTest {
  private static final long TIMEOUT = 30_000_000_000L;
  // The last byte of the source address tells legitimate (::1) and flood (::b) packets apart; a
  // legitimate datagram's flow label is its number, since reassembly drops its Fragment header.
  private static final int LEGIT_SOURCE = 1;
  private static final byte[] LEGIT = address(LEGIT_SOURCE);
  private static final byte[] JUNK = address(0x0b);
  private static final byte[] DST = address(2);
  private static final int[] MTUS = {68, 296, 576, 1280, 1500, 9000};

  /** One flood: the packet streams, merged at random, and what the legit datagrams were. */
  private static final class Flood {
    final List<ArrayDeque<ByteBuffer>> streams = new ArrayList<>();
    final Map<Integer, byte[]> legit = new HashMap<>();
    final Map<Integer, Integer> legitFragments = new HashMap<>();
  }

  private static byte[] address(int last) {
    byte[] a = new byte[16];
    a[0] = 0x20;
    a[1] = 0x01;
    a[15] = (byte) last;
    return a;
  }

  private static int source(ByteBuffer p) {
    return p.get(p.position() + 23);
  }

  private static Flood flood(Random rnd, int streams, int maxLegitSize) throws DivertException {
    Flood f = new Flood();
    int junkId = 0;
    for (int s = 0; s < streams; s++) {
      ArrayDeque<ByteBuffer> q = new ArrayDeque<>();
      switch (rnd.nextInt(7)) {
        case 0, 1 -> { // a legitimate datagram, shuffled, with a few duplicates
          int id = f.legit.size();
          int size = rnd.nextInt(20) == 0 ? 65535 : 21 + rnd.nextInt(maxLegitSize - 20);
          byte[] data = new byte[size - 20];
          rnd.nextBytes(data);
          ByteBuffer d =
              Ipv6Builder.raw(17)
                  .source(LEGIT)
                  .destination(DST)
                  .flowLabel(id)
                  .payload(data)
                  .build();
          List<ByteBuffer> fs =
              Ipv6Fragmenter.fragment(d, MTUS[rnd.nextInt(MTUS.length)], 1 + rnd.nextInt(1 << 30));
          f.legit.put(id, TestPackets.bytes(d));
          f.legitFragments.put(id, fs.size());
          List<ByteBuffer> order = new ArrayList<>(fs);
          for (int k = rnd.nextInt(3); k > 0; k--) {
            order.add(TestPackets.copy(fs.get(rnd.nextInt(fs.size()))));
          }
          Collections.shuffle(order, rnd);
          q.addAll(order);
        }
        case 2 -> { // teardrop: the second fragment lands inside the first
          int id = junkId++;
          q.add(junk(id, 0, 32, true));
          // (not at offset 0: with MF clear that would be a whole packet, not an overlap)
          q.add(junk(id, 8 + 8 * rnd.nextInt(3), 8, rnd.nextBoolean()));
          q.add(junk(id, 32, 8, false));
        }
        case 3 -> { // offset 65528 plus 16 bytes: past 65535 (RFC 8200 section 4.5)
          int id = junkId++;
          q.add(junk(id, 0, 1480, true));
          q.add(junk(id, 65528, 16, false));
        }
        case 4 -> { // many tiny fragments of a datagram whose last fragment never comes
          int id = junkId++;
          int n = 1 + rnd.nextInt(300);
          for (int k = 0; k < n; k++) {
            q.add(junk(id, 8 * rnd.nextInt(8000), 8, true));
          }
        }
        case 5 -> { // garbage and a non-fragment
          byte[] g = new byte[rnd.nextInt(60)];
          rnd.nextBytes(g);
          q.add(ByteBuffer.wrap(g));
          q.add(Ipv6Builder.udp(1, 2).source(JUNK).payloadLength(rnd.nextInt(100)).build());
        }
        default -> { // a last fragment far out, then one that contradicts it
          int id = junkId++;
          q.add(junk(id, 8000, 8, false));
          q.add(junk(id, 16000, 8, true));
        }
      }
      f.streams.add(q);
    }
    return f;
  }

  private static ByteBuffer junk(int id, int offset, int len, boolean mf) {
    return Ipv6Builder.raw(17)
        .source(JUNK)
        .destination(DST)
        .fragmentHeader(offset, mf, id)
        .payloadLength(len)
        .build();
  }

  /**
   * Offers the flood; returns how often each legit datagram came out, by id (reassembled) or by
   * {@code -1 - id} (passed through whole). Checks bounds and accounting.
   */
  private static Map<Integer, Integer> run(
      Flood f, Ipv6Reassembler r, long[] clock, Random rnd, long maxStep, long memory, int max) {
    long offered = 0;
    long passed = 0;
    long consumed = 0;
    Map<Integer, Integer> delivered = new HashMap<>();
    Ipv6View v = new Ipv6View();
    List<ArrayDeque<ByteBuffer>> live = new ArrayList<>(f.streams);
    while (!live.isEmpty()) {
      int i = rnd.nextInt(live.size());
      ByteBuffer p = live.get(i).poll();
      if (live.get(i).isEmpty()) {
        live.remove(i);
      }
      if (maxStep > 0 && rnd.nextInt(8) == 0) {
        clock[0] += (long) (rnd.nextDouble() * maxStep);
      }
      offered++;
      ByteBuffer out = r.offer(p);
      assertTrue(r.bytesHeld() <= memory, "held " + r.bytesHeld() + " > " + memory);
      assertTrue(r.bytesHeld() >= 0);
      assertTrue(r.datagramsInFlight() <= max);
      if (out == null) {
        continue;
      }
      v.wrap(out);
      if (out == p) {
        passed++; // a non-fragment: a flood packet, or a legit datagram that fit one MTU
        if (source(out) == LEGIT_SOURCE) {
          delivered.merge(-1 - v.flowLabel(), 1, Integer::sum);
        }
        continue;
      }
      assertEquals(LEGIT_SOURCE, source(out), "only legitimate datagrams can complete");
      int id = v.flowLabel();
      assertArrayEquals(f.legit.get(id), TestPackets.bytes(out), "datagram " + id);
      delivered.merge(id, 1, Integer::sum);
      consumed += f.legitFragments.get(id);
    }
    clock[0] += TIMEOUT;
    r.expire();
    assertEquals(0, r.bytesHeld());
    assertEquals(0, r.datagramsInFlight());
    long discarded = 0;
    for (DropReason reason : DropReason.values()) {
      discarded += r.discarded(reason);
    }
    assertEquals(offered, passed + consumed + r.duplicates() + discarded, "every packet once");
    long reassembled =
        delivered.entrySet().stream()
            .filter(e -> e.getKey() >= 0)
            .mapToLong(e -> e.getValue())
            .sum();
    assertEquals(reassembled, r.reassembled());
    return delivered;
  }

  /** How many streams are interleaved: uniform, so that most tries are real floods. */
  @Provide
  Arbitrary<Integer> streams() {
    return Arbitraries.integers().between(1, 60).withDistribution(RandomDistribution.uniform());
  }

  /** Tight bounds and clock jumps: the bounds hold and nothing wrong ever comes out. */
  @Property
  void boundsHoldAndOnlyLegitimateDatagramsComeOut(
      @ForAll long seed,
      @ForAll @IntRange(min = 1, max = 40) int maxDatagrams,
      @ForAll @IntRange(min = 1, max = 300_000) int memory,
      @ForAll("streams") int streams)
      throws DivertException {
    Random rnd = new Random(seed);
    Flood f = flood(rnd, streams, 12_000);
    long[] clock = {rnd.nextLong()};
    Ipv6Reassembler r = new Ipv6Reassembler(memory, maxDatagrams, TIMEOUT, () -> clock[0]);
    run(f, r, clock, rnd, TIMEOUT / 4, memory, maxDatagrams);
    // The flood must really reach every discard path, and still let datagrams through.
    for (DropReason reason :
        new DropReason[] {
          DropReason.REASSEMBLY_MEMORY,
          DropReason.REASSEMBLY_OVERLAP,
          DropReason.REASSEMBLY_INVALID,
          DropReason.REASSEMBLY_TIMEOUT
        }) {
      Statistics.label(reason.name()).collect(r.discarded(reason) > 0);
      Statistics.label(reason.name()).coverage(c -> c.check(true).percentage(pct -> pct >= 10));
    }
    Statistics.label("reassembled").collect(r.reassembled() > 0);
    // Tight memory often starves everything; about one try in six still completes a datagram.
    Statistics.label("reassembled").coverage(c -> c.check(true).percentage(pct -> pct >= 3));
  }

  /**
   * Room for everything and no clock jumps: every legitimate datagram comes out despite the junk
   * interleaved with it.
   */
  @Property
  void legitimateDatagramsComeOutThroughTheFlood(@ForAll long seed, @ForAll("streams") int streams)
      throws DivertException {
    Random rnd = new Random(seed);
    Flood f = flood(rnd, streams, 20_000);
    long[] clock = {rnd.nextLong()};
    long memory = 256L << 20;
    Ipv6Reassembler r = new Ipv6Reassembler(memory, 10_000, TIMEOUT, () -> clock[0]);
    Map<Integer, Integer> delivered = run(f, r, clock, rnd, 0, memory, 10_000);
    for (int id : f.legit.keySet()) {
      Integer whole = delivered.get(id);
      Integer passedThrough = delivered.get(-1 - id); // it fit one MTU: never fragmented
      assertNotNull(whole != null ? whole : passedThrough, "datagram " + id + " came out");
    }
  }
}
