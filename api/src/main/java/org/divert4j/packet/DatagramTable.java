package org.divert4j.packet;

import java.util.concurrent.ThreadLocalRandom;

/**
 * The datagrams of one {@link FragmentQueues}, live or remembered as discarded, by their key
 * (source, destination, identification). Open addressing with linear probing and a random
 * per-instance seed, so that an attacker who picks keys cannot aim at one chain (the keys of
 * fragments are attacker-controlled). Allocates only when it grows. Not thread-safe.
 */
final class DatagramTable {
  private final long seed = ThreadLocalRandom.current().nextLong();
  private FragmentQueues.Entry[] table = new FragmentQueues.Entry[16];
  private int mapped;

  /** The key's hash under this table's seed. */
  int hash(long s0, long s1, long d0, long d1, int id) {
    long x = mix(s0 ^ seed);
    x = mix(x ^ s1);
    x = mix(x ^ d0);
    x = mix(x ^ d1);
    x = mix(x ^ id);
    return (int) (x ^ x >>> 32);
  }

  /** The SplitMix64 finaliser: every input bit affects every output bit. */
  private static long mix(long z) {
    z = (z ^ z >>> 30) * 0xbf58476d1ce4e5b9L;
    z = (z ^ z >>> 27) * 0x94d049bb133111ebL;
    return z ^ z >>> 31;
  }

  /** The entry with this key, or null. */
  FragmentQueues.Entry find(long s0, long s1, long d0, long d1, int id, int hash) {
    FragmentQueues.Entry[] t = table;
    int mask = t.length - 1;
    for (int i = hash & mask; ; i = i + 1 & mask) {
      FragmentQueues.Entry e = t[i];
      if (e == null
          || (e.hash == hash
              && e.id == id
              && e.s0 == s0
              && e.s1 == s1
              && e.d0 == d0
              && e.d1 == d1)) {
        return e;
      }
    }
  }

  /** Adds an entry, growing the table to stay at most half full. */
  void map(FragmentQueues.Entry e) {
    if ((mapped + 1) * 2 > table.length) {
      FragmentQueues.Entry[] old = table;
      table = new FragmentQueues.Entry[old.length * 2];
      for (FragmentQueues.Entry o : old) {
        if (o != null) {
          place(o);
        }
      }
    }
    place(e);
    mapped++;
  }

  private void place(FragmentQueues.Entry e) {
    int mask = table.length - 1;
    int i = e.hash & mask;
    while (table[i] != null) {
      i = i + 1 & mask;
    }
    table[i] = e;
  }

  /** Removes an entry, shifting later entries of its probe run back (no tombstone slots). */
  void unmap(FragmentQueues.Entry e) {
    FragmentQueues.Entry[] t = table;
    int mask = t.length - 1;
    int i = e.hash & mask;
    while (t[i] != e) {
      i = i + 1 & mask;
    }
    for (int j = i + 1 & mask; t[j] != null; j = j + 1 & mask) {
      int home = t[j].hash & mask;
      // Move t[j] into the hole at i unless its home slot lies cyclically in (i, j].
      boolean stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (!stays) {
        t[i] = t[j];
        i = j;
      }
    }
    t[i] = null;
    mapped--;
  }
}
