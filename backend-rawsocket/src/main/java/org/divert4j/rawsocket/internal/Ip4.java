package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;
import org.divert4j.MalformedPacketException;
import org.divert4j.packet.Defect;

/**
 * The few IPv4 header operations the backend needs on its hot path: send-side validation
 * (SEMANTICS.md S47), the section-H fix-ups (S38-S40), a content hash to tell whether a held packet
 * was changed, and in-place fragmentation (S19). Absolute indexes, no allocation, no state.
 *
 * <p>TODO(merge): replace with {@code org.divert4j.packet} (Ipv4View, Checksums, Fragmenter) once
 * the packet toolkit lands on main; kept private and minimal until then.
 */
public final class Ip4 {
  public static final int FLAG_DF = 0x4000;
  public static final int FLAG_MF = 0x2000;
  public static final int OFFSET_MASK = 0x1fff;

  private Ip4() {}

  /**
   * Checks a packet about to be sent; the total length field is ignored (S40 sets it).
   *
   * @param b the buffer
   * @param off the packet start
   * @param len the packet length
   * @return null if it may be sent, else the defect
   */
  public static Defect checkForSend(ByteBuffer b, int off, int len) {
    if (len < 20) {
      return Defect.TOO_SHORT;
    }
    int v = b.get(off) & 0xff;
    if (v >> 4 != 4) {
      return Defect.BAD_VERSION;
    }
    int ihl = v & 0x0f;
    if (ihl < 5) {
      return Defect.BAD_HEADER_LENGTH;
    }
    int hl = ihl * 4;
    if (hl > len) {
      return Defect.HEADER_PAST_END;
    }
    int w = fragmentField(b, off);
    boolean df = (w & FLAG_DF) != 0;
    boolean mf = (w & FLAG_MF) != 0;
    int fragOff = (w & OFFSET_MASK) << 3;
    int payload = len - hl;
    if (df && (mf || fragOff != 0)) {
      return Defect.FRAGMENT_FLAGS_INCONSISTENT;
    }
    if (mf && (payload & 7) != 0) {
      return Defect.FRAGMENT_FLAGS_INCONSISTENT;
    }
    if (fragOff + payload > 65535) {
      return Defect.FRAGMENT_PAST_MAXIMUM;
    }
    return null;
  }

  /**
   * {@link #checkForSend} as an exception.
   *
   * @param b the buffer
   * @param off the packet start
   * @param len the packet length
   * @throws MalformedPacketException naming the defect
   */
  public static void validateForSend(ByteBuffer b, int off, int len)
      throws MalformedPacketException {
    Defect d = checkForSend(b, off, len);
    if (d != null) {
      String detail =
          switch (d) {
            case TOO_SHORT -> len + " bytes";
            case BAD_VERSION -> "version " + ((b.get(off) & 0xff) >> 4);
            case BAD_HEADER_LENGTH -> "IHL " + (b.get(off) & 0x0f);
            case HEADER_PAST_END -> "IHL " + (b.get(off) & 0x0f) + ", packet " + len + " bytes";
            default -> {
              int w = fragmentField(b, off);
              yield "DF "
                  + ((w >> 14) & 1)
                  + ", MF "
                  + ((w >> 13) & 1)
                  + ", offset "
                  + ((w & OFFSET_MASK) << 3)
                  + ", payload "
                  + (len - (b.get(off) & 0x0f) * 4);
            }
          };
      throw new MalformedPacketException(d, detail);
    }
  }

  /**
   * The Internet checksum of a range (RFC 1071), as stored in a header.
   *
   * @param b the buffer
   * @param off start
   * @param len length
   * @return the checksum, 16 bits
   */
  public static int checksum(ByteBuffer b, int off, int len) {
    long sum = 0;
    int i = off;
    int end = off + len;
    // big-endian 16-bit words; getShort on a little-endian buffer swaps, so swap back once at end
    while (i + 1 < end) {
      sum += Short.reverseBytes(b.getShort(i)) & 0xffff;
      i += 2;
    }
    if (i < end) {
      sum += (b.get(i) & 0xff) << 8;
    }
    while ((sum >> 16) != 0) {
      sum = (sum & 0xffff) + (sum >> 16);
    }
    return (int) (~sum & 0xffff);
  }

  /**
   * @param b the buffer
   * @param off packet start
   * @return the header length in bytes
   */
  public static int headerLength(ByteBuffer b, int off) {
    return (b.get(off) & 0x0f) * 4;
  }

  /**
   * @param b the buffer
   * @param off packet start
   * @return the IP ID
   */
  public static int id(ByteBuffer b, int off) {
    return Short.reverseBytes(b.getShort(off + 4)) & 0xffff;
  }

  /**
   * @param b the buffer
   * @param off packet start
   * @return flags and fragment offset field, host order
   */
  public static int fragmentField(ByteBuffer b, int off) {
    return Short.reverseBytes(b.getShort(off + 6)) & 0xffff;
  }

  /**
   * @param b the buffer
   * @param off packet start
   * @return the destination address, host-order bits
   */
  public static int destination(ByteBuffer b, int off) {
    return Integer.reverseBytes(b.getInt(off + 16));
  }

