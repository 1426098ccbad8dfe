package org.divert4j.pcap.internal;

/**
 * Which MAC address each IPv4 address uses, as {@link LinkLayer} learns it from IPv4 and ARP
 * frames: the counterpart of {@link Neighbours6}. An entry is the MAC, a "strong" bit (learned from
 * a frame the address sent, or ARP) that a weak guess never overwrites, and extra bits from 50 up
 * (a cooked capture's packet type).
 *
 * <p>Not thread-safe (one thread or the engine's section at a time). Allocates nothing per packet:
 * an open-addressing table of 4096 entries that starts over when three quarters full.
 */
final class Neighbours4 {
  private static final long STRONG = 1L << 48;
  private static final int TABLE_SIZE = 4096;

  private final int[] keys = new int[TABLE_SIZE];
  private final long[] values = new long[TABLE_SIZE]; // 0 = empty; MAC | STRONG | 1 << 49
  private int used;

  /**
   * Learns a MAC for an address: a strong one replaces any entry, a weak one only a weak one.
   *
   * @param ip an IPv4 address (0 and 255.255.255.255 are ignored)
   * @param mac the MAC, with extra bits from 50 up if any
   * @param strong whether the address itself sent it (a group MAC never is)
   */
  void put(int ip, long mac, boolean strong) {
    if (ip == 0 || ip == -1) {
      return;
    }
    if (strong && (mac & 0x010000000000L) != 0) {
      return; // a group MAC is never a host's source
    }
    int i = slot(ip);
    while (values[i] != 0) {
      if (keys[i] == ip) {
        if (strong || (values[i] & STRONG) == 0) {
          values[i] = mac | (strong ? STRONG : 0) | (1L << 49);
        }
        return;
      }
      i = (i + 1) & (TABLE_SIZE - 1);
    }
    if (used >= TABLE_SIZE * 3 / 4) {
      java.util.Arrays.fill(values, 0); // full: start learning again
      used = 0;
      i = slot(ip);
    }
    keys[i] = ip;
    values[i] = mac | (strong ? STRONG : 0) | (1L << 49);
    used++;
  }

  /**
   * @param ip an IPv4 address
   * @return the MAC learned for it, or {@link LinkLayer#NONE}
   */
  long get(int ip) {
    long v = rawGet(ip);
    return v == 0 ? LinkLayer.NONE : v & 0xffffffffffffL;
  }

  /**
   * @param ip an IPv4 address
   * @return the entry as stored (MAC, strong and extra bits), 0 if unknown
   */
  long rawGet(int ip) {
    int i = slot(ip);
    while (values[i] != 0) {
      if (keys[i] == ip) {
        return values[i];
      }
      i = (i + 1) & (TABLE_SIZE - 1);
    }
    return 0;
  }

  private static int slot(int ip) {
    int h = ip * 0x9e3779b9;
    return (h ^ (h >>> 16)) & (TABLE_SIZE - 1);
  }
}
