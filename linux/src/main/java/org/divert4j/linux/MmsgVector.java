package org.divert4j.linux;

import java.nio.ByteBuffer;

/**
 * An array of {@code struct mmsghdr} (a {@code struct msghdr} of 56 bytes and {@code unsigned int
 * msg_len}, 64 bytes on LP64) for recvmmsg(2), each with one {@code struct iovec} over its own slot
 * of a receive buffer, so that no caller writes the layouts by hand. Not thread-safe.
 */
public final class MmsgVector {
  private static final int MSG_IOV = 16;
  private static final int MSG_IOVLEN = 24;
  private static final int MSG_LEN = 56;

  private final ByteBuffer b;
  private final long addr;
  private final int n;

  /**
   * @param n the number of messages
   * @param rxAddr the address of the receive buffer, {@code n * slot} bytes
   * @param slot the bytes each message may fill
   */
  public MmsgVector(int n, long rxAddr, int slot) {
    this.n = n;
    this.b = Native.allocate(n * (Native.SIZEOF_MMSGHDR + Native.SIZEOF_IOVEC));
    this.addr = Native.address(b);
    int iovBase = n * Native.SIZEOF_MMSGHDR;
    for (int i = 0; i < n; i++) {
      int h = i * Native.SIZEOF_MMSGHDR;
      int iov = iovBase + i * Native.SIZEOF_IOVEC;
      b.putLong(iov, rxAddr + (long) i * slot); // iov_base
      b.putLong(iov + 8, slot); // iov_len
      b.putLong(h + MSG_IOV, addr + iov);
      b.putLong(h + MSG_IOVLEN, 1);
    }
  }

  /**
   * @param first the first entry
   * @return the address of entry {@code first}, to pass to recvmmsg(2)
   */
  public long address(int first) {
    return addr + (long) first * Native.SIZEOF_MMSGHDR;
  }

  /**
   * @return the number of entries
   */
  public int length() {
    return n;
  }

  /**
   * @param i an entry
   * @return its {@code msg_len} as the kernel wrote it
   */
  public int received(int i) {
    return b.getInt(i * Native.SIZEOF_MMSGHDR + MSG_LEN);
  }
}
