package org.divert4j;

/**
 * The three firewall chains, with their ipchains meaning (SEMANTICS.md "Chains"). A forwarded
 * packet traverses {@link #INPUT}, then {@link #FORWARD}, then {@link #OUTPUT}.
 */
public enum Chain {
  /** Every packet entering the host, addressed to it or to be forwarded. Inbound. */
  INPUT(Direction.INBOUND),
  /** Forwarded packets only. Inbound: a packet written back with its address is re-routed. */
  FORWARD(Direction.INBOUND),
  /** Every packet leaving the host, locally generated or forwarded. Outbound. */
  OUTPUT(Direction.OUTBOUND);

  private final Direction direction;

  Chain(Direction direction) {
    this.direction = direction;
  }

  /**
   * @return the direction of packets diverted on this chain (SEMANTICS.md S6)
   */
  public Direction direction() {
    return direction;
  }

  /**
   * @return the lower-case name used in rule syntax, e.g. {@code input}
   */
  public String keyword() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }

  /**
   * Parses a chain keyword, case-insensitively.
   *
   * @param keyword {@code input}, {@code forward} or {@code output}
   * @return the chain
   * @throws IllegalArgumentException if the keyword names no chain
   */
  public static Chain parse(String keyword) {
    for (Chain c : values()) {
      if (c.name().equalsIgnoreCase(keyword)) {
        return c;
      }
    }
    throw new IllegalArgumentException(
        "unknown chain '" + keyword + "': expected input, forward or output");
  }
}
