package org.divert4j.linux;

import java.nio.ByteBuffer;

/**
 * An array of {@code struct pollfd} ({@code int fd; short events; short revents;}, 8 bytes,
 * poll(2)) in native memory, so that no caller writes its offsets by hand. Not thread-safe: one per
 * thread or per owner.
 */
public final class PollFds {
  private static final int FD = 0;
  private static final int EVENTS = 4;
  private static final int REVENTS = 6;

  private final ByteBuffer b;
  private final long addr;
  private final int n;

  /**
   * @param n the number of entries
   */
  public PollFds(int n) {
    this.n = n;
    this.b = Native.allocate(n * Native.SIZEOF_POLLFD);
    this.addr = Native.address(b);
  }

  /**
   * @param i an entry
   * @param fd its descriptor
   * @param events the events to wait for, e.g. {@link Native#POLLIN}
   */
  public void set(int i, int fd, short events) {
    b.putInt(i * Native.SIZEOF_POLLFD + FD, fd);
    b.putShort(i * Native.SIZEOF_POLLFD + EVENTS, events);
  }

  /**
   * Clears every {@code revents} and calls poll(2) on the first {@code count} entries.
   *
   * @param count how many entries
   * @param timeoutMs as poll(2)
   * @return as poll(2)
   */
  public int poll(int count, int timeoutMs) {
    for (int i = 0; i < count; i++) {
      b.putShort(i * Native.SIZEOF_POLLFD + REVENTS, (short) 0);
    }
    return Native.poll(addr, count, timeoutMs);
  }

  /** {@link #poll(int, int)} on every entry. */
  public int poll(int timeoutMs) {
    return poll(n, timeoutMs);
  }

  /**
   * @param i an entry
   * @return the events the last poll reported for it ({@code revents}: {@link Native#POLLIN},
   *     POLLERR 0x8, POLLHUP 0x10, ...)
   */
  public short revents(int i) {
    return b.getShort(i * Native.SIZEOF_POLLFD + REVENTS);
  }

  /**
   * @param i an entry
   * @return true if the last poll saw it readable
   */
  public boolean readable(int i) {
    return (b.getShort(i * Native.SIZEOF_POLLFD + REVENTS) & Native.POLLIN) != 0;
  }
}
