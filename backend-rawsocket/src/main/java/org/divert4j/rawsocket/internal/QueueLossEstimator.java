package org.divert4j.rawsocket.internal;

/**
 * A socket's losses inside NFQUEUE when {@code /proc/net/netfilter/nfnetlink_queue} cannot be read
 * (a service user, docs/deploy.md): derived from the counters of the rule lines that send packets
 * to the socket's queues and the packet ids its lanes saw ({@link IdGapCounter}).
 *
 * <p>In {@code __nfqnl_enqueue_packet} (net/netfilter/nfnetlink_queue.c) every packet that reaches
 * a queue either gets the next id or none: none when the queue is full ({@code queue_dropped}, or
 * accepted with NFQA_CFG_F_FAIL_OPEN), and also in the rare cases that the message cannot be built
 * (no memory) or an unconfirmed conntrack entry is dropped. A packet that got an id and was lost at
 * {@code nfnetlink_unicast} (socket buffer full) shows as a gap in the ids ({@link IdGapCounter}),
 * or, at the end of a burst, as ids above the highest one seen, which only a later packet reveals.
 * So with C(t1) the lines' counter at t1 (since the queues were armed) and I(t2) the ids handed out
 * up to the highest one seen at a later t2 at which the socket was empty, W = C(t1) − I(t2) is a
 * lower bound of the packets that got no id up to t1, plus any such trailing unicast losses; exact
 * once traffic pauses.
 *
 * <p>Trailing unicast losses are told apart by the socket-buffer overflow reports: netlink reports
 * an overflow (ENOBUFS on the next receive, {@code netlink_overrun} in net/netlink/af_netlink.c)
 * once per congestion, which lasts until a receive finds the socket empty ({@code
 * netlink_rcv_wake}). If no overflow was reported since the previous observation of an empty
 * socket, there was none, and W is all no-id losses; otherwise what W holds beyond the no-id losses
 * already known is counted as unicast losses, so that their sum stays right while the split is
 * approximate (a later quiet observation gives the no-id count the rest of the exact sum). Both are
 * published as running maxima: they never fall, their sum is a lower bound of the losses under
 * continuing traffic, and it is exact once the socket has been read empty after traffic paused.
 * Without overflows the no-id count alone is such a lower bound, and exact after a pause.
 *
 * <p>Not on the packet path: called by statistics calls. Thread-safe.
 */
final class QueueLossEstimator {
  private final long[] enobufsAtIdle;
  private final long[] suspect; // per lane: -1, or the ids seen when it was read empty after an
  // overflow; until a higher id is seen, ids above it may be unicast losses no gap shows yet
  private long base = -1;
  private long noId;
  private long unicast;

  /**
   * @param lanes the socket's queues
   */
  QueueLossEstimator(int lanes) {
    enobufsAtIdle = new long[lanes];
    suspect = new long[lanes];
    java.util.Arrays.fill(suspect, -1);
  }

  /**
   * Sets the starting point: the lines' counter when the socket's queues were bound and armed.
   * Packets that reached the queues between the arming and this read got ids without being counted
   * here, which only makes the estimate lower.
   *
   * @param counter the lines' counter ({@link QueueLineCounter#total}), or -1 if unknown (nothing
   *     is then derived)
   */
  synchronized void armed(long counter) {
    base = counter;
  }

  /**
   * @return true once {@link #armed} was given a counter
   */
  synchronized boolean active() {
    return base >= 0;
  }

  /**
   * One observation: the lines' counter read first, then, with every lane's receive lock held, the
   * lanes' ids and what waits unread in them.
   *
   * <p>A lane is quiet if it reported no overflow since it was last seen empty, and any overflow
   * before has been followed by an id received after that empty moment (which makes the ids lost at
   * the overflow's end a gap). While all lanes are quiet the ids above the highest seen all belong
   * to packets still in the queue, at most {@code unread} of them (the queue's length less the
   * packets the program holds; the caller checks that no overflow report is pending), and the
   * losses are at least the counter less the ids: exactly that once read empty after a pause.
   *
   * @param counter the lines' counter read before the locks were taken, or -1 if unknown
   * @param issued per lane, the ids handed out up to the highest seen ({@link IdGapCounter#issued})
   * @param missed per lane, the ids skipped ({@link IdGapCounter#missed})
   * @param enobufs per lane, the overflow reports received
   * @param idle whether every lane was read empty (nothing received undecoded, no message waiting)
   * @param unread if not idle, at most how many packets with an id wait unread (read after the
   *     locks were taken); ignored if idle
   */
  synchronized void observe(
      long counter, long[] issued, long[] missed, long[] enobufs, boolean idle, long unread) {
    if (base < 0 || counter < 0) {
      return;
    }
    long ids = 0;
    long gaps = 0;
    boolean quiet = true;
    for (int i = 0; i < issued.length; i++) {
      ids += issued[i];
      gaps += missed[i];
      if (suspect[i] >= 0 && issued[i] > suspect[i]) {
        suspect[i] = -1;
      }
      quiet &= enobufs[i] == enobufsAtIdle[i] && suspect[i] < 0;
    }
    long w = counter - base - ids - (idle ? 0 : unread);
    unicast = Math.max(unicast, gaps);
    if (quiet) {
      // what the unicast count does not hold got no id
      noId = Math.max(noId, w + gaps - unicast);
    } else if (idle) {
      // w may hold unicast losses at the end of an overflow that no later id has revealed yet
      unicast = Math.max(unicast, gaps + w - noId);
    }
    if (idle) {
      for (int i = 0; i < issued.length; i++) {
        if (enobufs[i] != enobufsAtIdle[i]) {
          suspect[i] = issued[i];
          enobufsAtIdle[i] = enobufs[i];
        }
      }
    }
  }

  /**
   * The losses now, written to {@code out}: {packets that got no id (queue full), packets lost at
   * the unicast (socket buffer full)}.
   *
   * @param missed the ids the lanes skipped so far, summed (read racily is fine)
   * @param out where to write, length 2
   */
  synchronized void losses(long missed, long[] out) {
    unicast = Math.max(unicast, missed);
    out[0] = noId;
    out[1] = unicast;
  }
}
