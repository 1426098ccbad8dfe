package org.divert4j.testbed.linux;

import java.io.IOException;

/**
 * A system call of {@link NamespaceSyscalls} failed. Keeps the errno, so that a caller can tell a
 * missing privilege (EPERM, EACCES) from other failures.
 */
public final class SyscallException extends IOException {
  private static final long serialVersionUID = 1L;

  /** {@code EPERM}. */
  public static final int EPERM = 1;

  /** {@code EACCES}. */
  public static final int EACCES = 13;

  private final String call;
  private final int errno;

  /**
   * @param call the system call and what it was for, e.g. {@code setns(/var/run/netns/x)}
   * @param errno the errno it set
   * @param description the errno's text, e.g. {@code Operation not permitted}, or null
   * @param cause the native library's own exception, or null
   */
  public SyscallException(String call, int errno, String description, Throwable cause) {
    super(
        call
            + " failed: "
            + (description == null || description.isEmpty() ? "" : description + " ")
            + "(errno "
            + errno
            + ")",
        cause);
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
    return errno == EPERM || errno == EACCES;
  }
}
