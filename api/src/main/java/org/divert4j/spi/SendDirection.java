package org.divert4j.spi;

import java.net.Inet6Address;
import org.divert4j.Direction;
import org.divert4j.DivertAddress;
import org.divert4j.PacketBatch;

/**
 * Where a sent packet goes when it is not a held packet written back (SEMANTICS.md section G): an
 * inbound address with a non-zero interface address injects inbound on the interface that has it
 * (S33); everything else (no address, the zero address, an outbound address) injects outbound,
 * routed by the packet's destination (S32). One rule for every backend.
 *
 * <p>Stateless and thread-safe; allocates nothing.
 */
public final class SendDirection {
  private static final BatchAccess BATCH = BatchAccess.get();

  private SendDirection() {}

  /**
   * @param a the address given to {@code send}
   * @return the interface address (host-order IPv4 bits) to inject inbound at, or 0 for outbound
   */
  public static int inboundAddress(DivertAddress a) {
    return a.direction() == Direction.INBOUND ? a.interfaceAddressBits() : 0;
  }

  /**
   * @param b a batch being sent
   * @param i a slot
   * @return the interface address to inject the slot's packet inbound at, or 0 for outbound: from
   *     the address given with {@link PacketBatch#setAddress} if any, else from the slot's received
   *     address
   */
  public static int inboundAddress(PacketBatch b, int i) {
    DivertAddress given = BATCH.given(b, i);
    if (given != null) {
      return inboundAddress(given);
    }
    return b.direction(i) == Direction.INBOUND ? b.interfaceAddressBits(i) : 0;
  }

  /**
   * @param a the address given to {@code send}
   * @return the IPv6 interface address to inject inbound at (S60), or null when the address is
   *     outbound or names an IPv4 interface address
   */
  public static Inet6Address inboundAddress6(DivertAddress a) {
    return a.direction() == Direction.INBOUND ? a.interfaceAddress6() : null;
  }

  /**
   * @param b a batch being sent
   * @param i a slot
   * @return the IPv6 interface address to inject the slot's packet inbound at, or null: from the
   *     address given with {@link PacketBatch#setAddress} if any, else from the slot's received
   *     address
   */
  public static Inet6Address inboundAddress6(PacketBatch b, int i) {
    DivertAddress given = BATCH.given(b, i);
    if (given != null) {
      return inboundAddress6(given);
    }
    return b.direction(i) == Direction.INBOUND ? b.interfaceAddress6(i) : null;
  }
}
