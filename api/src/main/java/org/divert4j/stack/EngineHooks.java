package org.divert4j.stack;

import java.nio.ByteBuffer;
import org.divert4j.NetInterface;
import org.divert4j.NoListenerPolicy;
import org.divert4j.PacketTooLargeException;

/**
 * The decisions of the packet's path that {@link DivertEngine} lets subclasses override (its
 * protected hooks, which say what each default is), as its parts ask for them. The engine hands its
 * parts an implementation that calls those hooks.
 */
interface EngineHooks {
  /** Whether fragments are reassembled before the input chain (S21). */
  boolean reassemblesBeforeRules();

  /** Whether a matching rule whose port has no socket drops the packet (S11, S12). */
  boolean dropsWithoutListener(NoListenerPolicy policy);

  /** The header fix-ups of section H on the engine's own copy of a packet about to be sent. */
  void fixUpHeader(ByteBuffer packet);

  /** The MTU check on an outbound send (S27-S30). */
  void checkMtu(int length, boolean dontFragment, NetInterface out) throws PacketTooLargeException;

  /** Where a written-back packet resumes in its chain (S43, S44). */
  int resumeAfter(int ruleIndex);

  /** Whether a rule is skipped for a packet that a socket injected (S45). */
  boolean skipsOwnInjection(int rulePort, int originPort);

  /** Whether a packet entering the chains is counted in its connection for flow.Packets (S68). */
  boolean countsInFlow(boolean inbound);
}
