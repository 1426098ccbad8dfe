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
 * it for each packet. A new context is outbound, not loopback, interface index 0, with no flow
 * count (so {@code flow.Packets} is missing, S65).
 */
public final class FilterContext {
  Direction direction = Direction.OUTBOUND;
  boolean loopback;
  int ifIdx;
  long flowPackets; // S68: 0 = unknown
  final Layout layout = new Layout();

  /** Creates an outbound, non-loopback context with interface index 0. */
  public FilterContext() {}

  /**
   * Sets all three values at once, and forgets the flow count: call {@link #flowPackets(long)}
   * after this for a packet whose connection's count is known.
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
    this.flowPackets = 0;
    return this;
  }

  /**
   * Sets the value of {@code flow.Packets} for the next evaluations (S68): the number of packets of
   * the packet's connection seen so far, both directions, this one included.
   *
   * @param packets the count, at least 1; 0 or less when unknown (a packet no connection tracker
   *     saw, a later fragment), which makes {@code flow.Packets} missing (S65)
   * @return this context
   */
  public FilterContext flowPackets(long packets) {
    this.flowPackets = Math.max(0, packets);
    return this;
  }

  /**
   * @return the flow count set last, or 0 when unknown
   */
  public long flowPackets() {
    return flowPackets;
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
