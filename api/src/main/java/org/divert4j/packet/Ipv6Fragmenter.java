package org.divert4j.packet;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.divert4j.DivertException;
import org.divert4j.MalformedPacketException;
import org.divert4j.PacketTooLargeException;

/**
 * Splits an IPv6 datagram into fragments that fit an MTU, per RFC 8200 section 4.5 (SEMANTICS.md
 * S57, S58).
 *
 * <p>What the fragments look like:
 *
 * <ul>
 *   <li>Each fragment is the <em>unfragmentable part</em> of the datagram, a Fragment header and a
 *       piece of the <em>fragmentable part</em>; at most {@code mtu} bytes; every piece but the
 *       last is a multiple of 8 bytes, the largest that fits.
 *   <li>The unfragmentable part is the IPv6 header and the extension headers that nodes en route
 *       process: everything up to and including the last Routing header, else the Hop-by-Hop header
 *       if it comes first, else the IPv6 header alone. Destination options after the Routing header
 *       (or with none) travel in the fragmentable part. The Next Header field of the last
 *       unfragmentable header is set to 44; the Fragment header's Next Header is what it said.
 *   <li>The Fragment header carries the Identification the caller gives (non-zero: RFC 8200 asks
 *       for one that is unique per source and destination for the datagram's lifetime; the caller
 *       owns that space, one per family, S63), the offset and M, set on all but the last.
 *   <li>A datagram that already has a Fragment header (a fragment, or an atomic fragment) is cut
 *       again under its own Identification: its offset is added to every piece and the last piece
 *       keeps its M, so fragments can be fragmented again, as {@link Fragmenter} does for IPv4.
 *   <li>The first fragment carries the whole header chain: the extension headers of the
 *       fragmentable part and the upper-layer header (20 bytes for TCP, 8 for UDP, 4 for ICMPv6),
 *       as RFC 8200 asks since RFC 7112; a datagram whose chain does not fit is refused.
 *   <li>Version, traffic class, flow label, hop limit, addresses and the headers are kept; the
 *       payload length is set per fragment. Transport checksums are not touched (they cover the
 *       whole datagram).
 * </ul>
 *
 * <p>The datagram is the bytes from {@code position()} to {@code limit()}; its payload length field
 * is ignored, as on send (S61), and the buffer's position and limit are not changed. A datagram no
 * longer than the MTU is passed to the sink unchanged, as the caller's own buffer.
 *
 * <p><b>Allocation and threads.</b> One scratch buffer per instance, sized to the largest MTU seen:
 * fragmenting allocates nothing per packet. Not thread-safe; nothing blocks, except as the sink
 * does.
 */
public final class Ipv6Fragmenter {
  /**
   * The smallest MTU accepted: the IPv6 header, a Fragment header and 8 bytes. (Real IPv6 links
   * have at least 1280, RFC 8200 section 5; smaller values are useful in tests.)
   */
  public static final int MIN_MTU = Ipv6View.HEADER_LENGTH + Ipv6View.FRAGMENT_HEADER_LENGTH + 8;

  /** The largest datagram: the 40-byte header and a 65535-byte payload. */
  public static final int MAX_LENGTH = Ipv6View.HEADER_LENGTH + Ipv6View.MAX_PAYLOAD_LENGTH;

  private final boolean direct;
  private final Ipv6View in = new Ipv6View();
  private ByteBuffer scratch;

  /** A fragmenter whose scratch buffer is on the Java heap. */
  public Ipv6Fragmenter() {
    this(false);
  }

  /**
   * @param direct true for a direct scratch buffer (for sinks that hand fragments to native code)
   */
  public Ipv6Fragmenter(boolean direct) {
    this.direct = direct;
  }

