package org.divert4j.stack;

import org.divert4j.Chain;

/**
 * A packet an {@link EngineSocket}'s program has received and not yet written back or dropped: its
 * ticket, and where it was diverted, so that writing it back resumes there. One per slot of {@link
 * HeldSlots}, reused; read and written under the socket's lock (the continuation fields are read
 * inside the engine's section while the slot stays held).
 */
final class HeldPacket {
  final int slot;
  long ticket;
  long since;
  boolean busy;
  Chain chain;
  int ruleIndex;
  int ruleId;
  int inIf;
  int outIf;
  long arrived; // engine clock when the rule diverted it
  int origin;
  boolean ipv6;
  int mark;

  HeldPacket(int slot) {
    this.slot = slot;
  }
}
