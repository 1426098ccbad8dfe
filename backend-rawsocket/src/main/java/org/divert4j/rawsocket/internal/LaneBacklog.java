package org.divert4j.rawsocket.internal;

import org.divert4j.linux.Native;
import org.divert4j.linux.PollFds;

/**
 * What waits to be read on one lane's NFQUEUE channel, for {@link QueueLossEstimator}: one poll(2)
 * that does not wait ({@code datagram_poll} in net/core/datagram.c: POLLIN for a queued message,
 * POLLERR for a pending error) and the channel's receive cursor. Used under the lane's receive
 * lock; not thread-safe otherwise.
 */
final class LaneBacklog {
  /** Everything the kernel sent has been read. */
  static final int IDLE = 0;

  /** Messages wait, received or still in the socket. */
  static final int WAITING = 1;

  /**
   * An error (ENOBUFS: the socket buffer overflowed) waits to be received, or the channel closed.
   */
  static final int ERROR = 2;

  private final NfqChannel ch;
  private final PollFds poll = new PollFds(1);

  LaneBacklog(NfqChannel ch) {
    this.ch = ch;
    poll.set(0, ch.fd(), Native.POLLIN);
  }

  /**
   * @return {@link #IDLE}, {@link #WAITING} or {@link #ERROR}
   */
  int check() {
    if (ch.isClosed()) {
      return ERROR;
    }
    int n = poll.poll(0);
    if (n < 0 || (poll.revents(0) & ~Native.POLLIN) != 0) {
      return ERROR;
    }
    return n == 0 && ch.allDecoded() ? IDLE : WAITING;
  }
}