  /**
   * @param b the buffer
   * @param off packet start
   * @return the source address, host-order bits
   */
  public static int source(ByteBuffer b, int off) {
    return Integer.reverseBytes(b.getInt(off + 12));
  }

  /**
   * Applies the section-H fix-ups in place: total length = {@code len} (S40), an ID of 0 replaced
   * by {@code newId} (S39, also with DF), and the header checksum recomputed (S38).
   *
   * @param b the buffer
   * @param off packet start
   * @param len the packet length
   * @param newId a non-zero ID to use if the packet's is 0
   */
  public static void fixUp(ByteBuffer b, int off, int len, int newId) {
    b.putShort(off + 2, Short.reverseBytes((short) len));
    if (b.getShort(off + 4) == 0) {
      b.putShort(off + 4, Short.reverseBytes((short) newId));
    }
    b.putShort(off + 10, (short) 0);
    int hl = headerLength(b, off);
    b.putShort(off + 10, Short.reverseBytes((short) checksum(b, off, hl)));
  }

  /**
   * A 64-bit hash of a byte range, to tell whether a held packet was changed before it is written
   * back (then it needs a payload verdict). Not cryptographic: a program that wants to change a
   * packet changes it, it does not search for collisions.
   *
   * @param b the buffer
   * @param off start
   * @param len length
   * @return the hash
   */
  public static long hash(ByteBuffer b, int off, int len) {
    long h = 0x9E3779B97F4A7C15L ^ len;
    int i = off;
    int end = off + len;
    while (i + 8 <= end) {
      h = Long.rotateLeft(h ^ b.getLong(i) * 0xC2B2AE3D27D4EB4FL, 31) * 0x9E3779B97F4A7C15L;
      i += 8;
    }
    long tail = 0;
    int shift = 0;
    while (i < end) {
      tail |= (b.get(i) & 0xffL) << shift;
      shift += 8;
      i++;
    }
    h = Long.rotateLeft(h ^ tail * 0xC2B2AE3D27D4EB4FL, 31) * 0x9E3779B97F4A7C15L;
    h ^= h >>> 29;
    h *= 0xBF58476D1CE4E5B9L;
    return h ^ (h >>> 32);
  }

  /**
   * How many bytes of payload each fragment of a datagram carries when fragmented to {@code mtu}.
   *
   * @param headerLength the datagram's header length
   * @param mtu the MTU
   * @return payload bytes per fragment (a multiple of 8), at least 8
   */
  public static int fragmentPayload(int headerLength, int mtu) {
    return Math.max(8, (mtu - headerLength) & ~7);
  }

  /**
   * Writes one fragment of a datagram to {@code dst} at its position, as Linux's {@code
   * ip_do_fragment} would: the same header length in every fragment, options without the copied bit
   * replaced by NOP in fragments after the first ({@code ip_options_fragment}), the offset and MF
   * set relative to the datagram's own (it may itself be a fragment), total length and checksum
   * fixed. The datagram's ID is kept (the caller fills a zero ID first).
   *
   * @param src the datagram's buffer
   * @param off its start
   * @param len its length
   * @param payloadStart offset of this fragment's first payload byte within the datagram payload
   * @param chunk payload bytes per fragment (see {@link #fragmentPayload})
   * @param dst where to write; its position is advanced
   * @return the fragment's length
   */
  public static int writeFragment(
      ByteBuffer src, int off, int len, int payloadStart, int chunk, ByteBuffer dst) {
    int hl = headerLength(src, off);
    int payload = len - hl;
    int n = Math.min(chunk, payload - payloadStart);
    int base = dst.position();
    int fragLen = hl + n;
    dst.put(base, src, off, hl);
    dst.put(base + hl, src, off + hl + payloadStart, n);
    if (payloadStart > 0) {
      stripUncopiedOptions(dst, base, hl);
    }
    int field = fragmentField(src, off);
    boolean more = (field & FLAG_MF) != 0 || payloadStart + n < payload;
    int offset = (field & OFFSET_MASK) + payloadStart / 8;
    int newField = (field & FLAG_DF) | (more ? FLAG_MF : 0) | offset;
    dst.putShort(base + 6, Short.reverseBytes((short) newField));
    dst.putShort(base + 2, Short.reverseBytes((short) fragLen));
    dst.putShort(base + 10, (short) 0);
    dst.putShort(base + 10, Short.reverseBytes((short) checksum(dst, base, hl)));
    dst.position(base + fragLen);
    return fragLen;
  }

  private static void stripUncopiedOptions(ByteBuffer b, int base, int hl) {
    int i = base + 20;
    int end = base + hl;
    while (i < end) {
      int type = b.get(i) & 0xff;
      if (type == 0) { // end of options
        return;
      }
      if (type == 1) { // NOP
        i++;
        continue;
      }
      if (i + 1 >= end) {
        return;
      }
      int olen = b.get(i + 1) & 0xff;
      if (olen < 2 || i + olen > end) {
        return;
      }
      if ((type & 0x80) == 0) {
        for (int k = 0; k < olen; k++) {
          b.put(i + k, (byte) 1);
        }
      }
      i += olen;
    }
  }
}
