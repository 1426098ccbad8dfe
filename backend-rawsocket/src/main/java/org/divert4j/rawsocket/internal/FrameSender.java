package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Errors;
import org.divert4j.linux.Native;

/**
 * The sending half of {@link IngressPath}: an {@code AF_PACKET}/{@code SOCK_RAW} socket with
 * protocol 0 (it receives nothing) that writes Ethernet frames onto the pair's sending end. Each
 * frame is the IP packet behind a 14-byte header: destination the receiving end's MAC, source
 * {@code 02:00} and the target interface's index (the filter that redirects it matches that), type
 * IPv4. The packet mark goes with each send as an {@code SO_MARK} control message, which {@code
 * packet_snd} (net/packet/af_packet.c) takes through {@code sock_cmsg_send}, as the raw socket does
 * ({@link RawSender}).
 *
 * <p>Thread-safe (sends are serialised; the frame buffer and message header are shared). Allocates
 * nothing per send.
 */
final class FrameSender implements AutoCloseable {
  private static final int NAME = 64;
  private static final int IOV = 96;
  private static final int CTRL = 128;
  private static final int ETH_HLEN = 14;

  private final int fd;
  private final ByteBuffer msg = Native.allocate(256);
  private final long msgAddr = Native.address(msg);
  private final ByteBuffer frame = Native.allocate(ETH_HLEN + 65535);
  private boolean closed;

  private FrameSender(int fd, int ifindex, byte[] destination) {
    this.fd = fd;
    msg.putLong(0, msgAddr + NAME); // msg_name: sockaddr_ll
    msg.putInt(8, Native.SIZEOF_SOCKADDR_LL);
    msg.putLong(16, msgAddr + IOV); // msg_iov
    msg.putLong(24, 1); // msg_iovlen
    msg.putLong(32, msgAddr + CTRL); // msg_control
    msg.putLong(40, 24); // msg_controllen: CMSG_SPACE(4)
    msg.putShort(NAME, (short) Native.AF_PACKET);
    msg.put(NAME + 2, (byte) (Native.ETH_P_IP >>> 8)); // sll_protocol, network order
    msg.put(NAME + 3, (byte) Native.ETH_P_IP);
    msg.putInt(NAME + 4, ifindex);
    msg.putShort(NAME + 8, (short) Native.ARPHRD_ETHER);
    msg.put(NAME + 11, (byte) 6); // sll_halen
    for (int i = 0; i < 6; i++) {
      msg.put(NAME + 12 + i, destination[i]);
      frame.put(i, destination[i]);
    }
    msg.putLong(IOV, Native.address(frame));
    msg.putLong(CTRL, 20); // cmsg_len: CMSG_LEN(4)
    msg.putInt(CTRL + 8, Native.SOL_SOCKET);
    msg.putInt(CTRL + 12, Native.SO_MARK);
    frame.put(6, (byte) (IngressPath.MAC_PREFIX >>> 8));
    frame.put(7, (byte) IngressPath.MAC_PREFIX);
    frame.put(12, (byte) (Native.ETH_P_IP >>> 8));
    frame.put(13, (byte) Native.ETH_P_IP);
  }

  /**
   * Opens the socket in the calling thread's namespace.
   *
   * @param ifindex the interface to send on
   * @param destination the destination MAC of every frame
   * @return the sender
   * @throws ErrnoException EPERM without CAP_NET_RAW
   */
  static FrameSender open(int ifindex, byte[] destination) throws ErrnoException {
    int fd = Native.socket(Native.AF_PACKET, Native.SOCK_RAW, 0, "AF_PACKET raw");
    return new FrameSender(fd, ifindex, destination);
  }

  /**
   * Sends one IP packet in a frame for a target interface.
   *
   * @param packet holds the packet from index 0
   * @param len its length, at most 65535
   * @param target the target interface's index
   * @param mark the packet mark
   * @return 0 on success, else the errno
   */
  synchronized int send(ByteBuffer packet, int len, int target, int mark) {
    if (closed) {
      return Errors.EINVAL;
    }
    frame.put(8, (byte) (target >>> 24)); // big-endian, whatever the buffer's order
    frame.put(9, (byte) (target >>> 16));
    frame.put(10, (byte) (target >>> 8));
    frame.put(11, (byte) target);
    frame.put(ETH_HLEN, packet, 0, len);
    // the EtherType by the version nibble: IPv6 packets take the same path (S60)
    int etherType = (packet.get(0) & 0xf0) == 0x60 ? Native.ETH_P_IPV6 : Native.ETH_P_IP;
    frame.put(12, (byte) (etherType >>> 8));
    frame.put(13, (byte) etherType);
    msg.put(NAME + 2, (byte) (etherType >>> 8)); // sll_protocol, network order
    msg.put(NAME + 3, (byte) etherType);
    msg.putLong(IOV + 8, ETH_HLEN + len);
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
