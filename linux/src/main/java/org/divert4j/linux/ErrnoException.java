package org.divert4j.linux;

import java.io.IOException;

/**
 * A system call failed. Keeps the errno, so that callers can tell a missing privilege from other
 * failures and map it to the public exception that fits ({@link Errors}). An {@link IOException},
 * so that the namespace test bed, whose methods throw {@code IOException}, passes it on as is.
 */
public final class ErrnoException extends IOException {
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

  /**
   * @return true if the errno says a privilege is missing (EPERM or EACCES)
   */
  public boolean isPermission() {
    return Errors.isPermission(errno);
  }
}
