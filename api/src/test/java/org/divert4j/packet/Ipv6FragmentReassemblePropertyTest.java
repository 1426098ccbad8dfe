package org.divert4j.packet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
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
 * IPv6: fragmenting a datagram (with random extension headers) and reassembling the fragments, in
 * any order and with duplicates, gives back the datagram byte for byte; a fragment that overlaps
 * another discards the whole datagram (RFC 5722). Tries come from {@code jqwik.tries.default}.
 */
class Ipv6FragmentReassemblePropertyTest {

  @Provide
  Arbitrary<Integer> sizes() {
    return Arbitraries.integers().between(0, 65535).withDistribution(RandomDistribution.uniform());
  }

  /**
   * MTUs over 300..9000, weighted towards the small ones that make many fragments; 300 leaves room
   * for 56 bytes of payload behind the largest unfragmentable part {@link #datagram} makes (232).
   */
  @Provide
  Arbitrary<Integer> mtus() {
    return Arbitraries.oneOf(
        Arbitraries.integers().between(300, 9000).withDistribution(RandomDistribution.uniform()),
        Arbitraries.integers().between(300, 600).withDistribution(RandomDistribution.uniform()),
        Arbitraries.of(1280, 1500, 9000));
  }

  /** A datagram of about {@code size} bytes behind 0-4 random option/routing headers. */
  static ByteBuffer datagram(Random r, int size) {
    int upper = r.nextInt(2) == 0 ? 17 : r.nextInt(256);
    if (upper == 0 || upper == 43 || upper == 44 || upper == 60) {
      upper = 59; // random data after an extension header type would be read as one
    }
    Ipv6Builder b = Ipv6Builder.raw(upper);
    byte[] a = new byte[16];
    r.nextBytes(a);
    b.source(a);
    r.nextBytes(a);
    b.destination(a).flowLabel(r.nextInt(1 << 20)).hopLimit(r.nextInt(256));
    int headers = r.nextInt(5);
    int used = 0;
    for (int k = 0; k < headers; k++) {
      byte[] body = new byte[r.nextInt(40)];
      r.nextBytes(body);
      switch (k == 0 ? r.nextInt(3) : 1 + r.nextInt(2)) {
        case 0 -> b.hopByHop(new byte[body.length]); // Pad1 options: no jumbo by accident
        case 1 -> b.routing(body);
        default -> b.destinationOptions(new byte[body.length]);
      }
      used += body.length + 2 + 7 & ~7;
    }
    byte[] data = new byte[Math.max(0, Math.min(size, 65535 - used))];
    r.nextBytes(data);
    return b.payload(data).build();
  }

  private static List<ByteBuffer> fragments(ByteBuffer d, int mtu, Random r)
      throws DivertException {
    List<ByteBuffer> fs = new ArrayList<>();
    new Ipv6Fragmenter(r.nextBoolean())
        .fragment(
            d,
            mtu,
            1 + r.nextInt(Integer.MAX_VALUE),
            f -> {
              ByteBuffer c = ByteBuffer.allocate(f.remaining());
              c.put(0, f, f.position(), f.remaining());
              fs.add(c);
            });
    return fs;
  }

