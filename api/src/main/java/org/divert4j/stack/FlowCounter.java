package org.divert4j.stack;

import java.nio.ByteBuffer;
import org.divert4j.DivertRule;

/**
 * The value of {@code flow.Packets} (S68) for the packet moving now: each packet is counted in its
 * connection ({@link FlowTable}) once, where it enters the chains, as conntrack counts it at
 * PREROUTING and LOCAL_OUT before any filter rule; a written-back packet is only read, not counted
 * again. Counting runs only while some installed rule's filter reads the count, and starts from
 * zero with the first such rule.
 *
 * <p>Not thread-safe: used inside the environment's exclusive section.
 */
final class FlowCounter {
  private final StackEnvironment env;
  private final EngineHooks hooks;
  private FlowTable flows; // while readers > 0
  private int readers;
  private long current; // the moving packet's count; 0 if unknown

  FlowCounter(StackEnvironment env, EngineHooks hooks) {
    this.env = env;
    this.hooks = hooks;
  }

  private static boolean reads(DivertRule rule) {
    return rule.filter() != null && rule.filter().usesFlow();
  }

  /** A rule was installed. */
  void added(DivertRule rule) {
    if (reads(rule) && readers++ == 0) {
      flows = new FlowTable();
    }
  }

  /** An installed rule was removed. */
  void removed(DivertRule rule) {
    if (reads(rule) && --readers == 0) {
      flows = null;
    }
  }

  /**
   * A packet enters the chains: counted in its connection (unless the engine's hook says to only
   * read the count), and its count becomes the current one.
   *
   * @param inbound true for a packet from an interface, false for one the host sends
   */
  void enter(ByteBuffer p, boolean inbound) {
    if (readers == 0) {
      current = 0;
      return;
    }
    long now = env.nanoTime();
    current = hooks.countsInFlow(inbound) ? flows.count(p, now) : flows.peek(p, now);
  }

  /** A written-back packet resumes: its connection's count, not counted again. */
  void resume(ByteBuffer p) {
    current = readers > 0 ? flows.peek(p, env.nanoTime()) : 0;
  }

  /**
   * @return the moving packet's connection count, 0 if unknown or not counted
   */
  long current() {
    return current;
  }
}
