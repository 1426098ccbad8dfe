package org.divert4j.filter;

import java.util.Objects;
import org.divert4j.Direction;

/**
 * What a filter knows about a packet besides its bytes: its direction, whether it travels over a
 * loopback interface, and the index of its interface ({@code inbound}, {@code outbound}, {@code
 * loopback}, {@code ifIdx}). It also holds the scratch space an evaluation uses, so that {@link
 * Filter#matches} allocates nothing.
 *
 * <p>Mutable and not thread-safe: each thread that evaluates filters keeps its own context and sets
 * it for each packet. A new context is outbound, not loopback, interface index 0.
 */
public final class FilterContext {
  Direction direction = Direction.OUTBOUND;
  boolean loopback;
  int ifIdx;
  final Layout layout = new Layout();

  /** Creates an outbound, non-loopback context with interface index 0. */
  public FilterContext() {}

  /**
   * Sets all three values at once.
   *
   * @param direction inbound or outbound
   * @param loopback true if the packet travels over a loopback interface
   * @param ifIdx the index of the interface it arrived on (inbound) or leaves by (outbound); 0 if
   *     unknown
   * @return this context
   */
  public FilterContext set(Direction direction, boolean loopback, int ifIdx) {
    this.direction = Objects.requireNonNull(direction, "direction");
    this.loopback = loopback;
    this.ifIdx = ifIdx;
    return this;
  }

  /**
   * @return the direction set last
   */
  public Direction direction() {
    return direction;
  }

  /**
   * @return whether the packet was said to travel over a loopback interface
   */
  public boolean loopback() {
    return loopback;
  }

  /**
   * @return the interface index set last
   */
  public int interfaceIndex() {
    return ifIdx;
  }
}
