package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;
import org.divert4j.DivertException;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Errors;
import org.divert4j.linux.MmsgVector;
import org.divert4j.linux.Native;
import org.divert4j.linux.PollFds;
import org.divert4j.linux.SocketOptions;

/**
 * One NFQUEUE queue over one {@code NETLINK_NETFILTER} socket: configuration, batched receive
 * ({@code recvmmsg} into reusable direct buffers) and coalesced verdicts (many messages, one {@code
 * send}, to the kernel). A second descriptor, an eventfd, wakes a receiver blocked in {@code poll}
 * (several queues) when the channel closes.
 *
 * <p>A receive that may wait blocks in {@code recvmmsg} itself ({@code MSG_WAITFORONE}, the wait
 * bounded by {@code SO_RCVTIMEO}), not in {@code poll} followed by {@code recvmmsg}: one system
 * call and one wake-up fewer between a packet's arrival and its verdict (issue 7, latency). To wake
 * such a receiver, {@link #shutdown()} sends the kernel an {@code NLMSG_NOOP} request with {@code
 * NLM_F_ACK} on the same socket: {@code netlink_rcv_skb} acknowledges control messages without
 * handing them to nfnetlink ("Skip control messages ... goto ack", net/netlink/af_netlink.c), and
 * the ack lands in this socket's receive queue, which ends the wait; {@link #next} skips the ack
 * (error 0). If the receive buffer is full the ack is lost, but then the receiver is not waiting
 * (or {@code netlink_overrun} wakes it with ENOBUFS).
 *
 * <p>Closing the socket makes the kernel destroy the queue instance, which drops every packet still
 * queued or held ({@code nfqnl_rcv_nl_event} on NETLINK_URELEASE, then {@code nfqnl_flush} with
 * NF_DROP): S14.
 *
 * <p>Threads: the receive side ({@link #fetch}, {@link #next}) and the transmit side ({@link
 * #txBuffer}, {@link #flush}) are each used by one thread at a time; the owning socket holds a lock
 * per side. {@link #close()} must be called with both locks held.
 */
public final class NfqChannel implements AutoCloseable {
  /** Bytes per receive slot: the largest packet message (65531 payload bytes plus attributes). */
  public static final int RX_SLOT = 65536 + 4096;

  /** Transmit buffer size: room for several verdicts with full-size payloads. */
  public static final int TX_SIZE = 4 * 65536 + 65536;

  private final int queue;
  private final int fd;
  private final int wakeFd;
  private final int batch;
  private final ByteBuffer rx;
  private final long rxAddr;
  private final MmsgVector mmsg;
  private final PollFds polls;
  private final ByteBuffer tx;
  private final long txAddr;
  private final ByteBuffer ctl;
  private final long ctlAddr;
  private int rcvTimeoutMs = -1; // the socket's SO_RCVTIMEO: -1 none (the default: wait for ever)
  private volatile boolean closed;

  // receive cursor: datagrams [dg, received) of the last recvmmsg; the walk is in datagram dg
  private int received;
  private int dg;
  private boolean lastFull;

  private final NfqCodec.Walk walk = new NfqCodec.Walk();
  private long enobufs;

  private NfqChannel(int queue, int fd, int wakeFd, int batch) {
    this.queue = queue;
    this.fd = fd;
    this.wakeFd = wakeFd;
    this.batch = batch;
    rx = Native.allocate(batch * RX_SLOT);
    rxAddr = Native.address(rx);
    mmsg = new MmsgVector(batch, rxAddr, RX_SLOT);
    polls = new PollFds(2);
    polls.set(0, fd, Native.POLLIN);
    polls.set(1, wakeFd, Native.POLLIN);
    tx = Native.allocate(TX_SIZE);
    txAddr = Native.address(tx);
    ctl = Native.allocate(32); // [0, 16) SO_RCVTIMEO's timeval, [16, 32) wake()'s NOOP
    ctlAddr = Native.address(ctl);
  }

