package org.divert4j.fuzz;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import org.divert4j.DivertException;
import org.divert4j.packet.Checksums;
import org.divert4j.packet.Fragmenter;
import org.divert4j.packet.Ipv4Builder;

/**
 * Structurally interesting packets for fuzzing: a valid datagram (UDP, TCP, ICMP echo or raw; with
 * or without options; whole or one of its fragments) with zero to four mutations that aim at what
 * parsers trust: flipped bits, truncation, trailing bytes, IHL, version, total length, flags,
 * fragment offset (up to the 65535 edge), options, protocol, the UDP length and TCP data offset,
 * and now and then plain random bytes. The result sits at an awkward position of a heap or direct
 * buffer of either byte order, so that index and byte-order mistakes show.
 */
public final class Mutants {
  private Mutants() {}

  /** A fuzz input: the packet (position to limit) and how it was made, for failure reports. */
  public record Mutant(ByteBuffer packet, String how) {
    /**
     * @return a copy of the packet's bytes
     */
    public byte[] bytes() {
      return Mutants.bytes(packet);
    }

    @Override
    public String toString() {
      String hex = HexFormat.of().formatHex(bytes());
      return how
          + " len="
          + packet.remaining()
          + " "
          + (hex.length() > 240 ? hex.substring(0, 240) + "..." : hex);
    }
  }

  /** Mutants from random seeds; jqwik reports the seed's mutant on failure. */
  public static Arbitrary<Mutant> arbitrary() {
    return Arbitraries.longs().map(seed -> make(new Random(seed)));
  }

  public static Mutant make(Random r) {
    StringBuilder how = new StringBuilder();
    byte[] p = base(r, how);
    int mutations = r.nextInt(5);
    for (int i = 0; i < mutations; i++) {
      p = mutate(r, p, how);
    }
    return new Mutant(place(r, p), how.toString());
  }

  /** A valid datagram, or one of its fragments. */
  public static byte[] base(Random r, StringBuilder how) {
    if (r.nextInt(40) == 0) {
      byte[] junk = new byte[r.nextInt(100)];
      r.nextBytes(junk);
      how.append("random");
      return junk;
    }
    int kind = r.nextInt(4);
    int size = sizes(r);
    Ipv4Builder b =
        switch (kind) {
          case 0 -> Ipv4Builder.udp(r.nextInt(65536), r.nextInt(65536));
          case 1 -> Ipv4Builder.tcp(r.nextInt(65536), r.nextInt(65536)).tcpFlags(r.nextInt(256));
          case 2 -> Ipv4Builder.icmpEchoRequest(r.nextInt(65536), r.nextInt(65536));
          default -> Ipv4Builder.raw(r.nextInt(256));
        };
    byte[] opts = r.nextInt(3) == 0 ? options(r) : new byte[0];
    b.source(r.nextInt())
        .destination(r.nextInt())
        .identification(r.nextInt(65536))
        .ttl(r.nextInt(256))
        .tos(r.nextInt(256))
        .dontFragment(r.nextInt(4) == 0)
        .options(opts)
        .payloadLength(Math.max(0, Math.min(size, 65535 - 60 - 20)));
    how.append(new String[] {"udp", "tcp", "icmp", "raw"}[kind])
        .append(opts.length > 0 ? "+opts" : "");
    ByteBuffer d = b.dontFragment(false).build();
    if (r.nextInt(3) == 0 && d.remaining() > 68) {
      try {
        List<ByteBuffer> fs = Fragmenter.fragment(d, 68 + r.nextInt(1500));
        int k = r.nextInt(fs.size());
        how.append(" frag ").append(k).append('/').append(fs.size());
        return bytes(fs.get(k));
      } catch (DivertException e) {
        throw new AssertionError("a valid datagram fragments", e);
      }
    }
    return bytes(d);
  }

  /** Mostly small, sometimes up to the 65535 maximum. */
  public static int sizes(Random r) {
    return switch (r.nextInt(10)) {
      case 0 -> r.nextInt(65536);
      case 1 -> 65535 - r.nextInt(100);
      case 2, 3 -> r.nextInt(2000);
      default -> r.nextInt(100);
    };
  }

  /** IP options: well-formed, or random bytes (which may be malformed). */
  public static byte[] options(Random r) {
    int room = 1 + r.nextInt(40);
    byte[] o = new byte[room];
    if (r.nextBoolean()) {
      r.nextBytes(o);
      return o;
    }
    int[] types = {0x00, 0x01, 0x07, 0x44, 0x83, 0x89, 0x94, 0x82, 0x86, 0x19};
    for (int i = 0; i < room; ) {
      int left = room - i;
      int type = types[r.nextInt(types.length)];
      if (left < 2 || type <= 1) {
        o[i++] = (byte) (left < 2 ? 1 : type);
        continue;
      }
      int len = 2 + r.nextInt(left - 1);
      o[i] = (byte) type;
      o[i + 1] = (byte) len;
      i += len;
    }
    return o;
  }

