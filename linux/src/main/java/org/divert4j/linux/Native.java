package org.divert4j.linux;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jnr.ffi.Pointer;

/**
 * The only door to the C library of the Linux backends and their test beds (Netty's {@code Native}
 * pattern): thin wrappers over {@link LibC} that turn a -1 return into an {@link ErrnoException}
 * keeping the errno, plus the constants and struct layouts (x86-64 / aarch64 Linux, LP64,
 * little-endian) they need. {@link Capabilities}, {@link Datagrams} and {@link NetDevices} build on
 * it; nothing else touches native memory. Buffers are direct {@link ByteBuffer}s in native byte
 * order whose addresses are taken once with {@link #address(ByteBuffer)}.
 *
 * <p>Loading JNR-FFI happens on first use ({@link NativeLibrary}). If it fails (missing jar,
 * unsupported platform), {@link #loadError()} says why and every call throws {@link
 * UnsatisfiedLinkError}. Thread-safe.
 */
public final class Native {
  // Address families, socket types and protocols (linux/socket.h, linux/in.h, linux/netlink.h).
  public static final int AF_INET = 2;
  public static final int AF_INET6 = 10;
  public static final int AF_NETLINK = 16;
  public static final int AF_PACKET = 17;
  public static final int SOCK_STREAM = 1;
  public static final int SOCK_DGRAM = 2;
  public static final int SOCK_RAW = 3;
  public static final int SOCK_NONBLOCK = 0x800;
  public static final int SOCK_CLOEXEC = 0x80000;
  public static final int NETLINK_ROUTE = 0;
  public static final int NETLINK_NETFILTER = 12;
  public static final int IPPROTO_IP = 0;
  public static final int IPPROTO_ICMP = 1;
  public static final int IPPROTO_TCP = 6;
  public static final int IPPROTO_UDP = 17;
  public static final int IPPROTO_RAW = 255;
  public static final int IPPROTO_IPV6 = 41;
  public static final int IPPROTO_ICMPV6 = 58;
  public static final int ETH_P_IPV6 = 0x86DD;
  // ipv6(7) socket options at level IPPROTO_IPV6 (linux/in6.h); IPV6_HDRINCL from linux/in6.h
  public static final int IPV6_MTU = 24;
  public static final int IPV6_RECVPKTINFO = 49;
  public static final int IPV6_PKTINFO = 50;
  public static final int IPV6_HDRINCL = 36;
  public static final int IPV6_MTU_DISCOVER = 23;
  public static final int IPV6_DONTFRAG = 62;
  public static final int SIZEOF_SOCKADDR_IN6 = 28;
  public static final int ETH_P_IP = 0x0800;
  public static final int ETH_P_ALL = 0x0003;

  // Socket options.
  public static final int SOL_SOCKET = 1;
  public static final int SO_REUSEADDR = 2;
  public static final int SO_SNDBUF = 7;
  public static final int SO_RCVBUF = 8;
  public static final int SO_SNDBUFFORCE = 32;
  public static final int SO_RCVBUFFORCE = 33;
  public static final int SO_MARK = 36;
  public static final int SO_RCVTIMEO = 20;
  public static final int SO_ATTACH_FILTER = 26;
  public static final int IP_HDRINCL = 3;
  public static final int IP_PKTINFO = 8;
  public static final int IP_MTU_DISCOVER = 10;
  public static final int IP_MTU = 14;
  public static final int IP_NODEFRAG = 22;
  public static final int IP_PMTUDISC_DONT = 0;
  public static final int SOL_NETLINK = 270;
  public static final int NETLINK_NO_ENOBUFS = 5;
  public static final int NETLINK_EXT_ACK = 11;
  public static final int SOL_PACKET = 263;
  public static final int PACKET_IGNORE_OUTGOING = 23;
  public static final int PACKET_OUTGOING = 4;
  public static final int ARPHRD_ETHER = 1;

  // Flags.
  public static final int MSG_DONTWAIT = 0x40;
  public static final int MSG_TRUNC = 0x20;
  public static final int MSG_WAITFORONE = 0x10000;
  public static final short POLLIN = 0x1;
  public static final int EFD_NONBLOCK = 0x800;
  public static final int EFD_CLOEXEC = 0x80000;
  public static final int O_RDONLY = 0;
  public static final int O_CLOEXEC = 0x80000;
  public static final int CLONE_NEWNET = 0x40000000;

  // Struct sizes (LP64).
  public static final int SIZEOF_SOCKADDR_NL = 12;
  public static final int SIZEOF_SOCKADDR_IN = 16;
  public static final int SIZEOF_SOCKADDR_LL = 20;
  public static final int SIZEOF_IOVEC = 16;
  public static final int SIZEOF_MSGHDR = 56;
  public static final int SIZEOF_MMSGHDR = 64;
  public static final int SIZEOF_POLLFD = 8;
  public static final int CMSG_HDR = 16;

  private static final ByteBuffer ONE;
  private static final long ONE_ADDR;

