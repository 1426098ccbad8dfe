package org.divert4j.packet;

/**
 * The cache of freed fragment arrays that {@link FragmentQueues} reuses by exact length: fragments
 * cut to one MTU mostly share one length, so steady traffic stops allocating them, and an exact
 * match keeps the bytes charged equal to the bytes really held. The cache is small and bounded on
 * its own. Not thread-safe; owned by one {@link FragmentQueues}.
 */
final class FragmentArrays {
  private static final int POOL_ARRAYS = 64;
  private static final int POOL_BYTES = 256 << 10;

  private final byte[][] pool = new byte[POOL_ARRAYS][];
  private int pooled;
  private int pooledBytes;

  /** A fragment array of exactly {@code len} bytes, from the cache if one is there. */
  byte[] take(int len) {
    for (int i = pooled - 1; i >= 0; i--) {
      byte[] a = pool[i];
      if (a.length == len) {
        pool[i] = pool[--pooled];
        pool[pooled] = null;
        pooledBytes -= len;
        return a;
      }
    }
    return new byte[len];
  }

  /** Keeps a freed fragment array for reuse, if the cache has room. */
  void give(byte[] a) {
    if (pooled < POOL_ARRAYS && pooledBytes + a.length <= POOL_BYTES) {
      pool[pooled++] = a;
      pooledBytes += a.length;
    }
  }
}
