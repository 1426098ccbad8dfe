package org.divert4j;

/**
 * How diversion treats IP fragments (SEMANTICS.md sections D and E; the seed's "IP: always
 * defragment" option).
 */
public enum FragmentMode {
  /**
   * Each fragment is matched and delivered on its own, as on the wire; reassembly is the program's
   * job; packets longer than the egress MTU cannot be sent (S16-S19, S27). The default.
   */
  PER_FRAGMENT,
  /**
   * Fragments are reassembled before the rules see them; whole datagrams are delivered; outbound
   * datagrams larger than the MTU are fragmented again unless DF is set (S21-S25, S29).
   */
  ALWAYS_DEFRAGMENT
}
