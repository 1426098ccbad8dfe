package org.divert4j;

import java.util.List;

/**
 * The caller lacks a privilege the operation needs (SEMANTICS.md S46). {@link #missing()} names
 * each missing privilege, for example {@code CAP_NET_ADMIN} and {@code CAP_NET_RAW}.
 */
public final class PermissionException extends DivertException {
  private static final long serialVersionUID = 1L;

  /** The missing capabilities or privileges, by name. */
  private final List<String> missing;

  /**
   * @param operation what was attempted, e.g. "open a divert host on rawsocket"
   * @param missing the privileges that are missing, never empty
   * @param errno the native errno (usually EPERM = 1), or {@link #NO_ERRNO}
   * @param cause the underlying cause, or null
   */
  public PermissionException(String operation, List<String> missing, int errno, Throwable cause) {
    super(
        "permission denied: " + operation + " needs " + String.join(" and ", missing),
        errno,
        cause);
    if (missing.isEmpty()) {
      throw new IllegalArgumentException("missing must name at least one privilege");
    }
    this.missing = List.copyOf(missing);
  }

  /**
   * @return the privileges that are missing, e.g. {@code [CAP_NET_ADMIN, CAP_NET_RAW]}
   */
  public List<String> missing() {
    return missing;
  }
}