  static {
    ONE = allocate(8);
    ONE.putLong(0, 1L);
    if (NativeLibrary.loadError() == null) {
      ONE_ADDR = address(ONE);
    } else {
      ONE_ADDR = 0;
    }
  }

  private Native() {}

  /**
   * @return why JNR-FFI or the C library could not be loaded, or null if they were
   */
  public static Throwable loadError() {
    return NativeLibrary.loadError();
  }

  static LibC c() {
    return NativeLibrary.libc();
  }

  /**
   * @param size bytes
   * @return a zeroed direct buffer in native byte order
   */
  public static ByteBuffer allocate(int size) {
    return ByteBuffer.allocateDirect(size).order(ByteOrder.nativeOrder());
  }

  /**
   * @param direct a direct buffer
   * @return the native address of its first byte (index 0, not the position)
   */
  public static long address(ByteBuffer direct) {
    if (!direct.isDirect()) {
      throw new IllegalArgumentException("not a direct buffer");
    }
    c();
    return Pointer.wrap(NativeLibrary.runtime(), direct).address();
  }

  /**
   * @return the errno of the last failed call on this thread
   */
  public static int errno() {
    return NativeLibrary.runtime().getLastError();
  }

  static ErrnoException fail(String call) {
    return new ErrnoException(call, errno());
  }

  /**
   * socket(2).
   *
   * @param domain address family
   * @param type socket type and flags
   * @param protocol protocol
   * @param what for the error message
   * @return the descriptor
   * @throws ErrnoException on failure
   */
  public static int socket(int domain, int type, int protocol, String what) throws ErrnoException {
    int fd = c().socket(domain, type | SOCK_CLOEXEC, protocol);
    if (fd < 0) {
      throw fail("socket(" + what + ")");
    }
    return fd;
  }

  /**
   * bind(2).
   *
   * @param fd descriptor
   * @param addr address of a sockaddr
   * @param len its length
   * @throws ErrnoException on failure
   */
  public static void bind(int fd, long addr, int len) throws ErrnoException {
    if (c().bind(fd, addr, len) < 0) {
      throw fail("bind");
    }
  }

  /**
   * connect(2).
   *
   * @param fd descriptor
   * @param addr address of a sockaddr
   * @param len its length
   * @throws ErrnoException on failure
   */
  public static void connect(int fd, long addr, int len) throws ErrnoException {
    if (c().connect(fd, addr, len) < 0) {
      throw fail("connect");
    }
  }

  /**
   * listen(2).
   *
   * @param fd descriptor
   * @param backlog the queue length
   * @throws ErrnoException on failure
   */
  public static void listen(int fd, int backlog) throws ErrnoException {
    if (c().listen(fd, backlog) < 0) {
      throw fail("listen");
    }
  }

  /**
   * accept4(2) with {@code SOCK_CLOEXEC}, not asking for the peer's address.
   *
   * @param fd a listening descriptor
   * @return the connection's descriptor
   * @throws ErrnoException on failure
   */
  public static int accept(int fd) throws ErrnoException {
    int c = c().accept4(fd, 0L, 0L, SOCK_CLOEXEC);
    if (c < 0) {
      throw fail("accept4");
    }
    return c;
  }

  /**
   * sendmsg(2), raw: returns -1 and leaves errno for the caller (hot path, no exception).
   *
   * @param fd descriptor
   * @param msg address of a msghdr
   * @param flags flags
   * @return bytes sent or -1
   */
  public static long sendmsg(int fd, long msg, int flags) {
    return c().sendmsg(fd, msg, flags);
  }

  /**
   * send(2), raw: returns -1 and leaves errno for the caller. On a netlink socket the destination
   * is the kernel.
   *
   * @param fd descriptor
   * @param buf address of the data
   * @param len its length
   * @param flags flags
   * @return bytes sent or -1
   */
  public static long send(int fd, long buf, long len, int flags) {
    return c().send(fd, buf, len, flags);
  }

  /**
   * Sends a datagram to an address with sendmsg(2) (sendto takes six arguments, see {@link LibC}).
   *
   * @param fd descriptor
   * @param msg scratch of at least 80 bytes for the msghdr and iovec
   * @param buf address of the data
   * @param len its length
   * @param addr address of a sockaddr
   * @param addrLen its length
   * @return bytes sent or -1
   */
  public static long sendTo(int fd, ByteBuffer msg, long buf, long len, long addr, int addrLen) {
    long m = address(msg);
    msg.putLong(0, addr);
    msg.putInt(8, addrLen);
    msg.putLong(16, m + 56);
    msg.putLong(24, 1);
    msg.putLong(32, 0);
    msg.putLong(40, 0);
    msg.putInt(48, 0);
    msg.putLong(56, buf);
    msg.putLong(64, len);
    return c().sendmsg(fd, m, 0);
  }

  /**
   * recvmsg(2), raw.
   *
   * @param fd descriptor
   * @param msg address of a msghdr
   * @param flags flags
   * @return bytes received or -1
   */
  public static long recvmsg(int fd, long msg, int flags) {
    return c().recvmsg(fd, msg, flags);
  }

