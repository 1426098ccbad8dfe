package org.divert4j.rawsocket.internal;

import org.divert4j.Chain;

/**
 * The layout of the packet mark ({@code skb->mark}) that the backend's rules and verdicts use. Bits
 * 29-31 are left alone, so other software may use them (zapret, for one, uses 0x40000000).
 *
 * <pre>
 *   bits  0-15  injecting port: a packet the divert socket on port P injected carries P; the rules
 *               to port P skip it (loop prevention for new packets, S45)
 *   bits 16-25  rule tag: the id of the divert rule (1..1023) that queued the packet
 *   bit  26     phase: 0 = queued by that rule, 1 = written back, resume after that rule (S44)
 *   bits 27-28  chain: 1 input, 2 forward, 3 output; 0 = no rule of this chain is in progress
 * </pre>
 *
 * <p>A rule on chain c only matches packets whose chain bits are not c (a packet in progress on c
 * has passed rules up to the tagged one). A written-back packet gets verdict NF_REPEAT with the
 * phase bit set: netfilter runs the same table again, rules up to the tagged one skip it, the
 * tagged rule's third line clears the state, and the rules after it see the packet as fresh:
 * exactly "continue after the rule that diverted it" (S43, S44). Stateless.
 */
public final class Marks {
  public static final int PORT_MASK = 0x0000ffff;
  public static final int TAG_SHIFT = 16;
  public static final int MAX_TAG = 1023;
  public static final int R_BIT = 0x04000000;
  public static final int CHAIN_SHIFT = 27;
  public static final int CHAIN_MASK = 0x18000000;

  /** Tag, phase and chain: the per-traversal state. */
  public static final int STATE_MASK = 0x1fff0000;

  /** Every bit the backend uses. */
  public static final int ALL = 0x1fffffff;

  private Marks() {}

  /**
   * @param c a chain
   * @return its chain bits
   */
  public static int chainBits(Chain c) {
    return (c.ordinal() + 1) << CHAIN_SHIFT;
  }

  /**
   * @param c a chain
   * @param tag a rule tag
   * @return the state "queued by rule tag on chain c"
   */
  public static int queued(Chain c, int tag) {
    return chainBits(c) | (tag << TAG_SHIFT);
  }

  /**
   * @param c a chain
   * @param tag a rule tag
   * @return the state "written back, resume after rule tag on chain c"
   */
  public static int resume(Chain c, int tag) {
    return queued(c, tag) | R_BIT;
  }

  /**
   * @param mark a packet's mark as queued
   * @param c the chain it was queued on
   * @return the tag of the rule that queued it, or 0 if it was not queued by one of ours
   */
  public static int tagOf(int mark, Chain c) {
    if ((mark & CHAIN_MASK) != chainBits(c) || (mark & R_BIT) != 0) {
      return 0;
    }
    return (mark >>> TAG_SHIFT) & MAX_TAG;
  }

  /**
   * @param port the injecting socket's port
   * @return the mark of a new outbound packet it injects
   */
  public static int injected(int port) {
    return port & PORT_MASK;
  }
}