  /**
   * Opens a netlink socket in the calling thread's namespace (call it on the namespace thread),
   * without binding a queue yet.
   *
   * @param queue the queue number this channel will serve
   * @param batch receive batch size (recvmmsg vlen)
   * @param rcvbuf the socket receive buffer to ask for (SO_RCVBUFFORCE, else SO_RCVBUF)
   * @return the channel
   * @throws ErrnoException if the socket cannot be made
   */
  public static NfqChannel open(int queue, int batch, int rcvbuf) throws ErrnoException {
    int fd =
        Native.socket(
            Native.AF_NETLINK, Native.SOCK_RAW, Native.NETLINK_NETFILTER, "AF_NETLINK netfilter");
    int wake;
    try {
      wake = Native.eventfd();
    } catch (ErrnoException e) {
      Native.close(fd);
      throw e;
    }
    NfqChannel ch = new NfqChannel(queue, fd, wake, batch);
    try {
      ByteBuffer sa = Native.allocate(Native.SIZEOF_SOCKADDR_NL);
      sa.putShort(0, (short) Native.AF_NETLINK);
      Native.bind(fd, Native.address(sa), Native.SIZEOF_SOCKADDR_NL);
      // A large receive buffer absorbs bursts while the program is busy (peers.md levers). As root
      // SO_RCVBUFFORCE ignores net.core.rmem_max; otherwise the kernel caps SO_RCVBUF silently.
      try {
        SocketOptions.setIntOption(fd, Native.SOL_SOCKET, Native.SO_RCVBUFFORCE, rcvbuf);
      } catch (ErrnoException e) {
        SocketOptions.setIntOption(fd, Native.SOL_SOCKET, Native.SO_RCVBUF, rcvbuf);
      }
      // netlink_sendmsg refuses a send longer than sk_sndbuf - 32 with EMSGSIZE, and one flush may
      // carry the whole transmit buffer: verdicts with payloads of up to 65531 bytes (S69's
      // super-packets) need more than a small net.core.wmem_default gives.
      try {
        SocketOptions.setIntOption(fd, Native.SOL_SOCKET, Native.SO_SNDBUFFORCE, TX_SIZE);
      } catch (ErrnoException e) {
        SocketOptions.setIntOption(fd, Native.SOL_SOCKET, Native.SO_SNDBUF, TX_SIZE);
      }
      // NETLINK_NO_ENOBUFS stays off: an overflow then shows up once as ENOBUFS on receive, which
      // fetch() counts and goes on (S50); the exact number of packets lost is the queue's
      // user_dropped counter in /proc/net/netfilter/nfnetlink_queue.
    } catch (ErrnoException e) {
      ch.closeFds();
      throw e;
    }
    return ch;
  }

  /**
   * @return the queue number
   */
  public int queue() {
    return queue;
  }

  /**
   * @return the netlink descriptor (for polling several channels at once)
   */
  public int fd() {
    return fd;
  }

  /**
   * @return the eventfd that {@link #shutdown()} signals
   */
  public int wakeFd() {
    return wakeFd;
  }

  /**
   * Sends a configuration message and waits for its ack, keeping any packet message that arrives
   * meanwhile for {@link #next}. Call with both locks held, before any receive.
   *
   * @param cmd NFQNL_CFG_CMD_*
   * @param copyRange copy range, or -1
   * @param maxLen queue length, or -1
   * @param flags flags
   * @param mask flag mask
   * @throws ErrnoException the error the kernel answered
   */
  public void configure(int cmd, int copyRange, int maxLen, int flags, int mask)
      throws ErrnoException {
    int seq = (int) (System.nanoTime() & 0x7fffffff) | 1;
    request(
        NfqCodec.config(tx, 0, seq, queue, cmd, copyRange, maxLen, flags, mask),
        seq,
        "NFQUEUE config of queue " + queue);
  }

  /**
   * Binds this channel to the nfnetlink_log group of its number instead of a queue, for a sniffer
   * ({@link NflogCodec#bind}), and waits for the ack. Call before any receive.
   *
   * @param threshold copies per message batch ({@link NflogCodec#threshold})
   * @throws ErrnoException the error the kernel answered (EBUSY or EPERM: the group is taken)
   */
  public void bindLogGroup(int threshold) throws ErrnoException {
    int seq = (int) (System.nanoTime() & 0x7fffffff) | 1;
    request(NflogCodec.bind(tx, 0, seq, queue, threshold), seq, "NFLOG bind of group " + queue);
  }

