package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Errors;
import org.divert4j.linux.Native;

/**
 * The injection socket of a host: {@code socket(AF_INET, SOCK_RAW, IPPROTO_RAW)}, which implies
 * IP_HDRINCL (raw(7)). Every send carries its packet mark as an {@code SO_MARK} control message
 * ({@code __sock_cmsg_send}, needs CAP_NET_RAW or CAP_NET_ADMIN), so one socket serves every divert
 * port and the divert rules can tell which port injected a packet ({@link Marks}). The destination
 * sockaddr is the header's destination: Linux routes a raw packet by the sockaddr, not by the
 * header. IP_NODEFRAG keeps nf_defrag_ipv4 from reassembling fragments the backend sends.
 *
 * <p>The kernel refuses a packet longer than the egress device MTU with EMSGSIZE ({@code
 * raw_send_hdrinc}: {@code length > rt->dst.dev->mtu}), which is exactly the seed's MTU rule (S27,
 * S28). Thread-safe (sends are serialised; the message header is shared).
 */
public final class RawSender implements AutoCloseable {
  private final int fd;
  private final ByteBuffer msg = Native.allocate(256);
  private final long msgAddr = Native.address(msg);
  private boolean closed;

  private static final int NAME = 64;
  private static final int IOV = 96;
  private static final int CTRL = 128;

  private RawSender(int fd) {
    this.fd = fd;
    msg.putLong(0, msgAddr + NAME); // msg_name
    msg.putInt(8, Native.SIZEOF_SOCKADDR_IN); // msg_namelen
    msg.putLong(16, msgAddr + IOV); // msg_iov
    msg.putLong(24, 1); // msg_iovlen
    msg.putLong(32, msgAddr + CTRL); // msg_control
    msg.putLong(40, 24); // msg_controllen: CMSG_SPACE(4)
    msg.putShort(NAME, (short) Native.AF_INET);
    msg.putLong(CTRL, 20); // cmsg_len: CMSG_LEN(4)
    msg.putInt(CTRL + 8, Native.SOL_SOCKET);
    msg.putInt(CTRL + 12, Native.SO_MARK);
  }

  /**
   * Opens the socket in the calling thread's namespace.
   *
   * @param nodefrag true to set IP_NODEFRAG
   * @return the sender
   * @throws ErrnoException EPERM without CAP_NET_RAW
   */
  public static RawSender open(boolean nodefrag) throws ErrnoException {
    int fd = Native.socket(Native.AF_INET, Native.SOCK_RAW, Native.IPPROTO_RAW, "AF_INET raw");
    try {
      if (nodefrag) {
        Native.setIntOption(fd, Native.IPPROTO_IP, Native.IP_NODEFRAG, 1);
      }
      try {
        Native.setIntOption(fd, Native.SOL_SOCKET, Native.SO_SNDBUFFORCE, 4 << 20);
      } catch (ErrnoException e) {
        Native.setIntOption(fd, Native.SOL_SOCKET, Native.SO_SNDBUF, 4 << 20);
      }
    } catch (ErrnoException e) {
      Native.close(fd);
      throw e;
    }
    return new RawSender(fd);
  }

  /**
   * Sends one IP packet.
   *
   * @param addr native address of the packet
   * @param len its length
   * @param destination the header's destination, host-order bits
   * @param mark the packet mark
   * @return 0 on success, else the errno
   */
  public synchronized int send(long addr, int len, int destination, int mark) {
    if (closed) {
      return Errors.EINVAL;
    }
    msg.putInt(NAME + 4, Integer.reverseBytes(destination));
    msg.putLong(IOV, addr);
    msg.putLong(IOV + 8, len);
    msg.putInt(CTRL + 16, mark);
    while (true) {
      long r = Native.sendmsg(fd, msgAddr, 0);
      if (r >= 0) {
        return 0;
      }
      int e = Native.errno();
      if (e != Errors.EINTR) {
        return e;
      }
    }
  }

  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      Native.close(fd);
    }
  }
}
