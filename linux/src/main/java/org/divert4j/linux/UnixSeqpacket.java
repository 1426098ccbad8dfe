package org.divert4j.linux;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A Unix-domain {@code SOCK_SEQPACKET} socket (unix(7)): a connection that keeps message
 * boundaries, and that can carry one open file descriptor with a message ({@code SCM_RIGHTS}), so
 * that a privileged process can hand a socket it made inside some network namespace to an
 * unprivileged one. The receiver's copy is a new descriptor of the same open socket, which stays in
 * the namespace it was made in (socket(7): a socket belongs to the namespace of its creator).
 *
 * <p>Layouts (x86-64 / aarch64, LP64): {@code sockaddr_un} is a 2-byte family and a 108-byte path;
 * {@code msghdr} as in {@link Native#SIZEOF_MSGHDR}; a {@code cmsghdr} is an 8-byte length, the
 * level and the type (4 bytes each), then the data, so one descriptor takes {@code CMSG_LEN(4)} =
 * 20 bytes and {@code CMSG_SPACE(4)} = 24; {@code struct ucred} is pid, uid, gid (4 bytes each).
 *
 * <p>Blocking. One thread sends and one receives at a time (callers serialise); {@link #close()} is
 * idempotent. Received descriptors are close-on-exec ({@code MSG_CMSG_CLOEXEC}).
 */
public final class UnixSeqpacket implements AutoCloseable {
  private static final int AF_UNIX = 1;
  private static final int SOCK_SEQPACKET = 5;
  private static final int SCM_RIGHTS = 1;
  private static final int SO_PEERCRED = 17;
  private static final int MSG_CMSG_CLOEXEC = 0x40000000;
  private static final int SIZEOF_SOCKADDR_UN = 110;
  private static final int CMSG_SPACE_ONE_FD = 24;

  /** The largest message: room for the output of a command, e.g. iptables-save of a namespace. */
  public static final int MAX_MESSAGE = 1 << 20;

  private final int fd;
  private volatile boolean closed;
  private ByteBuffer rx; // made on the first receive; receives are serialised by the caller

  private UnixSeqpacket(int fd) {
    this.fd = fd;
  }

  /**
   * A message and the descriptor that came with it.
   *
   * @param data the bytes
   * @param fd the descriptor received with it, owned by the receiver, or -1
   */
  public record Message(byte[] data, int fd) {}

  private static ByteBuffer sockaddr(Path path) {
    byte[] p = path.toString().getBytes(StandardCharsets.UTF_8);
    if (p.length >= SIZEOF_SOCKADDR_UN - 2) {
      throw new IllegalArgumentException("socket path too long: " + path);
    }
    ByteBuffer sa = Native.allocate(SIZEOF_SOCKADDR_UN);
    sa.putShort(0, (short) AF_UNIX);
    sa.put(2, p);
    return sa;
  }

  /**
   * Creates a socket file at {@code path} and listens there.
   *
   * @param path where; must not exist
   * @return the listening socket
   * @throws IOException if it cannot be bound
   */
  public static UnixSeqpacket listen(Path path) throws IOException {
    return open(path, true);
  }

  /**
   * Connects to a listening socket.
   *
   * @param path its file
   * @return the connection
   * @throws IOException if it cannot connect
   */
  public static UnixSeqpacket connect(Path path) throws IOException {
    return open(path, false);
  }

  /** A new socket bound to {@code path} and listening, or connected to it. */
  private static UnixSeqpacket open(Path path, boolean listen) throws IOException {
    int fd = Native.socket(AF_UNIX, SOCK_SEQPACKET, 0, "AF_UNIX, SOCK_SEQPACKET");
    try {
      ByteBuffer sa = sockaddr(path);
      if (listen) {
        Native.bind(fd, Native.address(sa), SIZEOF_SOCKADDR_UN);
        Native.listen(fd, 16);
      } else {
        Native.connect(fd, Native.address(sa), SIZEOF_SOCKADDR_UN);
      }
      return new UnixSeqpacket(fd);
    } catch (IOException | RuntimeException e) {
      Native.close(fd);
      throw e;
    }
  }

  /**
   * Waits for a connection, at most {@code timeoutMillis}.
   *
   * @param timeoutMillis how long to wait
   * @return the connection, or null if none came in time
   * @throws IOException if accepting fails
   */
  public UnixSeqpacket accept(int timeoutMillis) throws IOException {
    if (!Datagrams.poll(fd, timeoutMillis)) {
      return null;
    }
    return new UnixSeqpacket(Native.accept(fd));
  }

  /**
   * The peer's credentials as the kernel recorded them at connect ({@code SO_PEERCRED}).
   *
   * @return {pid, uid, gid}
   * @throws IOException if they cannot be read
   */
  public int[] peerCredentials() throws IOException {
    ByteBuffer b = Native.allocate(12);
    SocketOptions.getOption(fd, Native.SOL_SOCKET, SO_PEERCRED, b, 12);
    return new int[] {b.getInt(0), b.getInt(4), b.getInt(8)};
  }

  /**
   * Sends one message, with a descriptor if {@code passFd >= 0} (the caller keeps its own copy).
   *
   * @param data the bytes, at most {@link #MAX_MESSAGE}
   * @param passFd a descriptor to pass, or -1
   * @throws IOException if sending fails (EPIPE: the peer is gone)
   */
  public void send(byte[] data, int passFd) throws IOException {
    if (data.length > MAX_MESSAGE || data.length == 0) {
      throw new IOException("a message has 1 to " + MAX_MESSAGE + " bytes, not " + data.length);
    }
    ByteBuffer buf = Native.allocate(data.length);
    buf.put(0, data);
    ByteBuffer iov = Native.allocate(Native.SIZEOF_IOVEC);
    iov.putLong(0, Native.address(buf));
    iov.putLong(8, data.length);
    ByteBuffer msg = Native.allocate(Native.SIZEOF_MSGHDR);
    msg.putLong(16, Native.address(iov));
    msg.putLong(24, 1);
    ByteBuffer control = Native.allocate(CMSG_SPACE_ONE_FD);
    if (passFd >= 0) {
      control.putLong(0, 20); // CMSG_LEN(sizeof(int))
      control.putInt(8, Native.SOL_SOCKET);
      control.putInt(12, SCM_RIGHTS);
      control.putInt(16, passFd);
      msg.putLong(32, Native.address(control));
      msg.putLong(40, CMSG_SPACE_ONE_FD);
    }
    long n = Native.sendmsg(fd, Native.address(msg), 0);
    if (n < 0) {
      throw Native.fail("sendmsg(AF_UNIX)");
    }
    if (n != data.length) {
      throw new IOException("sent " + n + " of " + data.length + " bytes");
    }
  }

  /**
   * Receives one message; blocks until one comes or the peer closes.
   *
   * @return the message, or null if the peer closed the connection
   * @throws IOException if receiving fails or the message was cut
   */
  public Message receive() throws IOException {
    if (rx == null) {
      rx = Native.allocate(MAX_MESSAGE);
    }
    ByteBuffer buf = rx;
    ByteBuffer iov = Native.allocate(Native.SIZEOF_IOVEC);
    iov.putLong(0, Native.address(buf));
    iov.putLong(8, MAX_MESSAGE);
    ByteBuffer control = Native.allocate(64);
    ByteBuffer msg = Native.allocate(Native.SIZEOF_MSGHDR);
    msg.putLong(16, Native.address(iov));
    msg.putLong(24, 1);
    msg.putLong(32, Native.address(control));
    msg.putLong(40, 64);
    long n;
    do {
      n = Native.recvmsg(fd, Native.address(msg), MSG_CMSG_CLOEXEC);
    } while (n < 0 && Native.errno() == 4); // EINTR
    if (n < 0) {
      throw Native.fail("recvmsg(AF_UNIX)");
    }
    int received = -1;
    long controlLen = msg.getLong(40);
    for (int c = 0; c + 16 <= controlLen; ) {
      long len = control.getLong(c);
      if (len < 16) {
        break;
      }
      if (control.getInt(c + 8) == Native.SOL_SOCKET
          && control.getInt(c + 12) == SCM_RIGHTS
          && len >= 20) {
        for (int i = 0; 16 + 4 * (i + 1) <= len; i++) {
          int got = control.getInt(c + 16 + 4 * i);
          if (received < 0) {
            received = got;
          } else {
            Native.close(got); // one descriptor per message is the protocol
          }
        }
      }
      c += (int) ((len + 7) & ~7L);
    }
    if (n == 0 && received < 0) {
      return null;
    }
    int flags = msg.getInt(48);
    if ((flags & (Native.MSG_TRUNC | 0x08)) != 0) { // MSG_TRUNC, MSG_CTRUNC
      Native.close(received);
      throw new IOException("a message was cut (flags 0x" + Integer.toHexString(flags) + ")");
    }
    byte[] data = new byte[(int) n];
    buf.get(0, data);
    return new Message(data, received);
  }

  /** Closes the socket. Idempotent. */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      Native.close(fd);
    }
  }
}
