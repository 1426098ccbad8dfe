package org.divert4j.filter;

import java.nio.ByteBuffer;

/** Builds the IPv4 and IPv6 packets the filter tests evaluate. */
final class Packets {
  static final int TCP = 6;
  static final int UDP = 17;
  static final int ICMP = 1;
  static final int ICMPV6 = 58;

  private Packets() {}

  /** Transport header plus payload for TCP (20-byte header, given flags), UDP or ICMP(v6). */
  static byte[] transport(int proto, int sport, int dport, int flags, byte[] payload) {
    int h = proto == TCP ? 20 : 8;
    byte[] t = new byte[h + payload.length];
    if (proto == TCP || proto == UDP) {
      put16(t, 0, sport);
      put16(t, 2, dport);
    } else {
      t[0] = (byte) sport; // type
      t[1] = (byte) dport; // code
      put16(t, 2, 0x1234); // checksum (not verified by filters)
      put32(t, 4, 0x5678); // body
    }
    if (proto == TCP) {
      put32(t, 4, 1000);
      put32(t, 8, 2000);
      t[12] = 0x50;
      t[13] = (byte) flags;
      put16(t, 14, 65535);
    } else if (proto == UDP) {
      put16(t, 4, t.length);
    }
    System.arraycopy(payload, 0, t, h, payload.length);
    return t;
  }

  static ByteBuffer ipv4(int proto, String src, String dst, int fragField, byte[] l4) {
    byte[] p = new byte[20 + l4.length];
    p[0] = 0x45;
    put16(p, 2, p.length);
    put16(p, 4, 0x1111);
    put16(p, 6, fragField);
    p[8] = 64;
    p[9] = (byte) proto;
    put32(p, 12, (int) Addresses.ipv4(src));
    put32(p, 16, (int) Addresses.ipv4(dst));
    System.arraycopy(l4, 0, p, 20, l4.length);
    return ByteBuffer.wrap(p);
  }

  static ByteBuffer tcp4(int sport, int dport, int flags, byte[] payload) {
    return ipv4(TCP, "10.0.0.1", "10.0.0.2", 0x4000, transport(TCP, sport, dport, flags, payload));
  }

  static ByteBuffer udp4(int sport, int dport, byte[] payload) {
    return ipv4(UDP, "10.0.0.1", "10.0.0.2", 0, transport(UDP, sport, dport, 0, payload));
  }

  /**
   * An IPv6 packet; {@code ext} are extension header numbers (0, 43, 60, or 44 for a fragment
   * header with {@code fragField}) placed in order before the upper-layer header.
   */
  static ByteBuffer ipv6(
      int proto, String src, String dst, int[] ext, int fragField, byte[] l4, int hopLimit) {
    int extLen = 8 * ext.length;
    byte[] p = new byte[40 + extLen + l4.length];
    put32(p, 0, 0x6_12_abcde); // version 6, traffic class 0x12, flow label 0xabcde
    put16(p, 4, extLen + l4.length);
    p[6] = (byte) (ext.length > 0 ? ext[0] : proto);
    p[7] = (byte) hopLimit;
    long[] s = Addresses.ipv6(src);
    long[] d = Addresses.ipv6(dst);
    put64(p, 8, s[0]);
    put64(p, 16, s[1]);
    put64(p, 24, d[0]);
    put64(p, 32, d[1]);
    for (int i = 0; i < ext.length; i++) {
      int at = 40 + 8 * i;
      p[at] = (byte) (i + 1 < ext.length ? ext[i + 1] : proto);
      if (ext[i] == 44) {
        put16(p, at + 2, fragField);
      }
    }
    System.arraycopy(l4, 0, p, 40 + extLen, l4.length);
    return ByteBuffer.wrap(p);
  }

  static ByteBuffer tcp6(int sport, int dport, int flags, byte[] payload) {
    return ipv6(
        TCP,
        "2001:db8::1",
        "2001:db8::2",
        new int[0],
        0,
        transport(TCP, sport, dport, flags, payload),
        64);
  }

  static ByteBuffer udp6(int sport, int dport, byte[] payload) {
    return ipv6(
        UDP,
        "2001:db8::1",
        "2001:db8::2",
        new int[0],
        0,
        transport(UDP, sport, dport, 0, payload),
        64);
  }

  static void put16(byte[] b, int i, int v) {
    b[i] = (byte) (v >>> 8);
    b[i + 1] = (byte) v;
  }

  static void put32(byte[] b, int i, int v) {
    put16(b, i, v >>> 16);
    put16(b, i + 2, v);
  }

  static void put64(byte[] b, int i, long v) {
    put32(b, i, (int) (v >>> 32));
    put32(b, i + 4, (int) v);
  }
}
