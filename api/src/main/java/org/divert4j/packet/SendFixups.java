package org.divert4j.packet;

import java.util.function.IntSupplier;

/**
 * The header fix-ups every backend applies to a packet it sends (SEMANTICS.md section H, S38-S41):
 * the total length is set to the bytes written (S40), an IP ID of 0 is replaced by a fresh non-zero
 * one, also when DF is set (S39; Linux leaves the ID 0 for an unconnected DF packet, {@code
 * ip_select_ident_segs} in include/net/ip.h), and the header checksum is recomputed (S38). Nothing
 * else changes (S41). The kernel backend needs it because NFQUEUE's {@code nfqnl_mangle} copies a
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
}
