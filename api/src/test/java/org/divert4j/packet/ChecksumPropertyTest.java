package org.divert4j.packet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * Properties of {@link Checksums}: the fast sum equals a byte-by-byte reference, and RFC 1624
 * incremental updates after random edits equal a full recomputation. Tries come from {@code
 * jqwik.tries.default} (see src/test/resources/junit-platform.properties).
 */
class ChecksumPropertyTest {

  /** RFC 1071 the slow, obvious way: 16-bit big-endian words, end-around carry. */
  static int referenceSum(byte[] data, int off, int len) {
    int s = 0;
    for (int i = 0; i < len; i += 2) {
      int w = (data[off + i] & 0xff) << 8 | (i + 1 < len ? data[off + i + 1] & 0xff : 0);
      s += w;
      s = (s & 0xffff) + (s >>> 16);
    }
    return s;
  }

  @Property
  void fastSumEqualsReference(
      @ForAll @Size(max = 3000) byte[] data,
      @ForAll @IntRange(max = 40) int before,
      @ForAll @IntRange(max = 40) int after,
      @ForAll boolean littleEndian,
      @ForAll boolean direct) {
    int cap = before + data.length + after;
    ByteBuffer b = direct ? ByteBuffer.allocateDirect(cap) : ByteBuffer.allocate(cap);
    b.order(littleEndian ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN);
    b.put(before, data);
    assertEquals(referenceSum(data, 0, data.length), Checksums.sum(b, before, data.length));
    assertEquals(0, b.position());
    assertEquals(cap, b.limit());
  }

  @Property
  void everySubrangeOfALargeBufferMatches(
      @ForAll @Size(min = 200, max = 200) byte[] data,
      @ForAll @IntRange(max = 199) int from,
      @ForAll @IntRange(max = 200) int len) {
    int n = Math.min(len, 200 - from);
    assertEquals(
        referenceSum(data, from, n), Checksums.sum(ByteBuffer.wrap(data), from, n), "" + from);
  }

  /** One of: an ICMP echo, UDP, TCP datagram with random fields, options and payload. */
  @Provide
  Arbitrary<ByteBuffer> datagrams() {
    Arbitrary<Integer> kind = Arbitraries.integers().between(0, 2);
    Arbitrary<Integer> addr = Arbitraries.integers();
    Arbitrary<Integer> u16 = Arbitraries.integers().between(0, 0xffff);
    Arbitrary<byte[]> payload = Arbitraries.bytes().array(byte[].class).ofMaxSize(1600);
    Arbitrary<byte[]> options = Arbitraries.bytes().array(byte[].class).ofMaxSize(40);
    return Combinators.combine(kind, addr, addr, u16, u16, u16, payload, options)
        .as(
            (k, src, dst, a, b, id, data, opts) -> {
              Ipv4Builder builder =
                  k == 0
                      ? Ipv4Builder.icmpEchoRequest(a, b)
                      : k == 1 ? Ipv4Builder.udp(a, b) : Ipv4Builder.tcp(a, b).sequence(a * 7L);
              return builder
                  .source(src)
                  .destination(dst)
                  .identification(id)
                  .ttl(id & 0xff)
                  .tos(a & 0xff)
                  .options(opts)
                  .payload(data)
                  .build();
            });
  }

  @Property
  void builtDatagramsHaveValidChecksums(@ForAll("datagrams") ByteBuffer p) {
    assertTrue(Checksums.isIpv4HeaderValid(p, 0));
    assertTrue(Checksums.isTransportValid(p, 0));
  }

  /** An edit of one IP header field: which and its new value. */
  record Edit(int field, int value) {}

  @Provide
  Arbitrary<List<Edit>> edits() {
    return Combinators.combine(
            Arbitraries.integers().between(0, 7), Arbitraries.integers().between(0, 0xffff))
        .as(Edit::new)
        .list()
        .ofMinSize(1)
        .ofMaxSize(12);
  }

  private static int u16(ByteBuffer b, int at) {
    return (b.get(at) & 0xff) << 8 | (b.get(at + 1) & 0xff);
  }

