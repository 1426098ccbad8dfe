package org.divert4j.stack;

import java.nio.ByteBuffer;

/**
 * Packets per connection, both directions together, for the filter field {@code flow.Packets}
 * (S68), as Linux's connection tracking counts them with accounting on ({@code nf_ct_acct_update}
 * from the protocol trackers, before the filter rules).
 *
 * <p>A connection is the unordered pair of its endpoints and the protocol: addresses and ports for
 * TCP and UDP, addresses and the identifier for ICMP and ICMPv6 echo, addresses alone for anything
 * else; IPv4 and IPv6 apart. A packet without such a key (not IP, a truncated header, a later
 * fragment, whose ports are in the first) is not counted and its count is unknown.
 *
 * <p>Memory is bounded: {@link #SLOTS} connections in primitive arrays with open addressing; a
 * connection is looked for in the {@link #WAYS} slots from its hash on. A connection idle for
 * longer than its timeout starts again from 1: 5 days for TCP (conntrack's established timeout), 2
 * minutes for a TCP connection that has seen FIN or RST (a new SYN on it starts a new one at once,
 * as conntrack's TIME_WAIT reopening), 2 minutes for UDP, 30 seconds for ICMP and ICMPv6, 10
 * minutes for other protocols. When all the slots of a connection's window are busy, the least
 * recently seen is evicted. Nothing is allocated after construction.
 *
 * <p>Not thread-safe: the engine calls it inside its section.
 */
final class FlowTable {
  /** Connections held at most. */
  static final int SLOTS = 16384;

  /** Slots searched for one connection. */
  static final int WAYS = 8;

  private static final long SECOND = 1_000_000_000L;
  private static final long TCP_TIMEOUT = 432_000 * SECOND;
  private static final long CLOSING_TIMEOUT = 120 * SECOND;
  private static final long UDP_TIMEOUT = 120 * SECOND;
  private static final long ICMP_TIMEOUT = 30 * SECOND;
  private static final long OTHER_TIMEOUT = 600 * SECOND;
  private static final int MAX_EXTENSION_HEADERS = 16;

  // per slot: the key (endpoint a's address in two words, endpoint b's likewise, and family,
  // protocol and both ports; meta 0 marks a free slot), the count, the last time seen, TCP closing
  private final long[] a0 = new long[SLOTS];
  private final long[] a1 = new long[SLOTS];
  private final long[] b0 = new long[SLOTS];
  private final long[] b1 = new long[SLOTS];
  private final long[] meta = new long[SLOTS];
  private final long[] packets = new long[SLOTS];
  private final long[] seen = new long[SLOTS];
  private final boolean[] closing = new boolean[SLOTS];
  private long evictions;

  // the key of the packet being looked up, and its TCP flags (-1 if not TCP)
  private long k0;
  private long k1;
  private long k2;
  private long k3;
  private long km;
  private int tcpFlags;

  /**
   * Counts a packet in its connection.
   *
   * @param p an IP packet from position to limit; not modified
   * @param now the engine's clock, in nanoseconds
   * @return the connection's packets so far, this one included; 0 if the packet has no connection
   */
  long count(ByteBuffer p, long now) {
    if (!key(p)) {
      return 0;
    }
    int slot = find(now);
    boolean syn = tcpFlags >= 0 && (tcpFlags & 0x12) == 0x02;
    if (slot >= 0 && !(syn && closing[slot])) {
      seen[slot] = now;
      closing[slot] |= tcpFlags >= 0 && (tcpFlags & 0x05) != 0;
      return ++packets[slot];
    }
    if (slot < 0) {
      slot = free(now);
    }
    a0[slot] = k0;
    a1[slot] = k1;
    b0[slot] = k2;
    b1[slot] = k3;
    meta[slot] = km;
    seen[slot] = now;
    closing[slot] = tcpFlags >= 0 && (tcpFlags & 0x05) != 0;
    packets[slot] = 1;
    return 1;
  }

  /**
   * The count of a packet's connection without counting it (a packet written back goes on where it
   * was taken; the tracker saw it then).
   *
   * @return the count, or 0 if the packet has no connection or it is not held
   */
  long peek(ByteBuffer p, long now) {
    if (!key(p)) {
      return 0;
    }
    int slot = find(now);
    return slot < 0 ? 0 : packets[slot];
  }

  /** Connections evicted to make room for another before their timeout. */
  long evictions() {
    return evictions;
  }

  private int find(long now) {
    int h = hash();
    for (int i = 0; i < WAYS; i++) {
      int s = (h + i) & (SLOTS - 1);
      if (meta[s] == km
          && a0[s] == k0
          && a1[s] == k1
          && b0[s] == k2
          && b1[s] == k3
          && now - seen[s] <= timeout(s)) {
        return s;
      }
    }
    return -1;
  }

