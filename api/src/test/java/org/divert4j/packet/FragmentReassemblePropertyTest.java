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
 * Fragmenting a datagram and reassembling the fragments, in any order and with duplicates, gives
 * back the datagram byte for byte. Tries come from {@code jqwik.tries.default}.
 */
class FragmentReassemblePropertyTest {

  /** Well-formed IP options: NOPs and TLV options, some with the copied bit, at most 40 bytes. */
  @Provide
  Arbitrary<byte[]> options() {
    return Arbitraries.longs()
        .map(
            seed -> {
              Random r = new Random(seed);
              int room = r.nextInt(41);
              byte[] o = new byte[room];
              int i = 0;
              int[] types = {0x07, 0x44, 0x83, 0x89, 0x94, 0x82, 0x86, 0x19};
              while (i < room) {
                int left = room - i;
                if (left < 2 || r.nextInt(4) == 0) {
                  o[i++] = 1; // NOP
                  continue;
                }
                int len = 2 + r.nextInt(left - 1);
                o[i] = (byte) types[r.nextInt(types.length)];
                o[i + 1] = (byte) len;
                for (int k = 2; k < len; k++) {
                  o[i + k] = (byte) r.nextInt();
                }
                i += len;
              }
              return o;
            });
  }

  /** Datagram sizes, uniform over 0..65535 (jqwik's default bias would favour tiny ones). */
  @Provide
  Arbitrary<Integer> sizes() {
    return Arbitraries.integers().between(0, 65535).withDistribution(RandomDistribution.uniform());
  }

  /** MTUs over 68..9000, weighted towards the small and common ones that make many fragments. */
  @Provide
  Arbitrary<Integer> mtus() {
    return Arbitraries.oneOf(
        Arbitraries.integers().between(68, 9000).withDistribution(RandomDistribution.uniform()),
        Arbitraries.integers().between(68, 600).withDistribution(RandomDistribution.uniform()),
        Arbitraries.of(68, 576, 1280, 1500, 9000));
  }

  @Property
  void fragmentThenReassembleGivesTheOriginal(
      @ForAll("sizes") int size,
      @ForAll("mtus") int mtu,
      @ForAll("options") byte[] options,
      @ForAll @IntRange(max = 20) int duplicates,
      @ForAll long seed)
      throws DivertException {
    Random rnd = new Random(seed);
    int hl = 20 + (options.length + 3 & ~3);
    int payload = Math.max(0, Math.min(size, 65535) - hl);
    byte[] data = new byte[payload];
    rnd.nextBytes(data);
    ByteBuffer d =
        Ipv4Builder.raw(rnd.nextInt(256))
            .source(rnd.nextInt())
            .destination(rnd.nextInt())
            .identification(rnd.nextInt(65536))
            .ttl(rnd.nextInt(256))
            .tos(rnd.nextInt(256))
            .options(options)
            .payload(data)
            .build();

    List<ByteBuffer> fs = Fragmenter.fragment(d, mtu);
    int count = fs.size();
    Statistics.label("fragments")
        .collect(
            count == 1
                ? "1"
                : count <= 10
                    ? "2-10"
                    : count <= 100 ? "11-100" : count <= 1000 ? "101-1000" : ">1000");
    // Mostly real fragmentation (edge cases such as size 0 make some tries a single packet);
    // edge cases also pair size 65535 with MTU 68, the 8189-fragment extreme.
    Statistics.label("fragments").coverage(c -> c.check("1").percentage(p -> p < 50));
    Statistics.label("size")
        .collect(
            d.limit() < 1000
                ? "<1000"
                : d.limit() < 20000 ? "<20000" : d.limit() < 60000 ? "<60000" : ">=60000");
    Ipv4View v = new Ipv4View();
    for (int i = 0; i < fs.size(); i++) {
      v.wrap(fs.get(i));
      assertTrue(v.length() <= mtu);
      assertNull(v.check());
      if (i < fs.size() - 1) {
        assertEquals(0, v.payloadLength() % 8);
      }
    }

    Reassembler r = new Reassembler(64L << 20, 16, 30_000_000_000L, () -> 0L);
    if (fs.size() == 1) {
      assertEquals(d.limit(), fs.get(0).limit());
      assertEquals(TestPackets.toHex(d), TestPackets.toHex(fs.get(0)));
      return;
    }
    // A random order; each duplicate copies a fragment and arrives after it but before the last
    // new fragment, so it duplicates something held (after completion it would start a new
    // datagram instead).
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
    ByteBuffer out = null;
    for (ByteBuffer f : order) {
      ByteBuffer o = r.offer(f);
      if (o != null) {
        assertNull(out, "delivered once");
        out = o;
      }
    }
    assertNotNull(out);
    assertArrayEquals(TestPackets.bytes(d), TestPackets.bytes(out));
    assertEquals(duplicates, r.duplicates());
    assertEquals(1, r.reassembled());
    assertEquals(0, r.bytesHeld());
    assertEquals(0, r.datagramsInFlight());
    for (DropReason reason : DropReason.values()) {
      assertEquals(0, r.discarded(reason));
    }
  }
}
