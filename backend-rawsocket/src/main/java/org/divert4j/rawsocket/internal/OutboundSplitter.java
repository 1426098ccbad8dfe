package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;
import java.util.Arrays;
import org.divert4j.DivertException;
import org.divert4j.linux.Native;
import org.divert4j.packet.FragmentSink;
import org.divert4j.packet.Fragmenter;
import org.divert4j.packet.Ipv6Fragmenter;

/**
 * The S19 cut: POSTROUTING runs before {@code ip_fragment} (net/ipv4/ip_output.c), so NFQUEUE sees
 * a locally generated datagram larger than the egress MTU whole; per-fragment mode cuts it here as
 * {@code ip_fragment} would and delivers the fragments one by one. Holds the fragments of one
 * datagram at a time in a buffer that grows once to the largest need seen (65535 bytes at MTU 68
 * make 8190 headers) and is then reused: nothing is allocated per packet.
 *
 * <p>Not thread-safe: owned by one {@link Lane}, used under its receive lock.
 */
final class OutboundSplitter {
  /**
   * IPv6 Identifications of the cuts: one space for the JVM, apart from IPv4's (S63), starting at a
   * random value.
   */
  private static final java.util.concurrent.atomic.AtomicInteger IDS6 =
      new java.util.concurrent.atomic.AtomicInteger(new java.util.Random().nextInt());

  /**
   * @return a new non-zero IPv6 Identification of the JVM's one space (S58, S63)
   */
  static int nextId6() {
    int id = IDS6.incrementAndGet();
    return id == 0 ? IDS6.incrementAndGet() : id;
  }

  private final Fragmenter fragmenter = new Fragmenter(true);
  private final Ipv6Fragmenter fragmenter6 = new Ipv6Fragmenter(true);
  private final FragmentSink sink = this::keep;
  private ByteBuffer dup;
  private ByteBuffer dupOf;
  private ByteBuffer buf;
  private int[] off = new int[64];
  private int[] len = new int[64];
  private int count;
  private int used;
  private int next = -1;

  /**
   * Cuts a datagram into fragments of at most {@code mtu} bytes.
   *
   * @param src the buffer holding it
   * @param at its first byte
   * @param length its length
   * @param mtu the egress MTU
   * @return true if it was cut (the fragments are delivered next), false if it cannot be
   */
  boolean cut(ByteBuffer src, int at, int length, int mtu) {
    return cut(src, at, length, mtu, false);
  }

  /**
   * Cuts an IPv6 datagram as {@code ip6_fragment} would (S57): POSTROUTING runs in {@code
   * ip6_output} before {@code ip6_finish_output} fragments (net/ipv6/ip6_output.c), so NFQUEUE sees
   * it whole, as for IPv4.
   *
   * @param src the buffer holding it
   * @param at its first byte
   * @param length its length
   * @param mtu the egress MTU
   * @return true if it was cut, false if it cannot be (delivered whole)
   */
  boolean cut6(ByteBuffer src, int at, int length, int mtu) {
    return cut(src, at, length, mtu, true);
  }

  private boolean cut(ByteBuffer src, int at, int length, int mtu, boolean six) {
    if (dup == null || dupOf != src) {
      dup = src.duplicate();
      dupOf = src;
    }
    dup.limit(at + length).position(at);
    count = 0;
    used = 0;
    try {
      if (six) {
        fragmenter6.fragment(dup, mtu, nextId6(), sink);
      } else {
        fragmenter.fragment(dup, mtu, sink);
      }
      next = 0;
      return true;
    } catch (DivertException e) {
      next = -1; // not fragmentable after all: deliver it whole
      return false;
    } finally {
      dup.clear();
    }
  }

  /**
   * @return true while fragments of a cut datagram remain to be delivered
   */
  boolean active() {
    return next >= 0;
  }

  /**
   * @return the length of the next fragment
   */
  int currentLength() {
    return len[next];
  }

  /**
   * Copies the next fragment to {@code dst} at {@code at} and moves on.
   *
   * @param dst where to
   * @param at the index in {@code dst}
   * @return true if that was the last fragment
   */
  boolean copyNext(ByteBuffer dst, int at) {
    dst.put(at, buf, off[next], len[next]);
    if (++next == count) {
      next = -1;
      return true;
    }
    return false;
  }

  /** Forgets a cut in progress. */
  void reset() {
    next = -1;
  }

  private void keep(ByteBuffer f) {
    int n = f.remaining();
    if (buf == null || used + n > buf.capacity()) {
      ByteBuffer b = Native.allocate(Math.max(2 * 65536, used + n + 65536));
      if (buf != null) {
        b.put(0, buf, 0, used);
      }
      buf = b;
    }
    if (count == off.length) {
      off = Arrays.copyOf(off, count * 2);
      len = Arrays.copyOf(len, count * 2);
    }
    buf.put(used, f, f.position(), n);
    off[count] = used;
    len[count] = n;
    count++;
    used += n;
  }
}
