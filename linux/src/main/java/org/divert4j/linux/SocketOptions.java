package org.divert4j.linux;

import java.nio.ByteBuffer;

/**
 * Socket options: setsockopt(2) and getsockopt(2) on a descriptor, through the one binding of
 * {@link Native}. Thread-safe; each call blocks only for the system call. The helpers that take an
 * int allocate a small direct buffer per call: they are for set-up, not for a per-packet path.
 */
public final class SocketOptions {
  private SocketOptions() {}

  /**
   * getsockopt(2) into a direct buffer.
   *
   * @param fd descriptor
   * @param level level
   * @param name option
   * @param value receives the value from index 0
   * @param len its room in bytes
   * @return the length the kernel wrote
   * @throws ErrnoException on failure
   */
  public static int getOption(int fd, int level, int name, ByteBuffer value, int len)
      throws ErrnoException {
    ByteBuffer l = Native.allocate(8);
    l.putInt(0, len);
    if (Native.c().getsockopt(fd, level, name, Native.address(value), Native.address(l)) < 0) {
      throw Native.fail("getsockopt(" + level + "," + name + ")");
    }
    return l.getInt(0);
  }

  /**
   * setsockopt(2) with an int value.
   *
   * @param fd descriptor
   * @param level level
   * @param name option
   * @param value the int value
   * @throws ErrnoException on failure
   */
  public static void setIntOption(int fd, int level, int name, int value) throws ErrnoException {
    ByteBuffer b = Native.allocate(4);
    b.putInt(0, value);
    if (Native.c().setsockopt(fd, level, name, Native.address(b), 4) < 0) {
      throw Native.fail("setsockopt(" + level + "," + name + ")");
    }
  }

  /**
   * setsockopt(2) with a value in a direct buffer.
   *
   * @param fd descriptor
   * @param level level
   * @param name option
   * @param value the value, from index 0
   * @param len its length
   * @throws ErrnoException on failure
   */
  public static void setOption(int fd, int level, int name, ByteBuffer value, int len)
      throws ErrnoException {
    if (Native.c().setsockopt(fd, level, name, Native.address(value), len) < 0) {
      throw Native.fail("setsockopt(" + level + "," + name + ")");
    }
  }

  /**
   * getsockopt(2) of an int value.
   *
   * @param fd descriptor
   * @param level level
   * @param name option
   * @return the value
   * @throws ErrnoException on failure
   */
  public static int getIntOption(int fd, int level, int name) throws ErrnoException {
    ByteBuffer b = Native.allocate(16);
    b.putInt(8, 4);
    long a = Native.address(b);
    if (Native.c().getsockopt(fd, level, name, a, a + 8) < 0) {
      throw Native.fail("getsockopt(" + level + "," + name + ")");
    }
    return b.getInt(0);
  }
}
