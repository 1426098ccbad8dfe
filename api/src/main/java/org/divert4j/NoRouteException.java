package org.divert4j;

import java.net.InetAddress;

/** An outbound packet has no route to its destination (SEMANTICS.md S49). Nothing was sent. */
public final class NoRouteException extends DivertException {
  private static final long serialVersionUID = 1L;

  /** The destination that has no route. */
  private final InetAddress destination;

  /**
   * @param destination the unroutable destination
   * @param errno the native errno (ENETUNREACH or EHOSTUNREACH), or {@link #NO_ERRNO}
   */
  public NoRouteException(InetAddress destination, int errno) {
    super("no route to " + Ipv6Addresses.toText(destination), errno, null);
    this.destination = destination;
  }

  /**
   * @return the destination that has no route
   */
  public InetAddress destination() {
    return destination;
  }
}
