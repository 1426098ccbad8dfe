package org.divert4j.spi;

import java.util.Objects;

/**
 * Whether a backend can be used here, and if not, why (peers: Netty's {@code
 * Epoll.unavailabilityCause()}). Immutable.
 *
 * @param available true if the backend can open hosts
 * @param reason empty when available; otherwise what is missing and what to do, in one line
 * @param cause the underlying failure, or null
 */
public record Availability(boolean available, String reason, Throwable cause) {
  private static final Availability AVAILABLE = new Availability(true, "", null);

  /**
   * Checks the components.
   *
   * @param available true if the backend can open hosts
   * @param reason empty when available; otherwise what is missing and what to do, in one line
   * @param cause the underlying failure, or null
   */
  public Availability {
    Objects.requireNonNull(reason, "reason");
    if (!available && reason.isBlank()) {
      throw new IllegalArgumentException("an unavailable backend must say why");
    }
  }

  /**
   * @return the available value
   */
  public static Availability ok() {
    return AVAILABLE;
  }

  /**
   * @param reason what is missing and what to do
   * @param cause the underlying failure, or null
   * @return an unavailable value
   */
  public static Availability unavailable(String reason, Throwable cause) {
    return new Availability(false, reason, cause);
  }

  @Override
  public String toString() {
    return available ? "available" : "unavailable: " + reason;
  }
}
