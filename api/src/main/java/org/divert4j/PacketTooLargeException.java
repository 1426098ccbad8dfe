package org.divert4j;

/**
 * A packet is longer than the limit that applies to it: the egress MTU (SEMANTICS.md S27-S30) or
 * the IPv4 maximum of 65535 bytes (S31). Nothing was sent.
 */
public final class PacketTooLargeException extends DivertException {
  private static final long serialVersionUID = 1L;

  /** The IPv4 maximum datagram size. */
  public static final int IPV4_MAX = 65535;

  /** The packet's length in bytes. */
  private final int length;

  /** The MTU it exceeds, in bytes. */
  private final int mtu;

  /**
   * @param length the packet's length in bytes
   * @param mtu the limit it exceeded: the egress MTU, or {@link #IPV4_MAX}
   * @param detail why the limit applies, e.g. "egress interface eth0, DF set"; may be empty
   * @param errno the native errno (EMSGSIZE = 90), or {@link #NO_ERRNO}
   */
  public PacketTooLargeException(int length, int mtu, String detail, int errno) {
    super(
        "packet too large: "
            + length
            + " bytes exceeds the "
            + (mtu == IPV4_MAX ? "IPv4 maximum of " : "MTU of ")
            + mtu
            + (detail == null || detail.isEmpty() ? "" : " (" + detail + ")"),
        errno,
        null);
    this.length = length;
    this.mtu = mtu;
  }

  /**
   * @return the length of the refused packet in bytes
   */
  public int length() {
    return length;
  }

  /**
   * @return the limit that was exceeded: the egress MTU or 65535
   */
  public int mtu() {
    return mtu;
  }
}
