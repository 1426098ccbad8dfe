package org.divert4j.packet;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.divert4j.DivertException;
import org.divert4j.MalformedPacketException;
import org.divert4j.PacketTooLargeException;

/**
 * Splits an IPv4 datagram into fragments that fit an MTU, per RFC 791 section 3.2 and RFC 815
 * (SEMANTICS.md S19, S23, S25, S29).
 *
 * <p>What the fragments look like:
 *
 * <ul>
 *   <li>Each fragment is at most {@code mtu} bytes; every fragment but the last carries a payload
 *       that is a multiple of 8 bytes, the largest that fits; offsets count 8-byte units.
 *   <li>MF is set on all fragments but the last. If the input is itself a non-last fragment (MF
 *       set), the last piece keeps MF; if it has an offset, that offset is added to every piece, so
 *       fragments can be fragmented again.
 *   <li>The first fragment carries the whole input header. Later fragments carry only the options
 *       whose copied bit (0x80 in the type) is set, padded with zero bytes (End of Option List, as
 *       RFC 791 defines padding) to a multiple of 4; their IHL shrinks accordingly, as in RFC 791's
 *       fragmentation procedure. Linux instead overwrites uncopied options with NOPs and keeps the
 *       IHL ({@code ip_options_fragment}); both reassemble identically. Parsing stops at End of
 *       Option List or at a malformed option (length under 2 or past the header, where {@code
 *       ip_options_fragment} also stops); nothing after that point is copied.
 *   <li>Identification, TOS, TTL, protocol, addresses and the reserved flag are kept; total length
 *       and header checksum are set per fragment. An identification of 0 is kept: a sender that
 *       fills zero IDs (S39) must do so before fragmenting, so that all fragments share one ID.
 * </ul>
 *
 * <p>The datagram is the bytes from {@code position()} to {@code limit()} of the buffer given; its
 * total length field is ignored, as on send (S40), and the buffer's position and limit are not
 * changed. A datagram no longer than the MTU is passed to the sink unchanged, as the caller's own
 * buffer. A datagram longer than the MTU with DF set is refused with {@link
 * PacketTooLargeException} (S29), as is one longer than 65535 bytes (S31).
 *
 * <p><b>Allocation and threads.</b> An instance owns one scratch buffer (sized to the largest MTU
 * seen) and produces each fragment in it: fragmenting allocates nothing per packet. Instances are
 * not thread-safe; use one per thread. Nothing blocks, except as the sink does.
 */
public final class Fragmenter {
  /**
   * The smallest MTU accepted: RFC 791's 68 bytes, the largest header (60) plus 8 data bytes, so
   * every datagram can make progress.
   */
  public static final int MIN_MTU = 68;

  private static final int OPT_EOL = 0;
  private static final int OPT_NOP = 1;
  private static final int OPT_COPIED = 0x80;

  private final boolean direct;
  private final Ipv4View in = new Ipv4View();
  private final Ipv4View out = new Ipv4View();
  private ByteBuffer scratch;

  /** A fragmenter whose scratch buffer is on the Java heap. */
  public Fragmenter() {
    this(false);
  }

  /**
   * @param direct true for a direct scratch buffer (better when the sink hands fragments to native
   *     code, e.g. a raw socket), false for a heap buffer
   */
  public Fragmenter(boolean direct) {
    this.direct = direct;
  }

