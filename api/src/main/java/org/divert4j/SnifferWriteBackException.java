package org.divert4j;

/**
 * A sniffer socket was asked to write a received packet back (SEMANTICS.md S71). A sniffer receives
 * copies of packets that have continued already, so there is nothing to write back; it may inject
 * new packets with a new address (S42).
 */
public final class SnifferWriteBackException extends DivertException {
  private static final long serialVersionUID = 1L;

  /** The sniffer's divert port. */
  private final int port;

  /**
   * @param port the sniffer's divert port
   */
  public SnifferWriteBackException(int port) {
    super(
        "divert port "
            + port
            + " is a sniffer: it receives copies and cannot write packets back (S71); inject a new"
            + " packet with a new address instead",
        NO_ERRNO,
        null);
    this.port = port;
  }

  /**
   * @return the sniffer's divert port
   */
  public int port() {
    return port;
  }
}
