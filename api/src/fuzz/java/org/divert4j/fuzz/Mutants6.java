package org.divert4j.fuzz;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import org.divert4j.DivertException;
import org.divert4j.packet.Ipv6Builder;
import org.divert4j.packet.Ipv6Fragmenter;

/**
 * Structurally interesting IPv6 packets for fuzzing, as {@link Mutants} makes IPv4 ones: a valid
 * packet (UDP, TCP, ICMPv6 echo or raw, behind zero to four hop-by-hop, routing and destination
 * options headers; whole, with an atomic Fragment header, or one fragment of it) with zero to four
 * mutations that aim at what the extension-header walk trusts: flipped bits, truncation, trailing
 * bytes, the version, the payload length, Next Header values (set to each extension header type,
 * 59, an upper layer or anything), Hdr Ext Len bytes (0, 255 or random), the fragment offset and M,
 * a Jumbo Payload option, and now and then random bytes. Placed as {@link Mutants#place} does.
 */
public final class Mutants6 {
  private Mutants6() {}

  private static final int[] NEXT = {0, 43, 44, 60, 59, 6, 17, 58, 51, 50, 135};

  /** Mutants from random seeds; jqwik reports the seed's mutant on failure. */
  public static Arbitrary<Mutants.Mutant> arbitrary() {
    return Arbitraries.longs().map(seed -> make(new Random(seed)));
  }

  public static Mutants.Mutant make(Random r) {
    StringBuilder how = new StringBuilder("v6 ");
    byte[] p = base(r, how);
    int mutations = r.nextInt(5);
    for (int i = 0; i < mutations; i++) {
      p = mutate(r, p, how);
    }
    return new Mutants.Mutant(Mutants.place(r, p), how.toString());
  }

  /** A valid IPv6 packet, or one of its fragments. */
  public static byte[] base(Random r, StringBuilder how) {
    if (r.nextInt(40) == 0) {
      byte[] junk = new byte[r.nextInt(120)];
      r.nextBytes(junk);
      if (junk.length > 0) {
        junk[0] = (byte) (0x60 | junk[0] & 0x0f);
      }
      how.append("random");
      return junk;
    }
    int kind = r.nextInt(4);
    Ipv6Builder b =
        switch (kind) {
          case 0 -> Ipv6Builder.udp(r.nextInt(65536), r.nextInt(65536));
          case 1 -> Ipv6Builder.tcp(r.nextInt(65536), r.nextInt(65536)).tcpFlags(r.nextInt(256));
          case 2 -> Ipv6Builder.icmpv6EchoRequest(r.nextInt(65536), r.nextInt(65536));
          default -> Ipv6Builder.raw(NEXT[4 + r.nextInt(NEXT.length - 4)]);
        };
    byte[] a = new byte[16];
    r.nextBytes(a);
    b.source(a);
    r.nextBytes(a);
    b.destination(a).hopLimit(r.nextInt(256)).flowLabel(r.nextInt(1 << 20));
    how.append(new String[] {"udp", "tcp", "icmpv6", "raw"}[kind]);
    int headers = r.nextInt(3) == 0 ? 1 + r.nextInt(4) : 0;
    int used = 0;
    for (int k = 0; k < headers; k++) {
      byte[] body = new byte[r.nextInt(4) == 0 ? r.nextInt(300) : r.nextInt(30)];
      int t = k == 0 ? r.nextInt(3) : 1 + r.nextInt(2);
      if (t == 1) {
        r.nextBytes(body); // routing data is opaque; option areas stay Pad1
      }
      switch (t) {
        case 0 -> b.hopByHop(body);
        case 1 -> b.routing(body);
        default -> b.destinationOptions(body);
      }
      used += body.length + 2 + 7 & ~7;
      how.append(new String[] {" hbh", " rh", " dst"}[t]);
    }
    if (r.nextInt(8) == 0) {
      b.fragmentHeader(0, false, r.nextInt());
      how.append(" atomic");
      used += 8;
    }
    b.payloadLength(Math.max(0, Math.min(Mutants.sizes(r), 65535 - used - 20)));
    ByteBuffer d = b.build();
    if (r.nextInt(3) == 0 && d.remaining() > 1280 && used < 600) {
      try {
        int mtu = 1280 + r.nextInt(200);
        List<ByteBuffer> fs = Ipv6Fragmenter.fragment(d, mtu, 1 + r.nextInt(Integer.MAX_VALUE));
        int k = r.nextInt(fs.size());
        how.append(" frag ").append(k).append('/').append(fs.size());
        return Mutants.bytes(fs.get(k));
      } catch (DivertException e) {
        throw new AssertionError("a valid datagram fragments", e);
      }
    }
    return Mutants.bytes(d);
  }

