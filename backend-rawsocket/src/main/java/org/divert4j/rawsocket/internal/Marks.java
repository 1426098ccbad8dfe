package org.divert4j.rawsocket.internal;

import org.divert4j.Chain;

/**
 * The backend's share of the packet mark ({@code skb->mark}): a contiguous mask of 9 to 12 bits
 * (host property {@code rawsocket.markMask}, {@link #DEFAULT_MASK} by default), and every value the
 * rules and verdicts keep in it. Every other bit belongs to other software and to programs (S73,
 * S74): no rule divert4j writes reads or changes it, and every mark the backend hands the kernel (a
 * verdict's {@code NFQA_MARK}, a raw send's {@code SO_MARK}) carries the packet's own bits outside
 * the mask. This is the one class that knows the layout; {@link RuleText} asks it for the text of
 * every mark match and {@code MARK} target.
 *
 * <pre>
 *   from the mask's lowest bit up, for a mask of w bits (t = w - 6):
 *   3 bits   injector: a packet the divert socket on port P injected carries slot(P) =
 *            1 + P mod 7; the rules to port P skip it (S45; ports that share a slot skip
 *            each other's injections too, which S45 allows)
 *   t bits   rule tag: the id of the divert rule (1 .. 2^t - 2) that queued the packet
 *   1 bit    phase: 0 = queued by that rule, 1 = written back, resume after that rule (S44)
 *   2 bits   chain: 1 input, 2 forward, 3 output; 0 = no rule of this chain is in progress
 * </pre>
 *
 * With the default mask (12 bits) that is 6 tag bits: 62 rules in a namespace. The injector field's
 * width is fixed so that the chain-end line, which shows the state bits, tells the whole mask
 * ({@link #ofEndLine}).
 *
 * <p>A rule on chain c only matches packets whose chain bits are not c (a packet in progress on c
 * has passed rules up to the tagged one). A written-back packet gets verdict NF_REPEAT with the
 * phase bit set: netfilter runs the same table again, rules up to the tagged one skip it, the
 * tagged rule's third line clears the state, and the rules after it see the packet as fresh:
 * exactly "continue after the rule that diverted it" (S43, S44).
 *
 * <p>Only packets a rule diverted carry a state: line A is the only line that sets one, and only on
 * a packet its match selected. Lines that test a state test a whole value of at least two bits
 * ({@code queued}: chain and tag; {@code resume} and the chain-end line: chain, phase and a tag
 * that is neither 0 nor all ones), so a packet no rule matches is never changed (S3), whether it
 * carries a single bit inside the mask or all 32. Immutable.
 */
public final class Marks {
  /**
   * The default mask, bits 20 to 31. It avoids kube-proxy (0x4000, 0x8000), wg-quick (0xca6c),
   * Tailscale (0x40000 and 0x80000: its mask 0xff0000 reaches bit 23, but it only clears bits 20-23
   * or tests them for 0, which they are outside divert4j's own chains) and Cilium (0x0f00). It
   * overlaps Calico's default mask (0xffff0000) and zapret's 0x40000000: no 12-bit window avoids
   * all of them (docs/backends.md, "The packet mark").
   */
  public static final int DEFAULT_MASK = 0xfff00000;

  /** The injector field's width: 7 slots. */
  private static final int INJECTOR_BITS = 3;

  /** The fewest bits a mask may have: 7 rules in a namespace. */
  public static final int MIN_BITS = 9;

  /** The most bits a mask may have (S74). */
  public static final int MAX_BITS = 12;

  /** The layout of {@link #DEFAULT_MASK}. */
  public static final Marks DEFAULT = new Marks(DEFAULT_MASK);

  private final int mask;
  private final int injShift;
  private final int injMask;
  private final int slots;
  private final int tagShift;
  private final int tagMask;
  private final int maxTag;
  private final int phase;
  private final int chainShift;
  private final int chainMask;
  private final int stateMask;

  private Marks(int mask) {
    this.mask = mask;
    int shift = Integer.numberOfTrailingZeros(mask);
    int w = Integer.bitCount(mask);
    int i = INJECTOR_BITS;
    int t = w - 3 - i;
    injShift = shift;
    injMask = ((1 << i) - 1) << shift;
    slots = (1 << i) - 1;
    tagShift = shift + i;
    tagMask = (1 << t) - 1;
    maxTag = tagMask - 1; // all ones is never a tag: a mark with every bit set is no state
    phase = 1 << (tagShift + t);
    chainShift = tagShift + t + 1;
    chainMask = 3 << chainShift;
    stateMask = (tagMask << tagShift) | phase | chainMask;
  }

  /**
   * @param mask a mask
   * @return its layout
   * @throws IllegalArgumentException if the mask is not contiguous or has fewer than {@link
   *     #MIN_BITS} or more than {@link #MAX_BITS} bits
   */
  public static Marks of(int mask) {
    int w = Integer.bitCount(mask);
    int low = mask == 0 ? 0 : Integer.numberOfTrailingZeros(mask);
    boolean contiguous = mask != 0 && ((mask >>> low) & ((mask >>> low) + 1)) == 0;
    if (!contiguous || w < MIN_BITS || w > MAX_BITS) {
      throw new IllegalArgumentException(
          "rawsocket.markMask must be one run of "
              + MIN_BITS
              + " to "
              + MAX_BITS
              + " contiguous bits, e.g. "
              + RuleText.hex(DEFAULT_MASK)
              + ": "
              + RuleText.hex(mask));
    }
    return mask == DEFAULT_MASK ? DEFAULT : new Marks(mask);
  }