  /** A free or expired slot of the window, else the least recently seen one (evicted). */
  private int free(long now) {
    int h = hash();
    int oldest = -1;
    for (int i = 0; i < WAYS; i++) {
      int s = (h + i) & (SLOTS - 1);
      if (meta[s] == 0 || now - seen[s] > timeout(s)) {
        return s;
      }
      if (oldest < 0 || seen[s] - seen[oldest] < 0) {
        oldest = s;
      }
    }
    evictions++;
    return oldest;
  }

  private long timeout(int s) {
    int protocol = (int) (meta[s] >>> 32) & 0xff;
    return switch (protocol) {
      case 6 -> closing[s] ? CLOSING_TIMEOUT : TCP_TIMEOUT;
      case 17 -> UDP_TIMEOUT;
      case 1, 58 -> ICMP_TIMEOUT;
      default -> OTHER_TIMEOUT;
    };
  }

  private int hash() {
    long h = k0 * 0x9E3779B97F4A7C15L;
    h = (h ^ k1) * 0x9E3779B97F4A7C15L;
    h = (h ^ k2) * 0x9E3779B97F4A7C15L;
    h = (h ^ k3) * 0x9E3779B97F4A7C15L;
    h = (h ^ km) * 0x9E3779B97F4A7C15L;
    return (int) (h >>> 40);
  }

  /** Reads the packet's connection key into k0..km; false if it has none. */
  private boolean key(ByteBuffer p) {
    int base = p.position();
    int end = p.limit();
    if (end - base < 1) {
      return false;
    }
    int version = (p.get(base) & 0xf0) >>> 4;
    long s0;
    long s1;
    long d0;
    long d1;
    int protocol;
    int l4;
    if (version == 4) {
      int ihl = (p.get(base) & 0x0f) * 4;
      if (end - base < 20 || ihl < 20 || ihl > end - base) {
        return false;
      }
      if ((p.getShort(base + 6) & 0x1fff) != 0) {
        return false; // a later fragment: its ports are in the first
      }
      s0 = 0;
      s1 = 0xffff_0000_0000L | (p.getInt(base + 12) & 0xffff_ffffL);
      d0 = 0;
      d1 = 0xffff_0000_0000L | (p.getInt(base + 16) & 0xffff_ffffL);
      protocol = p.get(base + 9) & 0xff;
      l4 = base + ihl;
    } else if (version == 6) {
      if (end - base < 40) {
        return false;
      }
      s0 = p.getLong(base + 8);
      s1 = p.getLong(base + 16);
      d0 = p.getLong(base + 24);
      d1 = p.getLong(base + 32);
      protocol = p.get(base + 6) & 0xff;
      l4 = base + 40;
      for (int i = 0; i < MAX_EXTENSION_HEADERS; i++) {
        if (protocol != 0 && protocol != 43 && protocol != 60 && protocol != 44 && protocol != 51) {
          break;
        }
        if (l4 + 8 > end) {
          return false;
        }
        int next = p.get(l4) & 0xff;
        if (protocol == 44) {
          if ((p.getShort(l4 + 2) & 0xfff8) != 0) {
            return false; // a later fragment
          }
          l4 += 8;
        } else if (protocol == 51) {
          l4 += ((p.get(l4 + 1) & 0xff) + 2) * 4; // AH counts 32-bit words (RFC 4302)
        } else {
          l4 += ((p.get(l4 + 1) & 0xff) + 1) * 8;
        }
        protocol = next;
      }
    } else {
      return false;
    }
    int sp = 0;
    int dp = 0;
    tcpFlags = -1;
    if (protocol == 6 || protocol == 17) {
      if (l4 + (protocol == 6 ? 14 : 4) > end) {
        return false;
      }
      sp = p.getShort(l4) & 0xffff;
      dp = p.getShort(l4 + 2) & 0xffff;
      if (protocol == 6) {
        tcpFlags = p.get(l4 + 13) & 0xff;
      }
    } else if (protocol == 1 || protocol == 58) {
      if (l4 + 8 > end) {
        return false;
      }
      int type = p.get(l4) & 0xff;
      boolean echo = protocol == 1 ? type == 8 || type == 0 : type == 128 || type == 129;
      if (echo) {
        sp = dp = p.getShort(l4 + 4) & 0xffff; // the identifier, the same both ways
      }
    }
    // the endpoint that sorts first is a, so both directions have one key
    int c = Long.compareUnsigned(s0, d0);
    if (c == 0) {
      c = Long.compareUnsigned(s1, d1);
    }
    if (c == 0) {
      c = Integer.compare(sp, dp);
    }
    if (c <= 0) {
      k0 = s0;
      k1 = s1;
      k2 = d0;
      k3 = d1;
    } else {
      k0 = d0;
      k1 = d1;
      k2 = s0;
      k3 = s1;
      int t = sp;
      sp = dp;
      dp = t;
    }
    km = ((long) version << 40) | ((long) protocol << 32) | ((long) sp << 16) | dp;
    return true;
  }
}
