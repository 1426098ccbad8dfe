package org.divert4j;

/**
 * A backend cannot be used on this machine: a library, kernel module or tool it needs is missing,
 * or (for {@link org.divert4j.Divert#provider()}) no provider was found. The message lists what is
 * missing; for a failed selection it lists every provider with its reason.
 */
public final class BackendUnavailableException extends DivertException {
  private static final long serialVersionUID = 1L;

  /**
   * @param message what is missing and what to do
   * @param cause the underlying cause, or null
   */
  public BackendUnavailableException(String message, Throwable cause) {
    super(message, NO_ERRNO, cause);
  }

  /**
   * @param message what is missing and what to do
   * @param errno the native errno, or {@link #NO_ERRNO}
   * @param cause the underlying cause, or null
   */
  public BackendUnavailableException(String message, int errno, Throwable cause) {
    super(message, errno, cause);
  }
}
