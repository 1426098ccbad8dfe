package org.divert4j.sim;

import org.divert4j.spi.DivertProvider;
import org.divert4j.tck.reliability.FragmentAttackVerification;

/**
 * The fragment attacks on the simulation: deterministic, on a virtual clock, checked after every
 * packet; the engine counts each fragment it discards, so every fragment is accounted for, and its
 * memory figure is {@code DivertEngine.reassemblyBytesHeld()}.
 */
class FragmentAttackTest extends FragmentAttackVerification {
  @Override
  protected DivertProvider provider() {
    return new SimProvider();
  }

  /** Virtual time is free: the full attacks in CI, 20 times as much long. */
  @Override
  protected Sizes sizes() {
    return new Sizes(20, 500, 10, 50, 10, 5_000, 25, 20_000, 2000, 3000, 1000);
  }

  @Override
  protected long heldBytes() {
    return ((SimNode) bed().hostNode()).engine().reassemblyBytesHeld();
  }

  @Override
  protected boolean countsEachFragment() {
    return true;
  }

  /** The engine ignores exact duplicates only; any other overlap discards the datagram. */
  @Override
  protected boolean overlapInsideIsDuplicate() {
    return false;
  }
}