  public static byte[] mutate(Random r, byte[] p, StringBuilder how) {
    int n = p.length;
    switch (r.nextInt(14)) {
      case 0 -> { // flip 1..8 bits, mostly in the headers
        int k = 1 + r.nextInt(8);
        for (int i = 0; i < k && n > 0; i++) {
          int at = r.nextInt(4) == 0 ? r.nextInt(n) : r.nextInt(Math.min(n, 64));
          p[at] ^= (byte) (1 << r.nextInt(8));
        }
        how.append(" flip").append(k);
      }
      case 1 -> { // truncate
        int len = r.nextBoolean() ? r.nextInt(Math.max(1, Math.min(n, 64))) : r.nextInt(n + 1);
        how.append(" trunc").append(len);
        return java.util.Arrays.copyOf(p, len);
      }
      case 2 -> { // trailing bytes (link padding, or lies)
        int more = r.nextInt(64);
        byte[] q = java.util.Arrays.copyOf(p, Math.min(n + more, 65600));
        for (int i = n; i < q.length; i++) {
          q[i] = (byte) r.nextInt();
        }
        how.append(" pad").append(q.length - n);
        return q;
      }
      case 3 -> { // IHL
        int ihl = r.nextInt(16);
        if (n > 0) {
          p[0] = (byte) ((p[0] & 0xf0) | ihl);
        }
        how.append(" ihl").append(ihl);
      }
      case 4 -> { // version
        int v = r.nextInt(4) == 0 ? r.nextInt(16) : 6;
        if (n > 0) {
          p[0] = (byte) ((p[0] & 0x0f) | v << 4);
        }
        how.append(" ver").append(v);
      }
      case 5 -> { // total length: random, near the real one, or the extremes
        int t =
            switch (r.nextInt(4)) {
              case 0 -> r.nextInt(65536);
              case 1 -> Math.max(0, Math.min(65535, n + r.nextInt(17) - 8));
              case 2 -> r.nextInt(61);
              default -> 65535;
            };
        put16(p, 2, t);
        how.append(" tot").append(t);
      }
      case 6 -> { // flags: any combination of reserved, DF, MF
        int f = r.nextInt(8);
        if (n > 6) {
          p[6] = (byte) ((p[6] & 0x1f) | f << 5);
        }
        how.append(" flags").append(f);
      }
      case 7 -> { // fragment offset, often at the top of the range
        int off = r.nextBoolean() ? 8191 - r.nextInt(16) : r.nextInt(8192);
        if (n > 7) {
          int w = ((p[6] & 0xe0) << 8) | off;
          put16(p, 6, w);
        }
        how.append(" off").append(off * 8);
      }
      case 8 -> { // options region overwritten with random bytes
        int hl = n > 0 ? (p[0] & 0x0f) * 4 : 0;
        for (int i = 20; i < Math.min(hl, n); i++) {
          p[i] = (byte) r.nextInt();
        }
        how.append(" optjunk");
      }
      case 9 -> { // protocol
        int proto = new int[] {1, 6, 17, 33, 132, 136, r.nextInt(256)}[r.nextInt(7)];
        if (n > 9) {
          p[9] = (byte) proto;
        }
        how.append(" proto").append(proto);
      }
      case 10 -> { // UDP length field / TCP data offset / ICMP type: the transport header
        int hl = n > 0 ? (p[0] & 0x0f) * 4 : 0;
        if (hl + 14 <= n) {
          put16(p, hl + 4, r.nextInt(65536));
          p[hl + 12] = (byte) (r.nextInt(16) << 4);
          p[hl] = (byte) r.nextInt(256);
        }
        how.append(" l4hdr");
      }
      case 11 -> { // header checksum: zero or random
        put16(p, 10, r.nextBoolean() ? 0 : r.nextInt(65536));
        how.append(" csum");
      }
      case 12 -> { // make the stored total length agree with the bytes again
        put16(p, 2, Math.min(n, 65535));
        how.append(" fixlen");
      }
      default -> { // refill the header checksum so that the mutation survives checksum filters
        if (n >= 20 && (p[0] & 0x0f) >= 5 && (p[0] & 0x0f) * 4 <= n) {
          ByteBuffer b = ByteBuffer.wrap(p);
          Checksums.fillIpv4Header(b, 0);
        }
        how.append(" fixsum");
      }
    }
    return p;
  }

  private static void put16(byte[] p, int at, int v) {
    if (at + 1 < p.length) {
      p[at] = (byte) (v >>> 8);
      p[at + 1] = (byte) v;
    }
  }

  /** The bytes at a random position of a heap or direct buffer, of either byte order. */
  public static ByteBuffer place(Random r, byte[] p) {
    int before = r.nextInt(4) == 0 ? r.nextInt(40) : 0;
    int after = r.nextInt(4) == 0 ? r.nextInt(40) : 0;
    int cap = before + p.length + after;
    ByteBuffer b = r.nextInt(4) == 0 ? ByteBuffer.allocateDirect(cap) : ByteBuffer.allocate(cap);
    b.order(r.nextBoolean() ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < cap; i++) {
      b.put(i, (byte) 0xA5);
    }
    b.put(before, p);
    b.position(before).limit(before + p.length);
    return b;
  }

  /** Several mutants, e.g. the fragments of one stream. */
  public static List<Mutant> many(Random r, int n) {
    List<Mutant> l = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      l.add(make(r));
    }
    return l;
  }

  /**
   * @param b a buffer
   * @return a copy of its bytes from position to limit
   */
  public static byte[] bytes(ByteBuffer b) {
    byte[] a = new byte[b.remaining()];
    b.get(b.position(), a);
    return a;
  }
}