  /**
   * @param text a mask as the property gives it: hexadecimal with {@code 0x}, or decimal
   * @return its layout
   * @throws IllegalArgumentException if it is not a number or not a valid mask
   */
  public static Marks parse(String text) {
    String s = text.trim();
    long v;
    try {
      v =
          s.startsWith("0x") || s.startsWith("0X")
              ? Long.parseLong(s.substring(2), 16)
              : Long.parseLong(s);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("rawsocket.markMask is not a number: " + text, e);
    }
    if (v < 0 || v > 0xffffffffL) {
      throw new IllegalArgumentException("rawsocket.markMask is not a 32-bit mask: " + text);
    }
    return of((int) v);
  }

  /**
   * Finds the layout whose chain-end line for {@code c} is {@code endLine}: what the rules already
   * in a namespace were written with.
   *
   * @param c a chain
   * @param endLine the end line of its main chain, as iptables-save prints it (without {@code -A
   *     CHAIN})
   * @return the layout, or null if no valid mask writes that line
   */
  public static Marks ofEndLine(Chain c, String endLine) {
    String want = normalize(endLine);
    for (int w = MIN_BITS; w <= MAX_BITS; w++) {
      for (int s = 0; s + w <= 32; s++) {
        int m = (int) (((1L << w) - 1) << s);
        Marks k = m == DEFAULT_MASK ? DEFAULT : new Marks(m);
        if (normalize(RuleText.endLine(k, c)).equals(want)) {
          return k;
        }
      }
    }
    return null;
  }

  private static String normalize(String rule) {
    return rule.replace("\"", "").replaceAll("\\s+", " ").trim();
  }

  /**
   * @return the backend's bits
   */
  public int mask() {
    return mask;
  }

  /**
   * @return the per-traversal state: tag, phase and chain
   */
  public int stateMask() {
    return stateMask;
  }

  /**
   * @return the chain bits
   */
  public int chainMask() {
    return chainMask;
  }

  /**
   * @return the injector bits
   */
  public int injectorMask() {
    return injMask;
  }

  /**
   * @return the phase bit
   */
  public int phaseBit() {
    return phase;
  }

  /**
   * @return the highest rule tag
   */
  public int maxTag() {
    return maxTag;
  }

  /**
   * @param c a chain
   * @return its chain bits
   */
  public int chainBits(Chain c) {
    return (c.ordinal() + 1) << chainShift;
  }

  /**
   * @param c a chain
   * @param tag a rule tag
   * @return the state "queued by rule tag on chain c"
   */
  public int queued(Chain c, int tag) {
    return chainBits(c) | (tag << tagShift);
  }

  /**
   * @param c a chain
   * @param tag a rule tag
   * @return the state "written back, resume after rule tag on chain c"
   */
  public int resume(Chain c, int tag) {
    return queued(c, tag) | phase;
  }

  /**
   * @param mark a packet's mark as queued
   * @param c the chain it was queued on
   * @return the tag of the rule that queued it, or 0 if it was not queued by one of ours
   */
  public int tagOf(int mark, Chain c) {
    if ((mark & chainMask) != chainBits(c) || (mark & phase) != 0) {
      return 0;
    }
    return (mark >>> tagShift) & tagMask;
  }

  /**
   * @param port a divert port
   * @return its injector slot in place ({@link #injectorMask} bits), never 0
   */
  public int injector(int port) {
    return (1 + Integer.remainderUnsigned(port, slots)) << injShift;
  }

  /**
   * @param own the packet's own mark outside the mask (the program's bits)
   * @param port the injecting socket's port
   * @return the mark of a new packet it injects
   */
  public int injected(int own, int port) {
    return (own & ~mask) | injector(port);
  }

  /**
   * The mark of a packet written back, for a verdict ({@code NFQA_MARK} replaces the whole mark:
   * net/netfilter/nfnetlink_queue.c, {@code nfqnl_recv_verdict}: {@code entry->skb->mark =
   * ntohl(nla_get_be32(nfqa[NFQA_MARK]))}) or a raw send's {@code SO_MARK}.
   *
   * @param queued the packet's mark as it was queued (the backend's bits come from here)
   * @param own the program's bits (only those outside the mask are used)
   * @param c the chain it was queued on
   * @param tag the rule that queued it, or 0 if none of ours did
   * @return the mark: the program's bits outside the mask, the injector bits as queued, and the
   *     state "resume after rule tag" (or the state as queued if tag is 0)
   */
  public int writtenBack(int queued, int own, Chain c, int tag) {
    int ours = queued & mask;
    if (tag != 0) {
      ours = (ours & ~stateMask) | resume(c, tag);
    }
    return (own & ~mask) | ours;
  }

  /**
   * @param mark a packet's mark
   * @return the bits outside the mask: what a program sees of it
   */
  public int foreign(int mark) {
    return mark & ~mask;
  }

  @Override
  public String toString() {
    return "mark mask " + RuleText.hex(mask);
  }
}
