package org.divert4j;

/** A divert socket is already bound to the port on this host (SEMANTICS.md S2). */
public final class PortInUseException extends DivertException {
  private static final long serialVersionUID = 1L;

  /** The divert port that is taken. */
  private final int port;

  /**
   * @param port the divert port
   * @param errno the native errno (EADDRINUSE or EBUSY), or {@link #NO_ERRNO}
   */
  public PortInUseException(int port, int errno) {
    super(
        "divert port " + port + " is in use: another socket on this host is bound to it",
        errno,
        null);
    this.port = port;
  }

  /**
   * @return the divert port that is taken
   */
  public int port() {
    return port;
  }
}
