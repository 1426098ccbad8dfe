package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Errors;
import org.divert4j.linux.Native;
import org.divert4j.linux.SocketOptions;

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
 * S28).
 *
 * <p>IPv6 packets go out through a second socket, {@code socket(AF_INET6, SOCK_RAW, IPPROTO_RAW)}
 * with {@code IPV6_HDRINCL} (net/ipv6/raw.c: {@code rawv6_send_hdrinc} copies the packet as it is:
 * no payload-length, checksum or fragment fix-up, so {@link org.divert4j.packet.SendFixups} does
 * S61 first; it refuses a packet longer than the route's device MTU with EMSGSIZE, as for IPv4).
 * The route is looked up by the sockaddr_in6's address and, for a link-local one, by its {@code
 * sin6_scope_id} (the output interface; {@code rawv6_sendmsg}). Thread-safe (sends are serialised;
 * the message headers are shared).
 */
public final class RawSender implements AutoCloseable {
  private final int fd;
  private final int fd6;
  private final ByteBuffer msg = Native.allocate(256);
  private final long msgAddr = Native.address(msg);
  private final ByteBuffer msg6 = Native.allocate(256);
  private final long msg6Addr = Native.address(msg6);
  private boolean closed;

  private static final int NAME = 64;
  private static final int IOV = 96;
  private static final int CTRL = 128;

  private RawSender(int fd, int fd6) {
    this.fd = fd;
    this.fd6 = fd6;
    header(msg, msgAddr, Native.AF_INET, Native.SIZEOF_SOCKADDR_IN);
    header(msg6, msg6Addr, Native.AF_INET6, Native.SIZEOF_SOCKADDR_IN6);
  }

  private static void header(ByteBuffer msg, long msgAddr, int family, int nameLen) {
    msg.putLong(0, msgAddr + NAME); // msg_name
    msg.putInt(8, nameLen); // msg_namelen
    msg.putLong(16, msgAddr + IOV); // msg_iov
    msg.putLong(24, 1); // msg_iovlen
    msg.putLong(32, msgAddr + CTRL); // msg_control
    msg.putLong(40, 24); // msg_controllen: CMSG_SPACE(4)
    msg.putShort(NAME, (short) family);
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
    int fd6 = -1;
    try {
      if (nodefrag) {
        SocketOptions.setIntOption(fd, Native.IPPROTO_IP, Native.IP_NODEFRAG, 1);
      }
      sendBuffer(fd);
      fd6 = Native.socket(Native.AF_INET6, Native.SOCK_RAW, Native.IPPROTO_RAW, "AF_INET6 raw");
      // IPPROTO_RAW implies it (inet6_create), set anyway so the intent is explicit
      SocketOptions.setIntOption(fd6, Native.IPPROTO_IPV6, Native.IPV6_HDRINCL, 1);
      sendBuffer(fd6);
    } catch (ErrnoException e) {
      Native.close(fd);
      if (fd6 >= 0) {
        Native.close(fd6);
      }
      throw e;
    }
    return new RawSender(fd, fd6);
  }

  private static void sendBuffer(int fd) throws ErrnoException {
    try {
      SocketOptions.setIntOption(fd, Native.SOL_SOCKET, Native.SO_SNDBUFFORCE, 4 << 20);
    } catch (ErrnoException e) {
      SocketOptions.setIntOption(fd, Native.SOL_SOCKET, Native.SO_SNDBUF, 4 << 20);
    }
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
    return sendmsg(fd, msg, msgAddr, addr, len, mark);
  }

  /**
   * Sends one IPv6 packet (its header included).
   *
   * @param addr native address of the packet
   * @param len its length
   * @param packet a buffer holding the packet's destination
   * @param dstOffset where its 16 bytes start in {@code packet}
   * @param scopeId the output interface for a link-local destination, else 0
   * @param mark the packet mark
   * @return 0 on success, else the errno
   */
  public synchronized int send6(
      long addr, int len, ByteBuffer packet, int dstOffset, int scopeId, int mark) {
    if (closed) {
      return Errors.EINVAL;
    }
    // struct sockaddr_in6: family, port (0: the protocol is the header's), flowinfo, address,
    // scope id
    msg6.putShort(NAME + 2, (short) 0);
    msg6.putInt(NAME + 4, 0);
    for (int i = 0; i < 16; i++) {
      msg6.put(NAME + 8 + i, packet.get(dstOffset + i));
    }
    msg6.putInt(NAME + 24, scopeId);
    return sendmsg(fd6, msg6, msg6Addr, addr, len, mark);
  }

  private static int sendmsg(int fd, ByteBuffer msg, long msgAddr, long addr, int len, int mark) {
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
      Native.close(fd6);
    }
  }
}
