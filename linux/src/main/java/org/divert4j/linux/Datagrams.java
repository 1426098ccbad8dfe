package org.divert4j.linux;

import java.nio.ByteBuffer;

/**
 * Datagram socket calls on direct {@link ByteBuffer}s, for the namespace test bed's nodes (UDP
 * endpoints, AF_PACKET captures): each argument is the buffer's bytes from position to limit, and
 * no call changes a buffer's position or limit unless said. Built on {@link Native}; a call that
 * fails throws an {@link ErrnoException}.
 *
 * <p>Stateless and thread-safe (scratch structs are per thread); every call acts on the calling
 * thread and blocks only as the system call does: none waits for packets except {@link #poll}.
 */
public final class Datagrams {
  /** msghdr (56 bytes) then one iovec (16), or a pollfd (8). */
  private static final ThreadLocal<ByteBuffer> SCRATCH =
      ThreadLocal.withInitial(() -> Native.allocate(Native.SIZEOF_MSGHDR + Native.SIZEOF_IOVEC));

  private Datagrams() {}

  private static long at(ByteBuffer b) {
    return Native.address(b) + b.position();
  }

  /**
   * {@code socket(2)}, with {@code SOCK_CLOEXEC} added; the socket belongs to the calling thread's
   * network namespace for its whole life.
   *
   * @param domain e.g. {@link Native#AF_INET}
   * @param type e.g. {@link Native#SOCK_DGRAM}
   * @param protocol the protocol (for AF_PACKET in network byte order)
   * @return the descriptor, owned by the caller (close it with {@link Native#close})
   * @throws ErrnoException on failure
   */
  public static int socket(int domain, int type, int protocol) throws ErrnoException {
    return Native.socket(domain, type, protocol, domain + "," + type + "," + protocol);
  }

  /**
   * {@code bind(2)}.
   *
   * @param fd the socket
   * @param address a {@code sockaddr}, position to limit (direct)
   * @throws ErrnoException on failure
   */
  public static void bind(int fd, ByteBuffer address) throws ErrnoException {
    Native.bind(fd, at(address), address.remaining());
  }

  /**
   * One datagram to an address ({@code sendmsg(2)}, see {@link LibC} for why not sendto).
   *
   * @param fd the socket
   * @param data what to send, position to limit (direct)
   * @param address the destination {@code sockaddr}, position to limit (direct)
   * @return the bytes sent
   * @throws ErrnoException on failure, e.g. EMSGSIZE
   */
  public static int sendTo(int fd, ByteBuffer data, ByteBuffer address) throws ErrnoException {
    long n =
        Native.sendTo(
            fd, SCRATCH.get(), at(data), data.remaining(), at(address), address.remaining());
    if (n < 0) {
      throw Native.fail("sendmsg");
    }
    return (int) n;
  }

  /**
   * {@code recvmsg(2)} with {@code MSG_DONTWAIT}: takes one datagram if one is waiting.
   *
   * @param fd the socket
   * @param data receives the datagram from its position, at most up to its limit (direct)
   * @param address receives the source {@code sockaddr} from its position (direct)
   * @param control receives the control messages from its position, or null for none (direct); on
   *     success its limit is set to the end of what the kernel wrote
   * @return the datagram's length (more than fit if it was truncated), or -1 if none was waiting
   *     (EAGAIN) or the call was interrupted (EINTR)
   * @throws ErrnoException on any other failure
   */
  public static int receive(int fd, ByteBuffer data, ByteBuffer address, ByteBuffer control)
      throws ErrnoException {
    ByteBuffer m = SCRATCH.get();
    long ma = Native.address(m);
    m.putLong(0, at(address));
    m.putInt(8, address.remaining());
    m.putLong(16, ma + Native.SIZEOF_MSGHDR);
    m.putLong(24, 1);
    m.putLong(32, control == null ? 0 : at(control));
    m.putLong(40, control == null ? 0 : control.remaining());
    m.putInt(48, 0);
    m.putLong(Native.SIZEOF_MSGHDR, at(data));
    m.putLong(Native.SIZEOF_MSGHDR + 8, data.remaining());
    long n = Native.recvmsg(fd, ma, Native.MSG_DONTWAIT | Native.MSG_TRUNC);
    if (n < 0) {
      int e = Native.errno();
      if (e == Errors.EAGAIN || e == Errors.EINTR) {
        return -1;
      }
      throw new ErrnoException("recvmsg", e);
    }
    if (control != null) {
      control.limit(control.position() + (int) m.getLong(40));
    }
    return (int) n;
  }

  /**
   * {@code poll(2)} of one descriptor for input.
   *
   * @param fd the descriptor
   * @param timeoutMillis how long to wait, 0 not at all
   * @return true if it is readable (or in error: the next receive will say), false on timeout or
   *     EINTR
   * @throws ErrnoException on failure (e.g. EBADF)
   */
  public static boolean poll(int fd, int timeoutMillis) throws ErrnoException {
    ByteBuffer p = SCRATCH.get();
    p.putInt(0, fd);
    p.putShort(4, Native.POLLIN);
    p.putShort(6, (short) 0);
    int r = Native.poll(Native.address(p), 1, timeoutMillis);
    if (r < 0) {
      if (Native.errno() == Errors.EINTR) {
        return false;
      }
      throw Native.fail("poll");
    }
    return r > 0;
  }
}
