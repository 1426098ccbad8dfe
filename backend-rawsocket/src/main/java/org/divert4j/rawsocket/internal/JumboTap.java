package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;
import java.util.List;
import org.divert4j.NetInterface;
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
 * bytes: the socket takes every EtherType). Packet taps run in {@code __netif_receive_skb_core}
 * before {@code ip_rcv}, so the copy is queued before the packet reaches PREROUTING and NFQUEUE:
 * when a truncated packet is received, its tail is already here.
 *
 * <p>Where it listens ({@link #scope}). A tap bound to every interface sits on the kernel's global
 * {@code ptype_all} list, so every packet of the namespace pays {@code deliver_skb} and {@code
 * packet_rcv} with its filter (net/core/dev.c, net/packet/af_packet.c): about 4 % of the delivered
 * rate of a 64-byte flood on a 2-core machine (docs/performance.md, "What the kernel allows"). A
 * tap bound to one interface sits on that device's own list and costs the others nothing. Without
 * segment offload a packet longer than 65531 bytes can only arrive through an interface whose MTU
 * reaches 65532 (NFQUEUE segments GSO packets itself when {@code NFQA_CFG_F_GSO} is off, {@code
 * nfqnl_enqueue_packet} in net/netfilter/nfnetlink_queue.c), in practice loopback alone; so the tap
 * binds to that interface when it is the only one. With segment offload (GRO packets on any
 * interface), or several such interfaces, it binds to all. An interface that reaches that MTU after
 * the host opened is covered from the first truncated packet the tap misses: that packet is lost
 * (counted, as before), and the tap widens to every interface for good ({@link #complete}).
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
  private int boundIndex;

  private JumboTap(int fd, int boundIndex) {
    this.fd = fd;
    this.boundIndex = boundIndex;
    for (int i = 0; i < SLOTS; i++) {
      slots[i] = Native.allocate(MAX + 1);
      slotAddr[i] = Native.address(slots[i]);
    }
    poll.putInt(0, fd);
    poll.putShort(4, Native.POLLIN);
  }

  /**
   * Where a tap must listen to see every packet longer than 65531 bytes that the namespace can
   * receive now.
   *
   * @param interfaces the namespace's interfaces
   * @param segmentOffload whether the host takes GSO packets whole
   * @return an interface index, or 0 for every interface
   */
  public static int scope(List<NetInterface> interfaces, boolean segmentOffload) {
    if (segmentOffload) {
      return 0;
    }
    int found = 0;
    for (NetInterface i : interfaces) {
      if (i.mtu() >= MIN) {
        if (found != 0) {
          return 0;
        }
        found = i.index();
      }
    }
    // none: nothing can carry one now; listen on the first (loopback), widened at the first miss
    return found != 0 ? found : interfaces.isEmpty() ? 0 : interfaces.get(0).index();
  }

  /**
   * Opens the tap in the calling thread's namespace.
   *
   * @param ifindex the interface to listen on ({@link #scope}), 0 for every interface
   * @return the tap
   * @throws ErrnoException if the packet socket cannot be made
   */
  public static JumboTap open(int ifindex) throws ErrnoException {
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
      bind(fd, ifindex);
    } catch (ErrnoException e) {
      Native.close(fd);
      throw e;
    }
    return new JumboTap(fd, ifindex);
  }

  /** Binds (or binds again: {@code packet_do_bind} moves a bound socket's hook) to an interface. */
  private static void bind(int fd, int ifindex) throws ErrnoException {
    int proto = Short.reverseBytes((short) Native.ETH_P_ALL) & 0xffff;
    ByteBuffer sll = Native.allocate(Native.SIZEOF_SOCKADDR_LL);
    sll.putShort(0, (short) Native.AF_PACKET);
    sll.putShort(2, (short) proto);
    sll.putInt(4, ifindex); // sll_ifindex, host order
    Native.bind(fd, Native.address(sll), Native.SIZEOF_SOCKADDR_LL);
  }

  /**
   * @return the interface index the tap listens on, 0 for every interface
   */
  public synchronized int boundIndex() {
    return boundIndex;
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
    if (boundIndex != 0) {
      // a jumbo packet came through an interface the tap did not listen on (its MTU grew, or it
      // is new): listen everywhere from now on
      try {
        bind(fd, 0);
        boundIndex = 0;
      } catch (ErrnoException e) {
        // stays where it was; later misses try again
      }
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
