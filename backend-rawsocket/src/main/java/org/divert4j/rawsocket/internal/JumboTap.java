package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Native;
import org.divert4j.linux.SocketOptions;

/**
 * Recovers the tail of packets longer than NFQUEUE can hand over. A netlink attribute's length is
 * 16 bits and includes its 4-byte header, so {@code nfqnl_build_packet_message} copies at most
 * 65531 bytes ({@code NFQNL_MAX_COPY_RANGE}) and reports the real length in {@code NFQA_CAP_LEN}.
 * Packets of 65532 to 65535 bytes arrive whole only on links with an MTU that large (loopback,
 * veth). This tap is an {@code AF_PACKET} socket on every interface of the namespace with a classic
 * BPF filter that accepts only packets of at least 65532 bytes (IPv4, and IPv6 up to 40 + 65535
 * bytes: the socket takes every EtherType), so it costs the kernel a few filter instructions per
 * packet and nothing else. Packet taps run in {@code __netif_receive_skb_core} before {@code
 * ip_rcv}, so the copy is queued before the packet reaches PREROUTING and NFQUEUE: when a truncated
 * packet is received, its tail is already here.
 *
 * <p>Works for the input and forward chains (the packet came in through an interface); a locally
 * generated packet that large is not tapped before POSTROUTING, so the output chain cannot deliver
 * it whole (the socket counts it as {@code NO_BUFFER}). Thread-safe (one lock).
 */
public final class JumboTap implements AutoCloseable {
  /** The smallest length NFQUEUE truncates. */
  public static final int MIN = NfqCodec.MAX_COPY_RANGE + 1;

  /** The longest packet it keeps: an IPv6 header and the largest payload length. */
  public static final int MAX = 40 + 65535;

  private static final int SLOTS = 4;
  private final int fd;
  private final ByteBuffer[] slots = new ByteBuffer[SLOTS];
  private final long[] slotAddr = new long[SLOTS];
  private final int[] slotLen = new int[SLOTS];
  private final ByteBuffer poll = Native.allocate(8);
  private int next;
  private boolean closed;

  private JumboTap(int fd) {
    this.fd = fd;
    for (int i = 0; i < SLOTS; i++) {
      slots[i] = Native.allocate(MAX + 1);
      slotAddr[i] = Native.address(slots[i]);
    }
    poll.putInt(0, fd);
    poll.putShort(4, Native.POLLIN);
  }

  /**
   * Opens the tap in the calling thread's namespace.
   *
   * @return the tap
   * @throws ErrnoException if the packet socket cannot be made
   */
  public static JumboTap open() throws ErrnoException {
    int proto = Short.reverseBytes((short) Native.ETH_P_ALL) & 0xffff;
    int fd =
        Native.socket(
            Native.AF_PACKET, Native.SOCK_DGRAM | Native.SOCK_NONBLOCK, proto, "AF_PACKET tap");
    try {
      // ld len; jge #MIN, accept, drop; accept: ret #65535; drop: ret #0
      ByteBuffer prog = Native.allocate(4 * 8);
      putInsn(prog, 0, 0x80, 0, 0, 0);
      putInsn(prog, 1, 0x35, 0, 1, MIN);
      putInsn(prog, 2, 0x06, 0, 0, 65535);
      putInsn(prog, 3, 0x06, 0, 0, 0);
      ByteBuffer fprog = Native.allocate(16);
      fprog.putShort(0, (short) 4);
      fprog.putLong(8, Native.address(prog));
      SocketOptions.setOption(fd, Native.SOL_SOCKET, Native.SO_ATTACH_FILTER, fprog, 16);
      try {
        SocketOptions.setIntOption(fd, Native.SOL_PACKET, Native.PACKET_IGNORE_OUTGOING, 1);
      } catch (ErrnoException e) {
        // older kernels: an outgoing copy never matches a truncated inbound packet anyway
      }
      SocketOptions.setIntOption(fd, Native.SOL_SOCKET, Native.SO_RCVBUF, 1 << 20);
      ByteBuffer sll = Native.allocate(Native.SIZEOF_SOCKADDR_LL);
      sll.putShort(0, (short) Native.AF_PACKET);
      sll.putShort(2, (short) proto);
      Native.bind(fd, Native.address(sll), Native.SIZEOF_SOCKADDR_LL);
    } catch (ErrnoException e) {
      Native.close(fd);
      throw e;
    }
    return new JumboTap(fd);
  }

  private static void putInsn(ByteBuffer b, int i, int code, int jt, int jf, int k) {
    b.putShort(i * 8, (short) code);
    b.put(i * 8 + 2, (byte) jt);
    b.put(i * 8 + 3, (byte) jf);
    b.putInt(i * 8 + 4, k);
  }

  private void drainSocket() {
    while (true) {
      long r = Native.recv(fd, slotAddr[next], MAX + 1, Native.MSG_DONTWAIT);
      if (r < 0) {
        return;
      }
      slotLen[next] = (int) r;
      next = (next + 1) % SLOTS;
    }
  }

  /**
   * Completes a truncated packet: finds the tapped copy with the same length, addresses, ID and
   * bytes just before the cut, and copies its tail after the truncated bytes. The header is kept
   * from the queued packet (the forward chain sees it with the TTL already decreased).
   *
   * @param src the truncated packet's buffer
   * @param off its offset
   * @param present the bytes present (65531)
   * @param full the real length
   * @param dst where to assemble the whole packet, from index 0
   * @return true if the tail was found and {@code dst} holds {@code full} bytes
   */
  public synchronized boolean complete(
      ByteBuffer src, int off, int present, int full, ByteBuffer dst) {
    if (closed || full > MAX || present < 40) {
      return false;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
      drainSocket();
      for (int k = 0; k < SLOTS; k++) {
        int i = (next + SLOTS - 1 - k) % SLOTS; // newest first
        ByteBuffer s = slots[i];
        if (slotLen[i] != full || !matches(src, off, present, s)) {
          continue;
        }
        dst.put(0, src, off, present);
        dst.put(present, s, present, full - present);
        slotLen[i] = 0; // used once
        return true;
      }
      poll.putShort(6, (short) 0);
      Native.poll(Native.address(poll), 1, 20);
    }
    return false;
  }

  private static boolean matches(ByteBuffer a, int off, int present, ByteBuffer b) {
    if ((a.get(off) & 0xf0) == 0x60) {
      // IPv6: payload length and next header, the addresses (not the hop limit, which the
      // forward chain sees decreased), then the 64 bytes before the cut
      if ((b.get(0) & 0xf0) != 0x60) {
        return false;
      }
      for (int i = 4; i < 40; i++) {
        if (i != 7 && a.get(off + i) != b.get(i)) {
          return false;
        }
      }
      return tailMatches(a, off, present, b);
    }
    if ((b.get(0) & 0xf0) != 0x40) {
      return false;
    }
    // addresses and ID, then the 64 bytes before the cut
    for (int i = 12; i < 20; i++) {
      if (a.get(off + i) != b.get(i)) {
        return false;
      }
    }
    if (a.get(off + 4) != b.get(4) || a.get(off + 5) != b.get(5) || a.get(off + 9) != b.get(9)) {
      return false;
    }
    return tailMatches(a, off, present, b);
  }

  private static boolean tailMatches(ByteBuffer a, int off, int present, ByteBuffer b) {
    for (int i = present - 64; i < present; i++) {
      if (a.get(off + i) != b.get(i)) {
        return false;
      }
    }
    return true;
  }

  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      Native.close(fd);
    }
  }
}
