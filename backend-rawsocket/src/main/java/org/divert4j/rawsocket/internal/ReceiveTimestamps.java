package org.divert4j.rawsocket.internal;

import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Native;
import org.divert4j.linux.SocketOptions;

/**
 * Keeps the kernel stamping received packets while a host is open, so that NFQUEUE hands each
 * packet's receive time to the program (S75): nfqueue sends NFQA_TIMESTAMP only when {@code
 * skb->tstamp} is set (nfqnl_build_packet_message, net/netfilter/nfnetlink_queue.c), and the
 * receive path sets it only while some socket asked for timestamps ({@code net_enable_timestamp}
 * through {@code SO_TIMESTAMPNS}, net/core/sock.c; net_timestamp_check in net/core/dev.c). One idle
 * UDP socket with that option is enough; it is never bound and never receives. The switch is global
 * to the kernel and costs one clock read per received packet.
 */
final class ReceiveTimestamps implements AutoCloseable {
  /** SO_TIMESTAMPNS (asm-generic/socket.h, SO_TIMESTAMPNS_OLD on 64-bit). */
  private static final int SO_TIMESTAMPNS = 35;

  private final int fd;
  private final java.util.concurrent.atomic.AtomicBoolean closed =
      new java.util.concurrent.atomic.AtomicBoolean();

  private ReceiveTimestamps(int fd) {
    this.fd = fd;
  }

  /**
   * @return the switch, or null when the socket could not be made (timestamps then stay absent)
   */
  static ReceiveTimestamps open() {
    int fd;
    try {
      fd = Native.socket(Native.AF_INET, Native.SOCK_DGRAM, 0, "timestamps");
    } catch (ErrnoException e) {
      return null;
    }
    try {
      SocketOptions.setIntOption(fd, Native.SOL_SOCKET, SO_TIMESTAMPNS, 1);
      return new ReceiveTimestamps(fd);
    } catch (ErrnoException e) {
      Native.close(fd);
      return null;
    }
  }

  /** Closes the socket once; later calls do nothing (a closed descriptor may be reused). */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      Native.close(fd);
    }
  }
}