  /**
   * recv(2), raw.
   *
   * @param fd descriptor
   * @param buf address of the buffer
   * @param len its length
   * @param flags flags
   * @return bytes received or -1
   */
  public static long recv(int fd, long buf, long len, int flags) {
    return c().recv(fd, buf, len, flags);
  }

  /**
   * recvmmsg(2), raw.
   *
   * @param fd descriptor
   * @param msgvec address of an mmsghdr array
   * @param vlen its length
   * @param flags flags
   * @return messages received or -1
   */
  public static int recvmmsg(int fd, long msgvec, int vlen, int flags) {
    return c().recvmmsg(fd, msgvec, vlen, flags, 0L);
  }

  /**
   * poll(2), raw.
   *
   * @param fds address of a pollfd array
   * @param nfds its length
   * @param timeoutMs milliseconds, -1 for ever
   * @return ready descriptors, 0 on timeout, -1 on error
   */
  public static int poll(long fds, int nfds, int timeoutMs) {
    return c().poll(fds, nfds, timeoutMs);
  }

  /**
   * close(2); errors are ignored (the descriptor is gone either way on Linux).
   *
   * @param fd descriptor, ignored if negative
   */
  public static void close(int fd) {
    if (fd >= 0) {
      c().close(fd);
    }
  }

  /**
   * dup3(2) with {@code O_CLOEXEC}: makes {@code newFd} refer to what {@code oldFd} refers to,
   * closing what {@code newFd} referred to before, in one step.
   *
   * @param oldFd the descriptor to copy
   * @param newFd the number to copy it to
   * @throws ErrnoException on failure
   */
  public static void dup3(int oldFd, int newFd) throws ErrnoException {
    if (c().dup3(oldFd, newFd, O_CLOEXEC) < 0) {
      throw fail("dup3");
    }
  }

  /** flock(2): an exclusive lock. */
  public static final int LOCK_EX = 2;

  /**
   * flock(2): blocks until the lock is held. Works on a descriptor opened read-only, unlike {@code
   * FileChannel.lock}, which needs a writable channel for an exclusive lock.
   *
   * @param fd descriptor
   * @param operation {@link #LOCK_EX}
   * @throws ErrnoException on failure
   */
  public static void flock(int fd, int operation) throws ErrnoException {
    if (c().flock(fd, operation) < 0) {
      throw fail("flock");
    }
  }

  /**
   * Opens a file read-only (for namespace files).
   *
   * @param path the path
   * @return the descriptor
   * @throws ErrnoException on failure
   */
  public static int openReadOnly(String path) throws ErrnoException {
    int fd = c().open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      throw fail("open(" + path + ")");
    }
    return fd;
  }

  /**
   * Moves the calling thread into a network namespace: {@code open(path, O_RDONLY)}, {@code
   * setns(fd, CLONE_NEWNET)}, {@code close}. Other threads stay where they are.
   *
   * @param path a namespace file, e.g. {@code /var/run/netns/x} or {@code /proc/PID/ns/net}
   * @throws ErrnoException if the file cannot be opened or entered (EPERM without CAP_SYS_ADMIN)
   */
  public static void enterNetns(String path) throws ErrnoException {
    int fd = openReadOnly(path);
    try {
      if (c().setns(fd, CLONE_NEWNET) < 0) {
        throw fail("setns(" + path + ")");
      }
    } finally {
      close(fd);
    }
  }

  /**
   * ioctl(2) with a pointer argument, raw: returns -1 and leaves errno for the caller.
   *
   * @param fd descriptor
   * @param request the request number, e.g. {@code SIOCGIFINDEX}
   * @param arg address of the argument (an {@code ifreq} and the like)
   * @return the ioctl's result or -1
   */
  public static int ioctl(int fd, long request, long arg) {
    return c().ioctl(fd, request, arg);
  }

  /**
   * capget(2), raw.
   *
   * @param header address of a {@code __user_cap_header_struct}
   * @param data address of two {@code __user_cap_data_struct}s
   * @return 0 or -1
   */
  static int capget(long header, long data) {
    return c().capget(header, data);
  }

  /**
   * capset(2), raw.
   *
   * @param header address of a {@code __user_cap_header_struct}
   * @param data address of two {@code __user_cap_data_struct}s
   * @return 0 or -1
   */
  static int capset(long header, long data) {
    return c().capset(header, data);
  }

  /**
   * @return a new non-blocking eventfd, for waking threads blocked in poll
   * @throws ErrnoException on failure
   */
  public static int eventfd() throws ErrnoException {
    int fd = c().eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) {
      throw fail("eventfd");
    }
    return fd;
  }

  /**
   * Signals an eventfd (wakes pollers; it stays readable until drained).
   *
   * @param fd the eventfd
   */
  public static void signal(int fd) {
    c().write(fd, ONE_ADDR, 8);
  }
}
