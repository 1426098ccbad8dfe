package org.divert4j;

import java.net.Inet4Address;

/** An outbound packet has no route to its destination (SEMANTICS.md S49). Nothing was sent. */
public final class NoRouteException extends DivertException {
  private static final long serialVersionUID = 1L;

  /** The destination that has no route. */
  private final Inet4Address destination;

  /**
   * @param destination the unroutable destination
   * @param errno the native errno (ENETUNREACH or EHOSTUNREACH), or {@link #NO_ERRNO}
   */
  public NoRouteException(Inet4Address destination, int errno) {
    super("no route to " + destination.getHostAddress(), errno, null);
    this.destination = destination;
  }

  /**
   * @return the destination that has no route
   */
  public Inet4Address destination() {
    return destination;
  }
}
