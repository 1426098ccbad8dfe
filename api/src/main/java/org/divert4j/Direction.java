package org.divert4j;

/** Which way a packet travels relative to the host (SEMANTICS.md S6, S32-S35). */
public enum Direction {
  /**
   * Entering the host: diverted on input or forward, or injected with a local interface address.
   */
  INBOUND,
  /** Leaving the host: diverted on output, or injected with the zero address. */
  OUTBOUND
}
