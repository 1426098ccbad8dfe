package org.divert4j.rawsocket.internal;

/**
 * A system call failed. Keeps the errno so that callers can map it to the public exception that
 * fits ({@link Errors}); never leaves the backend.
 */
public final class ErrnoException extends Exception {
  private static final long serialVersionUID = 1L;

  private final int errno;
  private final String call;

  /**
   * @param call the system call and what it was for, e.g. "socket(AF_NETLINK)"
   * @param errno the errno it set
   */
  public ErrnoException(String call, int errno) {
    super(call + " failed: " + Errors.name(errno) + " (errno " + errno + ")");
    this.call = call;
    this.errno = errno;
  }

  /**
   * @return the errno
   */
  public int errno() {
    return errno;
  }

  /**
   * @return the system call that failed
   */
  public String call() {
    return call;
  }
}
