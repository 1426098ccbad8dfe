package org.divert4j.linux;

import java.nio.ByteBuffer;

/**
 * The calling thread's capabilities ({@code capget(2)}, {@code capset(2)}, {@code
 * linux/capability.h}), read and dropped in one place for both Linux backends and their tests.
 * Capabilities are per thread on Linux: dropping them changes the calling thread only, and threads
 * it creates afterwards inherit the reduced set. Stateless and thread-safe.
 */
public final class Capabilities {
  public static final int CAP_NET_ADMIN = 12;
  public static final int CAP_NET_RAW = 13;
  public static final int CAP_SYS_ADMIN = 21;

  private static final int LINUX_CAPABILITY_VERSION_3 = 0x20080522;

  /** Two {@code __user_cap_data_struct}s of three words: effective, permitted, inheritable. */
  private static final int DATA_SIZE = 24;

  private Capabilities() {}

  /**
   * Reads the calling thread's effective capability set.
   *
   * @return bit {@code 1L << cap} set for each effective capability
   * @throws ErrnoException on failure
   */
  public static long effective() throws ErrnoException {
    ByteBuffer hdr = header();
    ByteBuffer data = Native.allocate(DATA_SIZE);
    if (Native.capget(Native.address(hdr), Native.address(data)) < 0) {
      throw Native.fail("capget");
    }
    return (data.getInt(0) & 0xffffffffL) | ((data.getInt(12) & 0xffffffffL) << 32);
  }

  /**
   * Removes capabilities from the calling thread's effective set (the permitted set is kept).
   *
   * @param caps the capability numbers to drop, e.g. {@link #CAP_NET_ADMIN}
   * @throws ErrnoException on failure
   */
  public static void dropEffective(int... caps) throws ErrnoException {
    ByteBuffer hdr = header();
    ByteBuffer data = Native.allocate(DATA_SIZE);
    long h = Native.address(hdr);
    long d = Native.address(data);
    if (Native.capget(h, d) < 0) {
      throw Native.fail("capget");
    }
    for (int cap : caps) {
      int word = cap / 32;
      int bit = 1 << (cap % 32);
      data.putInt(word * 12, data.getInt(word * 12) & ~bit);
    }
    hdr.putInt(4, 0);
    if (Native.capset(h, d) < 0) {
      throw Native.fail("capset");
    }
  }

  /**
   * Clears the calling thread's whole effective set (the permitted set is kept), so that what it
   * does next runs as an unprivileged program would.
   *
   * @throws ErrnoException on failure
   */
  public static void dropAllEffective() throws ErrnoException {
    ByteBuffer hdr = header();
    ByteBuffer data = Native.allocate(DATA_SIZE);
    long h = Native.address(hdr);
    long d = Native.address(data);
    if (Native.capget(h, d) < 0) {
      throw Native.fail("capget");
    }
    data.putInt(0, 0); // effective, low word
    data.putInt(12, 0); // effective, high word
    hdr.putInt(4, 0);
    if (Native.capset(h, d) < 0) {
      throw Native.fail("capset (drop effective capabilities)");
    }
  }

  private static ByteBuffer header() {
    ByteBuffer hdr = Native.allocate(8);
    hdr.putInt(0, LINUX_CAPABILITY_VERSION_3);
    hdr.putInt(4, 0); // pid 0: the calling thread
    return hdr;
  }
}
