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
  private long base = -1;
  private long enobufsAtIdle;
  private long noId;
  private long unicast;

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
   * One observation: the lines' counter read first, then, with every lane's receive lock held, each
   * lane's socket seen empty and its received messages all decoded.
   *
   * @param counter the lines' counter read before the locks were taken, or -1 if unknown
   * @param issued the ids handed out up to the highest seen, summed over the lanes
   * @param missed the ids the lanes skipped ({@link IdGapCounter#missed}), summed
   * @param enobufs the overflow reports the lanes received, summed
   */
  synchronized void observe(long counter, long issued, long missed, long enobufs) {
    if (base < 0 || counter < 0) {
      return;
    }
    long w = counter - base - issued;
    unicast = Math.max(unicast, missed);
    if (enobufs == enobufsAtIdle) {
      // no overflow since the socket was last seen empty: no trailing unicast losses, so the
      // losses are exactly w + missed (a lower bound while traffic goes on); what the unicast
      // count does not hold got no id
      noId = Math.max(noId, w + missed - unicast);
    } else {
      // w may hold unicast losses at the end of the overflow that no later id has revealed yet
      unicast = Math.max(unicast, missed + w - noId);
    }
    enobufsAtIdle = enobufs;
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