  /**
   * Fragments a datagram to the MTU and hands each fragment to the sink, in offset order.
   *
   * @param datagram the datagram, from its position to its limit; read only, position and limit
   *     unchanged
   * @param mtu the largest fragment in bytes, at least {@link #MIN_MTU}
   * @param identification the Identification of the new Fragment headers, non-zero; ignored when
   *     the datagram already has a Fragment header
   * @param sink receives each fragment during the call (see {@link FragmentSink}); each is an IPv6
   *     packet with a Fragment header
   * @return the number of fragments produced (1 when the datagram fits)
   * @throws IllegalArgumentException if {@code mtu} is under {@link #MIN_MTU}, or the datagram must
   *     be cut and has no Fragment header and {@code identification} is 0
   * @throws MalformedPacketException if the datagram fails {@link Ipv6View#checkForSend()}
   * @throws PacketTooLargeException if it exceeds {@link #MAX_LENGTH} bytes, its unfragmentable
   *     part leaves no room for 8 bytes of payload in a fragment of {@code mtu} bytes, or its
   *     header chain does not fit the first fragment
   * @throws DivertException whatever the sink throws; fragments before it were delivered
   */
  public int fragment(ByteBuffer datagram, int mtu, int identification, FragmentSink sink)
      throws DivertException {
    if (mtu < MIN_MTU) {
      throw new IllegalArgumentException("MTU must be at least " + MIN_MTU + ": " + mtu);
    }
    Objects.requireNonNull(sink, "sink");
    int base = datagram.position();
    int length = datagram.remaining();
    if (length > MAX_LENGTH) {
      throw new PacketTooLargeException(
          length, MAX_LENGTH, "the IPv6 payload is at most 65535 bytes", DivertException.NO_ERRNO);
    }
    Ipv6View v = in.wrap(datagram);
    v.validateForSend();
    if (length <= mtu) {
      sink.accept(datagram);
      return 1;
    }
    // Where the fragmentable part starts, which Next Header field names it, and what it is.
    long u = unfragmentable(datagram, base, length);
    int unfrag = (int) (u >>> 32) & 0x7fffffff;
    int field = (int) u;
    int from;
    int offset0;
    boolean lastM;
    int nextHeader;
    int id;
    if (u < 0) { // it has a Fragment header, right after the unfragmentable part
      int w = Bytes.u16(datagram, base + unfrag + 2);
      nextHeader = Bytes.u8(datagram, base + unfrag);
      offset0 = w & 0xfff8;
      lastM = (w & 1) != 0;
      id = Bytes.i32(datagram, base + unfrag + 4);
      from = unfrag + Ipv6View.FRAGMENT_HEADER_LENGTH;
    } else {
      if (identification == 0) {
        throw new IllegalArgumentException("the fragment Identification must not be 0");
      }
      nextHeader = Bytes.u8(datagram, base + field);
      offset0 = 0;
      lastM = false;
      id = identification;
      from = unfrag;
    }
    int chunk = (mtu - unfrag - Ipv6View.FRAGMENT_HEADER_LENGTH) & ~7;
    if (chunk < 8) {
      throw new PacketTooLargeException(
          length,
          mtu,
          "an unfragmentable part of " + unfrag + " bytes leaves no room",
          DivertException.NO_ERRNO);
    }
    int payload = length - from;
    // RFC 8200 section 4.5 (after RFC 7112): the first fragment holds the whole header chain, the
    // extension headers and the upper-layer header; receivers (Linux among them) drop a first
    // fragment without it.
    if (offset0 == 0) {
      long w = Ipv6View.walk(datagram, base, base + Math.min(length, MAX_LENGTH));
      int chain = Ipv6View.upperOffset(w) + upperHeaderLength(Ipv6View.upperProtocol(w)) - from;
      if (Math.min(chain, payload) > chunk) {
        throw new PacketTooLargeException(
            length,
            mtu,
            "a header chain of " + (unfrag + chain) + " bytes must fit the first fragment",
            DivertException.NO_ERRNO);
      }
    }
    ByteBuffer buf = scratch(Math.min(mtu, unfrag + Ipv6View.FRAGMENT_HEADER_LENGTH + payload));
    int count = 0;
    for (int done = 0; done < payload; ) {
      int n = Math.min(chunk, payload - done);
      boolean last = done + n == payload;
      buf.clear();
      buf.put(0, datagram, base, unfrag);
      Bytes.put8(buf, field, Ipv6View.NEXT_FRAGMENT);
      int f = unfrag;
      Bytes.put8(buf, f, nextHeader);
      Bytes.put8(buf, f + 1, 0);
      Bytes.put16(buf, f + 2, (offset0 + done) | (!last || lastM ? 1 : 0));
      Bytes.put32(buf, f + 4, id);
      buf.put(f + Ipv6View.FRAGMENT_HEADER_LENGTH, datagram, base + from + done, n);
      int total = f + Ipv6View.FRAGMENT_HEADER_LENGTH + n;
      Bytes.put16(buf, 4, total - Ipv6View.HEADER_LENGTH);
      buf.limit(total);
      count++;
      done += n;
      sink.accept(buf);
    }
    return count;
  }

