package org.divert4j.filter;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import org.divert4j.packet.Ipv6View;

/** Parses and prints the numbers and addresses of filter text. */
final class Addresses {
  private static final BigInteger MAX128 = BigInteger.ONE.shiftLeft(128);

  private Addresses() {}

  /**
   * @return {hi, lo} of a decimal or 0x-hexadecimal number below 2^128, or null if the word is not
   *     one
   */
  static long[] number(String w) {
    BigInteger v;
    try {
      if (w.startsWith("0x") || w.startsWith("0X")) {
        if (w.length() == 2 || w.length() > 34) {
          return null;
        }
        v = new BigInteger(w.substring(2), 16);
      } else {
        if (w.isEmpty() || w.length() > 39 || !w.chars().allMatch(c -> c >= '0' && c <= '9')) {
          return null;
        }
        v = new BigInteger(w);
      }
    } catch (NumberFormatException e) {
      return null;
    }
    if (v.signum() < 0 || v.compareTo(MAX128) >= 0) {
      return null;
    }
    return new long[] {v.shiftRight(64).longValue(), v.longValue()};
  }

  /**
   * @return the address of a dotted-quad IPv4 word (host order, in the low 32 bits), or -1
   */
  static long ipv4(String w) {
    String[] p = w.split("\\.", -1);
    if (p.length != 4) {
      return -1;
    }
    long a = 0;
    for (String s : p) {
      if (s.isEmpty() || s.length() > 3 || !s.chars().allMatch(c -> c >= '0' && c <= '9')) {
        return -1;
      }
      int v = Integer.parseInt(s);
      if (v > 255) {
        return -1;
      }
      a = (a << 8) | v;
    }
    return a;
  }

  /**
   * @return {hi, lo} of an IPv6 address in RFC 4291 text form (with {@code ::} and an optional
   *     dotted IPv4 tail), or null
   */
  static long[] ipv6(String w) {
    int[] groups = new int[8];
    int dbl = w.indexOf("::");
    if (dbl >= 0 && w.indexOf("::", dbl + 1) >= 0) {
      return null;
    }
    String head = dbl >= 0 ? w.substring(0, dbl) : w;
    String tail = dbl >= 0 ? w.substring(dbl + 2) : "";
    int[] h = groups(head, dbl < 0 || tail.isEmpty());
    int[] t = dbl >= 0 ? groups(tail, true) : new int[0];
    if (h == null || t == null) {
      return null;
    }
    if (dbl < 0 ? h.length != 8 : h.length + t.length > 7) {
      return null;
    }
    System.arraycopy(h, 0, groups, 0, h.length);
    System.arraycopy(t, 0, groups, 8 - t.length, t.length);
    long hi = 0;
    long lo = 0;
    for (int i = 0; i < 4; i++) {
      hi = (hi << 16) | groups[i];
      lo = (lo << 16) | groups[4 + i];
    }
    return new long[] {hi, lo};
  }

  private static int[] groups(String s, boolean ipv4TailAllowed) {
    if (s.isEmpty()) {
      return new int[0];
    }
    String[] p = s.split(":", -1);
    int n = p.length;
    long v4 = -1;
    if (ipv4TailAllowed && p[n - 1].contains(".")) {
      v4 = ipv4(p[n - 1]);
      if (v4 < 0) {
        return null;
      }
    }
    int[] g = new int[v4 >= 0 ? n + 1 : n];
    for (int i = 0; i < (v4 >= 0 ? n - 1 : n); i++) {
      String x = p[i];
      if (x.isEmpty() || x.length() > 4) {
        return null;
      }
      try {
        g[i] = Integer.parseInt(x, 16);
      } catch (NumberFormatException e) {
        return null;
      }
      if (x.startsWith("+") || x.startsWith("-")) {
        return null;
      }
    }
    if (v4 >= 0) {
      g[n - 1] = (int) (v4 >>> 16);
      g[n] = (int) (v4 & 0xffff);
    }
    return g;
  }

  /**
   * RFC 5952 text: lower case, the longest run of two or more zero groups as {@code ::} (the one
   * formatter of the packet toolkit, {@link Ipv6View#formatAddress}).
   */
  static String ipv6Text(long hi, long lo) {
    return Ipv6View.formatAddress(ByteBuffer.allocate(16).putLong(0, hi).putLong(8, lo), 0);
  }
}