  public static byte[] mutate(Random r, byte[] p, StringBuilder how) {
    int n = p.length;
    switch (r.nextInt(11)) {
      case 0, 1, 2 -> {
        // Bit flips, truncation and trailing bytes, as for IPv4 (its first three mutations).
        return genericMutation(r, p, how);
      }
      case 3 -> { // version
        int v = r.nextInt(4) == 0 ? r.nextInt(16) : 4;
        if (n > 0) {
          p[0] = (byte) ((p[0] & 0x0f) | v << 4);
        }
        how.append(" ver").append(v);
      }
      case 4 -> { // payload length: random, near the real one, zero, or the maximum
        int t =
            switch (r.nextInt(4)) {
              case 0 -> r.nextInt(65536);
              case 1 -> Math.max(0, Math.min(65535, n - 40 + r.nextInt(17) - 8));
              case 2 -> 0;
              default -> 65535;
            };
        put16(p, 4, t);
        how.append(" plen").append(t);
      }
      case 5 -> { // a Next Header value somewhere in the chain
        int at = nextHeaderField(r, p);
        int nh = r.nextInt(4) == 0 ? r.nextInt(256) : NEXT[r.nextInt(NEXT.length)];
        if (at >= 0) {
          p[at] = (byte) nh;
        }
        how.append(" nh@").append(at).append('=').append(nh);
      }
      case 6 -> { // a Hdr Ext Len byte
        int at = nextHeaderField(r, p);
        int len = new int[] {0, 255, r.nextInt(256), 1}[r.nextInt(4)];
        if (at >= 40 && at + 1 < n) {
          p[at + 1] = (byte) len;
        }
        how.append(" hlen@").append(at).append('=').append(len);
      }
      case 7 -> { // fragment offset and M, where the first extension header is
        int off = r.nextBoolean() ? 8191 - r.nextInt(16) : r.nextInt(8192);
        int w = off << 3 | r.nextInt(2);
        put16(p, 42, w);
        how.append(" foff").append(off * 8).append(w & 1);
      }
      case 8 -> { // a Jumbo Payload option in a hop-by-hop header at the front
        if (n >= 48) {
          p[6] = 0;
          p[41] = 0;
          p[42] = (byte) 0xC2;
          p[43] = 4;
          put16(p, 4, r.nextBoolean() ? 0 : n - 40);
        }
        how.append(" jumbo");
      }
      case 9 -> { // make the payload length agree with the bytes again
        put16(p, 4, Math.max(0, Math.min(n - 40, 65535)));
        how.append(" fixlen");
      }
      default -> { // the transport header: UDP length, TCP data offset, ICMPv6 type
        int at = 40 + r.nextInt(Math.max(1, Math.min(n - 40, 200) + 1));
        if (at + 14 <= n) {
          put16(p, at + 4, r.nextInt(65536));
          p[at + 12] = (byte) (r.nextInt(16) << 4);
          p[at] = (byte) r.nextInt(256);
        }
        how.append(" l4hdr@").append(at);
      }
    }
    return p;
  }

  /** The IPv4 mutator's flips, truncation or trailing bytes (cases 0-2 of {@link Mutants}). */
  private static byte[] genericMutation(Random r, byte[] p, StringBuilder how) {
    // Mutants.mutate picks its case with its generator's first nextInt(14): find a seed that picks
    // one of the three, deterministically from r.
    while (true) {
      long s = r.nextLong();
      if (new Random(s).nextInt(14) <= 2) {
        return Mutants.mutate(new Random(s), p, how);
      }
    }
  }

  /** The offset of a Next Header field: the fixed header's, or one in the extension headers. */
  private static int nextHeaderField(Random r, byte[] p) {
    int n = p.length;
    if (n < 40) {
      return n > 6 ? 6 : -1;
    }
    int nh = p[6] & 0xff;
    int field = 6;
    int at = 40;
    int hops = r.nextInt(5);
    for (int i = 0; i < hops && at + 2 <= n; i++) {
      if (nh != 0 && nh != 43 && nh != 60 && nh != 44) {
        break;
      }
      int type = nh;
      field = at;
      nh = p[at] & 0xff;
      at += type == 44 ? 8 : ((p[at + 1] & 0xff) + 1) * 8;
    }
    return field;
  }

  private static void put16(byte[] p, int at, int v) {
    if (at + 1 < p.length) {
      p[at] = (byte) (v >>> 8);
      p[at + 1] = (byte) v;
    }
  }
}
