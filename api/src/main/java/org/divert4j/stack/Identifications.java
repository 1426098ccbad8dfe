package org.divert4j.stack;

/**
 * The identifications an engine gives the datagrams it makes or fixes up: the IPv4 header's ID
 * (S39) and the IPv6 Fragment header's Identification (S57, S58), each in a space of its own (S63),
 * never 0. Seeded from the host's name so that hosts differ. Used inside the engine's section only.
 */
final class Identifications {
  private int ipId;
  private int fragmentId6;

  Identifications(String hostName) {
    this.ipId = hostName.hashCode() & 0x7fff;
    this.fragmentId6 = hostName.hashCode() * 0x9e3779b1;
  }

  /** The next IPv4 ID: 16 bits, non-zero. */
  int nextIpv4() {
    ipId = (ipId + 1) & 0xffff;
    if (ipId == 0) {
      ipId = 1;
    }
    return ipId;
  }

  /** The next IPv6 fragment Identification: non-zero, its own space (S63). */
  int nextIpv6Fragment() {
    fragmentId6++;
    if (fragmentId6 == 0) {
      fragmentId6 = 1;
    }
    return fragmentId6;
  }
}
