package org.divert4j;

import java.io.IOException;
import java.util.OptionalInt;

/**
 * Base of every error divert4j reports. The subclasses name the kind of failure; each keeps the
 * native {@code errno} when the failure came from a system call.
 *
 * <p>Instances are immutable and may be shared between threads.
 */
public sealed class DivertException extends IOException
    permits BackendUnavailableException,
        PermissionException,
        PortInUseException,
        PacketTooLargeException,
        MalformedPacketException,
        NoRouteException,
        AddressNotAvailableException,
        DivertClosedException,
        BufferTooSmallException,
        FragmentModeUnavailableException {
  private static final long serialVersionUID = 1L;

  /** No errno: the failure did not come from a system call. */
  public static final int NO_ERRNO = 0;

  /** The native error number, or {@link #NO_ERRNO}. */
  private final int errno;

  /**
   * Creates an error without a native errno.
   *
   * @param message what failed, why, and where sensible what to do
   */
  public DivertException(String message) {
    this(message, NO_ERRNO, null);
  }

  /**
   * Creates an error.
   *
   * @param message what failed, why, and where sensible what to do
   * @param errno the native errno, or {@link #NO_ERRNO}
   * @param cause the underlying cause, or null
   */
  public DivertException(String message, int errno, Throwable cause) {
    super(errno == NO_ERRNO ? message : message + " (errno " + errno + ")", cause);
    this.errno = errno;
  }

  /**
   * The native errno of the failed system call.
   *
   * @return the errno, or empty when the failure did not come from a system call
   */
  public OptionalInt errno() {
    return errno == NO_ERRNO ? OptionalInt.empty() : OptionalInt.of(errno);
  }
}
