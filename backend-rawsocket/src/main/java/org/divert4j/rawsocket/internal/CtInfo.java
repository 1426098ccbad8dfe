package org.divert4j.rawsocket.internal;

import org.divert4j.ConnectionState;

/**
 * NFQA_CT_INFO, {@code enum ip_conntrack_info}
 * (include/uapi/linux/netfilter/nf_conntrack_common.h), as the API's connection state:
 * IP_CT_ESTABLISHED 0 and IP_CT_ESTABLISHED_REPLY 3 are established, IP_CT_RELATED 1 and
 * IP_CT_RELATED_REPLY 4 related, IP_CT_NEW 2 new. An untracked packet (IP_CT_UNTRACKED 7) has no
 * state. nfqueue puts the attribute only for a packet with a conntrack entry, so a packet conntrack
 * found invalid (no entry) arrives without it: absent, like every packet of a namespace that tracks
 * nothing.
 */
final class CtInfo {
  private CtInfo() {}

  /**
   * @param ctinfo the attribute's value, -1 when absent
   * @return the state, or null
   */
  static ConnectionState state(int ctinfo) {
    return switch (ctinfo) {
      case 0, 3 -> ConnectionState.ESTABLISHED;
      case 1, 4 -> ConnectionState.RELATED;
      case 2 -> ConnectionState.NEW;
      default -> null;
    };
  }
}
