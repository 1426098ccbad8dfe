package org.divert4j;

/**
 * What a DIVERT rule does with a matching packet when no socket is bound to its port (SEMANTICS.md
 * section C; the seed's "IP: divert pass-through" option).
 */
public enum NoListenerPolicy {
  /** The packet is silently dropped, as by a DENY rule (S11). The default. */
  DROP,
  /** The packet continues as if the rule were absent (S12). */
  PASS_THROUGH
}
