package org.divert4j.packet;

import java.nio.ByteBuffer;
import java.util.function.IntSupplier;

/**
 * The header fix-ups every backend applies to a packet it sends (SEMANTICS.md section H, S38-S41):
 * the total length is set to the bytes written (S40), an IP ID of 0 is replaced by a fresh non-zero
 * one, also when DF is set (S39; Linux leaves the ID 0 for an unconnected DF packet, {@code
 * ip_select_ident_segs} in include/net/ip.h), and the header checksum is recomputed (S38). Nothing
 * else changes (S41). For IPv6 (S61) the payload length is set to the bytes written minus 40, and
 * nothing else changes: IPv6 has no header checksum, and the Identification of a Fragment header is
 * the program's. The kernel backend needs it because NFQUEUE's {@code nfqnl_mangle} copies a
 * verdict's payload as it is, and the user-space stack because it has no kernel to do it.
 *
 * <p>Stateless and thread-safe; allocates nothing.
 */
public final class SendFixups {
  private SendFixups() {}

  /**
   * Applies the section-H fix-ups in place.
   *
   * @param v a view on the packet, wrapped to exactly the bytes that will be sent
   * @param newId called only when the packet's ID is 0; returns a non-zero ID (the low 16 bits are
   *     used)
   * @return {@code v}
   */
  public static Ipv4View apply(Ipv4View v, IntSupplier newId) {
    v.setTotalLength(v.length());
    if (v.identification() == 0) {
      int id = newId.getAsInt() & 0xffff;
      v.setIdentification(id == 0 ? 1 : id);
    }
    return v.fillHeaderChecksum();
  }

  /**
   * Applies the IPv6 fix-up of S61 in place: the payload length is set to {@code v.length() - 40}.
   * Version, traffic class, flow label, hop limit, extension headers and payload are not changed.
   *
   * @param v a view on the packet, wrapped to exactly the bytes that will be sent
   * @return {@code v}
   * @throws IllegalArgumentException if the view holds fewer than 40 or more than 65575 bytes (the
   *     sender refuses those first: malformed, S62, or too large, S59)
   */
  public static Ipv6View apply(Ipv6View v) {
    return v.setPayloadLength(v.length() - Ipv6View.HEADER_LENGTH);
  }

  /**
   * Applies the fix-ups of the packet's family, chosen by its version nibble: {@link
   * #apply(Ipv4View, IntSupplier)} for 4, {@link #apply(Ipv6View)} for 6. A packet of another
   * version, or an empty one, is left unchanged: validation refuses it (S47, S62). Allocates
   * nothing: the caller lends one view of each family.
   *
   * @param buf the buffer holding the packet
   * @param offset index of the first byte of the IP header
   * @param length the bytes that will be sent
   * @param v4 a view to use for an IPv4 packet; rewrapped
   * @param v6 a view to use for an IPv6 packet; rewrapped
   * @param newId as in {@link #apply(Ipv4View, IntSupplier)}; not called for IPv6
   * @return the version nibble (4 or 6 when fixed up), or -1 for an empty packet
   * @throws IllegalArgumentException as the family's method, for a packet it cannot fix (an IPv4
   *     header shorter than 20 bytes, an IPv6 packet shorter than 40 or longer than 65575 bytes)
   * @throws IndexOutOfBoundsException if the range does not lie within {@code 0..buf.limit()}
   */
  public static int apply(
      ByteBuffer buf, int offset, int length, Ipv4View v4, Ipv6View v6, IntSupplier newId) {
    if (length <= 0) {
      return -1;
    }
    int version = Bytes.u8(buf, offset) >>> 4;
    if (version == 4) {
      apply(v4.wrap(buf, offset, length), newId);
    } else if (version == 6) {
      apply(v6.wrap(buf, offset, length));
    }
    return version;
  }
}