  /**
   * Fragments a datagram to the MTU and hands each fragment to the sink, in offset order.
   *
   * @param datagram the datagram, from its position to its limit; read only, position and limit
   *     unchanged
   * @param mtu the largest fragment in bytes, at least {@link #MIN_MTU}
   * @param sink receives each fragment during the call; see {@link FragmentSink}
   * @return the number of fragments produced (1 when the datagram fits)
   * @throws IllegalArgumentException if {@code mtu} is under {@link #MIN_MTU}
   * @throws MalformedPacketException if the datagram fails {@link Ipv4View#checkForSend()}
   * @throws PacketTooLargeException if it exceeds 65535 bytes, or exceeds the MTU with DF set
   * @throws DivertException whatever the sink throws; fragments before it were delivered
   */
  public int fragment(ByteBuffer datagram, int mtu, FragmentSink sink) throws DivertException {
    if (mtu < MIN_MTU) {
      throw new IllegalArgumentException("MTU must be at least " + MIN_MTU + ": " + mtu);
    }
    Objects.requireNonNull(sink, "sink");
    int base = datagram.position();
    int length = datagram.remaining();
    if (length > PacketTooLargeException.IPV4_MAX) {
      throw new PacketTooLargeException(
          length, PacketTooLargeException.IPV4_MAX, "", DivertException.NO_ERRNO);
    }
    Ipv4View v = in.wrap(datagram);
    v.validateForSend();
    if (length <= mtu) {
      sink.accept(datagram);
      return 1;
    }
    if (v.dontFragment()) {
      throw new PacketTooLargeException(length, mtu, "DF set", DivertException.NO_ERRNO);
    }
    int hl = v.headerLength();
    int payload = length - hl;
    int offset0 = v.fragmentOffset();
    boolean lastHasMf = v.moreFragments();

    ByteBuffer buf = scratch(Math.min(mtu, length));
    // Fragments after the first carry only the copied options, so their header may be shorter and
    // their payload share larger (RFC 791 fragmentation procedure, step 9).
    int laterHl = laterHeaderLength(datagram, base, hl);
    int firstChunk = (mtu - hl) & ~7;
    int laterChunk = (mtu - laterHl) & ~7;

    int done = 0;
    int count = 0;
    while (done < payload) {
      boolean first = count == 0;
      int fhl = first ? hl : laterHl;
      int n = Math.min(first ? firstChunk : laterChunk, payload - done);
      boolean last = done + n == payload;
      buf.clear();
      if (first) {
        buf.put(0, datagram, base, hl);
      } else {
        writeLaterHeader(datagram, base, hl, buf, laterHl);
      }
      buf.put(fhl, datagram, base + hl + done, n);
      out.wrap(buf, 0, fhl + n)
          .setTotalLength(fhl + n)
          .setFlags(false, !last || lastHasMf)
          .setFragmentOffset(offset0 + done)
          .fillHeaderChecksum();
      buf.limit(fhl + n);
      count++;
      done += n;
      sink.accept(buf);
    }
    return count;
  }

  /**
   * Fragments a datagram to the MTU into new buffers. Convenient, and allocates: one buffer per
   * fragment. The input is never returned or changed; a datagram that fits is returned as a copy.
   *
   * @param datagram the datagram, from its position to its limit; position and limit unchanged
   * @param mtu the largest fragment in bytes, at least {@link #MIN_MTU}
   * @return the fragments in offset order, each a new heap buffer from position 0 to its length
   * @throws IllegalArgumentException if {@code mtu} is under {@link #MIN_MTU}
   * @throws MalformedPacketException if the datagram fails {@link Ipv4View#checkForSend()}
   * @throws PacketTooLargeException if it exceeds 65535 bytes, or exceeds the MTU with DF set
   */
  public static List<ByteBuffer> fragment(ByteBuffer datagram, int mtu)
      throws MalformedPacketException, PacketTooLargeException {
    List<ByteBuffer> result = new ArrayList<>();
    try {
      new Fragmenter()
          .fragment(
              datagram,
              mtu,
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
      // Grow straight to the largest fragment we may ever need, rounded up, to avoid regrowth.
      int cap = Math.max(size, 2048);
      scratch = direct ? ByteBuffer.allocateDirect(cap) : ByteBuffer.allocate(cap);
    }
    return scratch;
  }

  /** The header length of non-first fragments: 20 plus the copied options, rounded up to 4. */
  private static int laterHeaderLength(ByteBuffer d, int base, int hl) {
    int copied = 0;
    int i = base + Ipv4View.MIN_HEADER_LENGTH;
    int end = base + hl;
    while (i < end) {
      int type = d.get(i) & 0xff;
      if (type == OPT_EOL) {
        break;
      }
      if (type == OPT_NOP) {
        i++;
        continue;
      }
      int len = i + 1 < end ? d.get(i + 1) & 0xff : 0;
      if (len < 2 || i + len > end) {
        break;
      }
      if ((type & OPT_COPIED) != 0) {
        copied += len;
      }
      i += len;
    }
    return Ipv4View.MIN_HEADER_LENGTH + (copied + 3 & ~3);
  }

  /** Writes the fixed header and the copied options at index 0 of {@code out}, zero padded. */
  private static void writeLaterHeader(
      ByteBuffer d, int base, int hl, ByteBuffer out, int laterHl) {
    out.put(0, d, base, Ipv4View.MIN_HEADER_LENGTH);
    int o = Ipv4View.MIN_HEADER_LENGTH;
    int i = base + Ipv4View.MIN_HEADER_LENGTH;
    int end = base + hl;
    while (i < end) {
      int type = d.get(i) & 0xff;
      if (type == OPT_EOL) {
        break;
      }
      if (type == OPT_NOP) {
        i++;
        continue;
      }
      int len = i + 1 < end ? d.get(i + 1) & 0xff : 0;
      if (len < 2 || i + len > end) {
        break;
      }
      if ((type & OPT_COPIED) != 0) {
        out.put(o, d, i, len);
        o += len;
      }
      i += len;
    }
    while (o < laterHl) {
      out.put(o++, (byte) OPT_EOL);
    }
    out.put(0, (byte) (0x40 | laterHl >>> 2));
  }
}