  /** Sends the request in the transmit buffer and waits for its ack (see {@link #configure}). */
  private void request(int len, int seq, String what) throws ErrnoException {
    long r = Native.send(fd, txAddr, len, 0);
    if (r < 0) {
      throw new ErrnoException(what, Native.errno());
    }
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (true) {
      if (!fetch(1000)) {
        if (System.nanoTime() > deadline) {
          throw new ErrnoException(what + " (no answer)", 110);
        }
        continue;
      }
      // scan everything received for the ack, leaving packet messages in place
      for (int d = dg; d < received; d++) {
        int start = d == dg ? walk.position() : d * RX_SLOT;
        int end = d * RX_SLOT + datagramLength(d);
        for (int o = start; ; ) {
          int mlen = NfqCodec.wholeMessageLength(rx, o, end);
          if (mlen < 0) {
            break;
          }
          if (NfqCodec.messageType(rx, o) == NfqCodec.NLMSG_ERROR
              && mlen >= NfqCodec.ERROR_SIZE
              && NfqCodec.errorSequence(rx, o) == seq) {
            int code = NfqCodec.errorCode(rx, o);
            // neutralise the ack so next() skips it silently
            rx.putShort(o + 4, (short) NfqCodec.NLMSG_NOOP);
            if (code != 0) {
              throw new ErrnoException(what, -code);
            }
            return;
          }
          o += NfqCodec.align(mlen);
        }
      }
      if (received - dg >= batch || System.nanoTime() > deadline) {
        throw new ErrnoException(what + " (ack lost)", 110);
      }
      // the ack is not in this batch and there is room: read more after what we have
      if (!fetchMore(1000) && System.nanoTime() > deadline) {
        throw new ErrnoException(what + " (no answer)", 110);
      }
    }
  }

  /** The received length of datagram {@code d} (msg_len), within its slot whatever it says. */
  private int datagramLength(int d) {
    return Math.min(Math.max(mmsg.received(d), 0), RX_SLOT);
  }

