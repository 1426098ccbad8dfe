package org.divert4j;

import java.net.InetAddress;

/**
 * A send named an interface address that belongs to no interface of the host (SEMANTICS.md S36).
 * Only the zero address (outbound) or a local interface address (inbound) may be used.
 */
public final class AddressNotAvailableException extends DivertException {
  private static final long serialVersionUID = 1L;

  /** The address that is not available. */
  private final InetAddress address;

  /**
   * @param address the address that is not local
   */
  public AddressNotAvailableException(InetAddress address) {
    super(
        "address not available: "
            + Ipv6Addresses.toText(address) // RFC 5952 text for IPv6
            + " is not an address of this host; use the zero address to inject outbound or a"
            + " local interface address to inject inbound",
        NO_ERRNO,
        null);
    this.address = address;
  }

  /**
   * @return the address that was refused
   */
  public InetAddress address() {
    return address;
  }
}