  private static int i32(ByteBuffer b, int at) {
    return u16(b, at) << 16 | u16(b, at + 2);
  }

  /**
   * Random edits, each applied with an incremental update of the IP checksum and, where the field
   * is in the pseudo-header or the transport header, of the transport checksum; after each edit
   * both equal a full recomputation.
   */
  @Property
  void incrementalUpdatesEqualFullRecomputation(
      @ForAll("datagrams") ByteBuffer p, @ForAll("edits") List<Edit> edits) {
    Ipv4View v = new Ipv4View().wrap(p);
    int proto = v.protocol();
    int t = v.payloadOffset();
    int tcField =
        proto == Ipv4View.PROTOCOL_UDP ? t + 6 : proto == Ipv4View.PROTOCOL_TCP ? 16 + t : t + 2;
    boolean pseudo = proto != Ipv4View.PROTOCOL_ICMP;
    boolean udp = proto == Ipv4View.PROTOCOL_UDP;
    for (Edit e : edits) {
      int ipc = v.headerChecksum();
      int tc = u16(p, tcField);
      switch (e.field()) {
        case 0 -> { // TTL: the high byte of the word at 8
          int old = u16(p, 8);
          v.setTtl(e.value() & 0xff);
          v.setHeaderChecksum(Checksums.adjust(ipc, old, u16(p, 8)));
        }
        case 1 -> { // TOS: the low byte of the word at 0
          int old = u16(p, 0);
          v.setTos(e.value() & 0xff);
          v.setHeaderChecksum(Checksums.adjust(ipc, old, u16(p, 0)));
        }
        case 2 -> {
          int old = v.identification();
          v.setIdentification(e.value());
          v.setHeaderChecksum(Checksums.adjust(ipc, old, e.value()));
        }
        case 3, 4 -> { // source or destination: IP checksum and, through the pseudo-header, L4
          int at = e.field() == 3 ? 12 : 16;
          int old = i32(p, at);
          int neu = e.value() * 0x9E3779B1;
          if (e.field() == 3) {
            v.setSource(neu);
          } else {
            v.setDestination(neu);
          }
          v.setHeaderChecksum(Checksums.adjust32(ipc, old, neu));
          if (pseudo) {
            int c = udp ? Checksums.adjustUdp32(tc, old, neu) : Checksums.adjust32(tc, old, neu);
            p.put(tcField, (byte) (c >>> 8)).put(tcField + 1, (byte) c);
          }
        }
        case 5 -> { // DF flag: the word at 6
          int old = u16(p, 6);
          v.setFlags((e.value() & 1) != 0, false);
          v.setHeaderChecksum(Checksums.adjust(ipc, old, u16(p, 6)));
        }
        default -> { // a 16-bit word of the transport part, other than the checksum (and UDP
          // length)
          int words = (v.totalLength() - v.headerLength()) / 2;
          int at = t + 2 * (e.value() % words);
          if (at == tcField || (udp && at == t + 4)) {
            continue;
          }
          int old = u16(p, at);
          int neu = e.value() ^ 0x5a5a;
          p.put(at, (byte) (neu >>> 8)).put(at + 1, (byte) neu);
          int c = udp ? Checksums.adjustUdp(tc, old, neu) : Checksums.adjust(tc, old, neu);
          p.put(tcField, (byte) (c >>> 8)).put(tcField + 1, (byte) c);
        }
      }
      assertEquals(Checksums.ipv4Header(p, 0), v.headerChecksum(), "IP after " + e);
      assertTrue(v.isHeaderChecksumValid());
      int full =
          switch (proto) {
            case Ipv4View.PROTOCOL_UDP -> Checksums.udp(p, 0);
            case Ipv4View.PROTOCOL_TCP -> Checksums.tcp(p, 0);
            default -> Checksums.icmp(p, 0);
          };
      assertEquals(full, u16(p, tcField), "transport after " + e);
      assertTrue(Checksums.isTransportValid(p, 0));
    }
  }
}