  /**
   * Fragments a datagram into new buffers; convenient, and allocates one buffer per fragment. A
   * datagram that fits is returned as a copy.
   *
   * @param datagram the datagram, from its position to its limit; position and limit unchanged
   * @param mtu the largest fragment in bytes, at least {@link #MIN_MTU}
   * @param identification the Identification of new Fragment headers, non-zero
   * @return the fragments in offset order, each a new heap buffer from position 0 to its length
   * @throws IllegalArgumentException as {@link #fragment(ByteBuffer, int, int, FragmentSink)}
   * @throws MalformedPacketException if the datagram fails {@link Ipv6View#checkForSend()}
   * @throws PacketTooLargeException as {@link #fragment(ByteBuffer, int, int, FragmentSink)}
   */
  public static List<ByteBuffer> fragment(ByteBuffer datagram, int mtu, int identification)
      throws MalformedPacketException, PacketTooLargeException {
    List<ByteBuffer> result = new ArrayList<>();
    try {
      new Ipv6Fragmenter()
          .fragment(
              datagram,
              mtu,
              identification,
              f -> {
                ByteBuffer c = ByteBuffer.allocate(f.remaining());
                c.put(0, f, f.position(), f.remaining());
                result.add(c);
              });
    } catch (MalformedPacketException | PacketTooLargeException e) {
      throw e;
    } catch (DivertException e) {
      throw new AssertionError("the list sink throws nothing", e);
    }
    return result;
  }

  private ByteBuffer scratch(int size) {
    if (scratch == null || scratch.capacity() < size) {
      int cap = Math.max(size, 2048);
      scratch = direct ? ByteBuffer.allocateDirect(cap) : ByteBuffer.allocate(cap);
    }
    return scratch;
  }

  /** The fixed header of an upper layer that a first fragment must carry whole (RFC 7112). */
  private static int upperHeaderLength(int protocol) {
    switch (protocol) {
      case Ipv4View.PROTOCOL_TCP:
        return 20;
      case Ipv4View.PROTOCOL_UDP:
      case Ipv4View.PROTOCOL_UDPLITE:
        return 8;
      case Ipv6View.PROTOCOL_ICMPV6:
        return 4;
      default:
        return 0;
    }
  }

  /**
   * The unfragmentable part of a datagram that passed {@link Ipv6View#checkForSend()}: its length
   * in bits 32-62, the offset of the Next Header field that names what follows it in the low 32
   * bits, and the sign bit set when a Fragment header follows it (an existing Fragment header ends
   * the walk: what lies before it is the unfragmentable part).
   */
  static long unfragmentable(ByteBuffer d, int base, int length) {
    int end = base + length;
    int unfrag = Ipv6View.HEADER_LENGTH;
    int field = 6;
    int nh = Bytes.u8(d, base + 6);
    int at = base + Ipv6View.HEADER_LENGTH;
    int prev = 6;
    boolean first = true;
    while ((nh == Ipv6View.NEXT_HOP_BY_HOP
            || nh == Ipv6View.NEXT_ROUTING
            || nh == Ipv6View.NEXT_DESTINATION_OPTIONS)
        && at + 2 <= end) {
      int len = (Bytes.u8(d, at + 1) + 1) << 3;
      if (nh == Ipv6View.NEXT_ROUTING || (nh == Ipv6View.NEXT_HOP_BY_HOP && first)) {
        unfrag = at + len - base;
        field = at - base;
      }
      prev = at - base;
      first = false;
      nh = Bytes.u8(d, at);
      at += len;
    }
    if (nh == Ipv6View.NEXT_FRAGMENT && at + Ipv6View.FRAGMENT_HEADER_LENGTH <= end) {
      return Long.MIN_VALUE | (long) (at - base) << 32 | prev;
    }
    return (long) unfrag << 32 | field;
  }
}