  /**
   * Makes sure received messages are waiting: returns at once if the cursor still has some,
   * otherwise receives a batch, waiting up to {@code timeoutMs} for the first message.
   *
   * @param timeoutMs 0 to poll, -1 to wait until a message arrives or the channel closes
   * @return true if messages are waiting, false on timeout
   * @throws ErrnoException if receiving fails (ENOBUFS is counted, not thrown)
   */
  public boolean fetch(int timeoutMs) throws ErrnoException {
    if (dg < received) {
      return true;
    }
    long deadline = timeoutMs > 0 ? System.nanoTime() + timeoutMs * 1_000_000L : 0;
    while (true) {
      if (closed) {
        return false;
      }
      int flags;
      if (timeoutMs == 0) {
        flags = Native.MSG_DONTWAIT;
      } else {
        int wait;
        if (timeoutMs < 0) {
          wait = -1;
        } else {
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            return false;
          }
          wait = (int) Math.max(1, (left + 999_999) / 1_000_000);
        }
        receiveTimeout(wait);
        flags = Native.MSG_WAITFORONE; // wait for the first message, take what else is there
      }
      int n = Native.recvmmsg(fd, mmsg.address(0), batch, flags);
      if (n > 0) {
        setCursor(0, n);
        return true;
      }
      int e = n < 0 ? Native.errno() : Errors.EAGAIN;
      if (e == Errors.ENOBUFS) {
        enobufs++;
        continue;
      }
      if (e == Errors.EINTR) {
        continue;
      }
      if (e != Errors.EAGAIN) {
        throw new ErrnoException("recvmmsg on queue " + queue, e);
      }
      if (timeoutMs == 0) {
        return false;
      }
      // SO_RCVTIMEO expired (EAGAIN): the loop checks the deadline
    }
  }

  /** Sets SO_RCVTIMEO when it differs from what the socket has; -1 waits for ever. */
  private void receiveTimeout(int ms) throws ErrnoException {
    if (ms == rcvTimeoutMs) {
      return;
    }
    // struct timeval {long tv_sec; long tv_usec}; all zero means no timeout
    ctl.putLong(0, ms < 0 ? 0 : ms / 1000);
    ctl.putLong(8, ms < 0 ? 0 : (ms % 1000) * 1000L);
    SocketOptions.setOption(fd, Native.SOL_SOCKET, Native.SO_RCVTIMEO, ctl, 16);
    rcvTimeoutMs = ms;
  }

  /** Receives more datagrams after the unread ones (config path only). */
  private boolean fetchMore(int timeoutMs) throws ErrnoException {
    int have = received;
    int room = batch - have;
    if (room <= 0) {
      return false;
    }
    polls.poll(1, timeoutMs);
    int n = Native.recvmmsg(fd, mmsg.address(have), room, Native.MSG_DONTWAIT);
    if (n <= 0) {
      int e = Native.errno();
      if (n < 0 && e == Errors.ENOBUFS) {
        enobufs++;
      }
      return false;
    }
    received = have + n;
    return true;
  }

  private void setCursor(int first, int count) {
    received = first + count;
    dg = first;
    startDatagram(first);
    lastFull = count == batch;
  }

  /**
   * @return true if the last receive filled every slot (more may be waiting)
   */
  public boolean lastFull() {
    return lastFull;
  }

  /**
   * @return true if received messages are still unread
   */
  public boolean hasPending() {
    return dg < received;
  }

  /**
   * Decodes the next packet message from what was received, skipping acks, errors (counted) and
   * anything else.
   *
   * @param out where to decode it; its payload offset indexes {@link #rxBuffer()}
   * @return true if a packet was decoded, false when nothing received is left
   */
  public boolean next(NfqPacket out) {
    while (dg < received) {
      if (walk.next(rx, out)) {
        return true;
      }
      advanceDatagram();
    }
    return false;
  }

  private void advanceDatagram() {
    dg++;
    if (dg < received) {
      startDatagram(dg);
    }
  }

  /**
   * @return true if every message received has been decoded ({@link LaneBacklog}); call from the
   *     channel's reader
   */
  boolean allDecoded() {
    return dg >= received
        || (dg == received - 1 && walk.position() >= dg * RX_SLOT + datagramLength(dg));
  }

  /** Points the cursor and the walk at datagram {@code d}. */
  private void startDatagram(int d) {
    int start = d * RX_SLOT;
    walk.reset(start, start + datagramLength(d));
  }

  /**
   * @return the receive buffer that packet offsets index
   */
  public ByteBuffer rxBuffer() {
    return rx;
  }

  /**
   * @return the transmit buffer verdicts are written into
   */
  public ByteBuffer txBuffer() {
    return tx;
  }

  /**
   * Sends the first {@code len} bytes of the transmit buffer (one or more netlink messages).
   *
   * @param len bytes
   * @throws ErrnoException if the kernel refuses the datagram as a whole
   */
  public void flush(int len) throws ErrnoException {
    if (len == 0) {
      return;
    }
    while (true) {
      long r = Native.send(fd, txAddr, len, 0);
      if (r >= 0) {
        return;
      }
      int e = Native.errno();
      if (e != Errors.EINTR) {
        throw new ErrnoException("verdict on queue " + queue, e);
      }
    }
  }

  /**
   * @return how often the socket buffer overflowed (ENOBUFS on receive)
   */
  public long enobufs() {
    return enobufs;
  }

  /**
   * @return how many verdicts the kernel refused (e.g. ENOENT for an unknown id)
   */
  public long kernelErrors() {
    return walk.errors();
  }

  /**
   * @return the errno of the last refused verdict
   */
  public int lastKernelError() {
    return walk.lastError();
  }

  /**
   * Wakes a receiver blocked in {@link #fetch} (in recvmmsg: a netlink NOOP request whose ack the
   * kernel queues to this socket) or in poll over several channels (the eventfd); it sees {@link
   * #isClosed()} afterwards.
   */
  public void wake() {
    Native.signal(wakeFd);
    synchronized (ctl) {
      if (fdsClosed) {
        return; // the number may belong to another descriptor by now
      }
      ctl.putInt(16, NfqCodec.NLMSG_HDRLEN); // nlmsg_len
      ctl.putShort(20, (short) NfqCodec.NLMSG_NOOP);
      ctl.putShort(22, (short) (NfqCodec.NLM_F_REQUEST | NfqCodec.NLM_F_ACK));
      ctl.putInt(24, 0); // seq
      ctl.putInt(28, 0); // pid: the kernel
      Native.send(fd, ctlAddr + 16, NfqCodec.NLMSG_HDRLEN, Native.MSG_DONTWAIT);
    }
  }

  /**
   * Marks the channel closed and wakes receivers; the descriptors stay open until {@link #close()}.
   */
  public void shutdown() {
    closed = true;
    wake();
  }

  /**
   * @return true after {@link #shutdown()} or {@link #close()}
   */
  public boolean isClosed() {
    return closed;
  }

  /** Closes the descriptors: the kernel drops whatever is still queued (S14). Idempotent. */
  @Override
  public void close() {
    closed = true;
    closeFds();
  }

  private volatile boolean fdsClosed;

  private synchronized void closeFds() {
    if (!fdsClosed) {
      fdsClosed = true;
      Native.close(fd);
      Native.close(wakeFd);
    }
  }

  /**
   * Throws if closed.
   *
   * @param what for the message
   * @throws DivertException if closed
   */
  void checkOpen(String what) throws DivertException {
    if (closed) {
      throw new org.divert4j.DivertClosedException(what);
    }
  }
}
