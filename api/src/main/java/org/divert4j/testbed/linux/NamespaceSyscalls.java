package org.divert4j.testbed.linux;

import java.nio.ByteBuffer;

/**
 * The few Linux system calls the namespace test bed needs ({@link NetnsThread}, {@link
 * NamespaceNode}), so that the test bed itself stays pure Java: each backend implements this with
 * the native library it already has (JNR-FFI, JNA) in its own {@code Native} class.
 *
 * <p>Arguments are Linux ABI values (the constants below: x86-64 and aarch64 share them). Buffers
 * are direct {@link ByteBuffer}s whose bytes from position to limit are the argument; the calls
 * change no buffer's position or limit unless said. A call that fails throws a {@link
 * SyscallException} that keeps the errno.
 *
 * <p>Implementations are stateless and thread-safe; every call acts on the calling thread (its
 * network namespace) and blocks only as the system call does: none of them waits for packets except
 * {@link #poll}.
 */
public interface NamespaceSyscalls {
  /** {@code AF_INET}. */
  int AF_INET = 2;

  /** {@code AF_PACKET}. */
  int AF_PACKET = 17;

  /** {@code SOCK_DGRAM}. */
  int SOCK_DGRAM = 2;

  /** {@code IPPROTO_IP}, also the socket option level of IPv4. */
  int IPPROTO_IP = 0;

  /** {@code IPPROTO_UDP}. */
  int IPPROTO_UDP = 17;

  /** {@code ETH_P_IP}, host order (an AF_PACKET protocol is given in network order). */
  int ETH_P_IP = 0x0800;

  /** {@code SOL_SOCKET}. */
  int SOL_SOCKET = 1;

  /** {@code SO_REUSEADDR}. */
  int SO_REUSEADDR = 2;

  /** {@code SO_RCVBUF}. */
  int SO_RCVBUF = 8;

  /** {@code IP_PKTINFO}: an {@code in_pktinfo} control message with every datagram received. */
  int IP_PKTINFO = 8;

  /** {@code SOL_PACKET}. */
  int SOL_PACKET = 263;

  /** {@code PACKET_IGNORE_OUTGOING} (Linux 4.20). */
  int PACKET_IGNORE_OUTGOING = 23;

  /** {@code PACKET_OUTGOING}, the {@code sll_pkttype} of a packet the host sent. */
  int PACKET_OUTGOING = 4;

  /** {@code ARPHRD_ETHER}. */
  int ARPHRD_ETHER = 1;

  /** The size of {@code struct sockaddr_in}. */
  int SIZEOF_SOCKADDR_IN = 16;

  /** The size of {@code struct sockaddr_ll}. */
  int SIZEOF_SOCKADDR_LL = 20;

  /**
   * Moves the calling thread into a network namespace: {@code open(path, O_RDONLY)}, {@code
   * setns(fd, CLONE_NEWNET)}, {@code close}. Other threads stay where they are.
   *
   * @param path a namespace file, e.g. {@code /var/run/netns/x} or {@code /proc/PID/ns/net}
   * @throws SyscallException if the file cannot be opened or entered (EPERM without CAP_SYS_ADMIN)
   */
  void enterNetns(String path) throws SyscallException;

  /**
   * {@code socket(2)}, with {@code SOCK_CLOEXEC} added; the socket belongs to the calling thread's
   * network namespace for its whole life.
   *
   * @param domain e.g. {@link #AF_INET}
   * @param type e.g. {@link #SOCK_DGRAM}
   * @param protocol the protocol (for AF_PACKET in network byte order)
   * @return the descriptor, owned by the caller (close it with {@link #close})
   * @throws SyscallException on failure
   */
  int socket(int domain, int type, int protocol) throws SyscallException;

  /**
   * {@code setsockopt(2)} with an {@code int} value.
   *
   * @param fd the socket
   * @param level e.g. {@link #SOL_SOCKET}
   * @param name e.g. {@link #SO_RCVBUF}
   * @param value the value
   * @throws SyscallException on failure
   */
  void setIntOption(int fd, int level, int name, int value) throws SyscallException;

  /**
   * {@code bind(2)}.
   *
   * @param fd the socket
   * @param address a {@code sockaddr}, position to limit (direct)
   * @throws SyscallException on failure
   */
  void bind(int fd, ByteBuffer address) throws SyscallException;

  /**
   * {@code sendto(2)} (implementations may use {@code sendmsg}): one datagram, without blocking
   * flags.
   *
   * @param fd the socket
   * @param data what to send, position to limit (direct)
   * @param address the destination {@code sockaddr}, position to limit (direct)
   * @return the bytes sent
   * @throws SyscallException on failure, e.g. EMSGSIZE
   */
  int sendTo(int fd, ByteBuffer data, ByteBuffer address) throws SyscallException;

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
   * @throws SyscallException on any other failure
   */
  int receive(int fd, ByteBuffer data, ByteBuffer address, ByteBuffer control)
      throws SyscallException;

  /**
   * {@code poll(2)} of one descriptor for input.
   *
   * @param fd the descriptor
   * @param timeoutMillis how long to wait, 0 not at all
   * @return true if it is readable (or in error: the next receive will say), false on timeout or
   *     EINTR
   * @throws SyscallException on failure (e.g. EBADF)
   */
  boolean poll(int fd, int timeoutMillis) throws SyscallException;

  /**
   * {@code close(2)}; errors are ignored (on Linux the descriptor is gone either way).
   *
   * @param fd the descriptor; ignored if negative
   */
  void close(int fd);
}