  @Property
  void fragmentThenReassembleGivesTheOriginal(
      @ForAll("sizes") int size,
      @ForAll("mtus") int mtu,
      @ForAll @IntRange(max = 20) int duplicates,
      @ForAll long seed)
      throws DivertException {
    Random rnd = new Random(seed);
    ByteBuffer d = datagram(rnd, size);
    List<ByteBuffer> fs = fragments(d, mtu, rnd);
    int count = fs.size();
    Statistics.label("fragments")
        .collect(count == 1 ? "1" : count <= 10 ? "2-10" : count <= 100 ? "11-100" : ">100");
    Statistics.label("fragments").coverage(c -> c.check("1").percentage(p -> p < 50));
    Ipv6View v = new Ipv6View();
    int id = 0;
    for (int i = 0; i < fs.size(); i++) {
      v.wrap(fs.get(i));
      assertTrue(v.length() <= mtu);
      assertNull(v.check());
      if (count > 1) {
        assertTrue(v.isFragment());
        id = i == 0 ? v.fragmentIdentification() : id;
        assertEquals(id, v.fragmentIdentification(), "one Identification per datagram");
        assertTrue(id != 0, "a non-zero Identification");
        assertEquals(i < count - 1, v.moreFragments());
      }
    }
    Ipv6Reassembler r = new Ipv6Reassembler(64L << 20, 16, 60_000_000_000L, () -> 0L);
    if (count == 1) {
      assertEquals(TestPackets.toHex(d), TestPackets.toHex(fs.get(0)));
      return;
    }
    List<ByteBuffer> order = withDuplicates(fs, duplicates, rnd);
    ByteBuffer out = null;
    for (ByteBuffer f : order) {
      ByteBuffer o = r.offer(f);
      if (o != null) {
        assertNull(out, "delivered once");
        out = o;
      }
    }
    assertNotNull(out);
    assertArrayEquals(TestPackets.bytes(d), TestPackets.bytes(out), "S58: the datagram, whole");
    assertEquals(duplicates, r.duplicates());
    assertEquals(1, r.reassembled());
    assertEquals(0, r.bytesHeld());
    assertEquals(0, r.datagramsInFlight());
    for (DropReason reason : DropReason.values()) {
      assertEquals(0, r.discarded(reason));
    }
  }

  /** Shuffled; each duplicate arrives after its original but before the last new fragment. */
  static List<ByteBuffer> withDuplicates(List<ByteBuffer> fs, int duplicates, Random rnd) {
    List<ByteBuffer> shuffled = new ArrayList<>(fs);
    Collections.shuffle(shuffled, rnd);
    int n = shuffled.size();
    List<List<ByteBuffer>> after = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      after.add(new ArrayList<>());
    }
    for (int k = 0; k < duplicates; k++) {
      int j = rnd.nextInt(n - 1);
      after.get(j + rnd.nextInt(n - 1 - j)).add(TestPackets.copy(shuffled.get(j)));
    }
    List<ByteBuffer> order = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      order.add(shuffled.get(i));
      order.addAll(after.get(i));
    }
    return order;
  }

  @Property
  void anOverlappingFragmentDiscardsTheDatagram(
      @ForAll("sizes") int size, @ForAll("mtus") int mtu, @ForAll long seed)
      throws DivertException {
    Random rnd = new Random(seed);
    ByteBuffer d = datagram(rnd, Math.max(size, 2 * mtu));
    List<ByteBuffer> fs = fragments(d, mtu, rnd);
    if (fs.size() < 3) {
      return; // the size is at least twice the MTU, so this is rare
    }
    // A copy of a middle fragment (payload P, a multiple of 8, at least 56 bytes with these MTUs)
    // moved back by 8..P-8 bytes: it overlaps its original partially and starts where no
    // fragment starts, so it is neither a duplicate nor inconsistent with the datagram's end.
    int k = 1 + rnd.nextInt(fs.size() - 2);
    ByteBuffer evil = TestPackets.copy(fs.get(k));
    Ipv6View v = new Ipv6View().wrap(evil);
    int fh = v.fragmentHeaderOffset();
    int payload = evil.remaining() - fh - 8;
    int shift = 8 * (1 + rnd.nextInt(payload / 8 - 1));
    Bytes.put16(evil, fh + 2, (v.fragmentOffset() - shift) | 1);
    List<ByteBuffer> order = new ArrayList<>(fs);
    Collections.shuffle(order, rnd);
    // Anywhere before the last fragment, so the datagram cannot complete first.
    order.add(rnd.nextInt(order.size()), evil);
    Ipv6Reassembler r = new Ipv6Reassembler(64L << 20, 16, 60_000_000_000L, () -> 0L);
    for (ByteBuffer f : order) {
      assertNull(r.offer(f), "RFC 5722: nothing is delivered");
    }
    assertEquals(0, r.reassembled());
    assertTrue(r.discarded(DropReason.REASSEMBLY_OVERLAP) >= 2);
    assertEquals(0, r.bytesHeld());
    Statistics.label("overlap").collect(fs.size() <= 3 ? "3 fragments" : "more fragments");
  }
}
