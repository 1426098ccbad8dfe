package org.divert4j.rawsocket.internal;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import org.divert4j.DropReason;
import org.divert4j.SocketStats;

/**
 * A socket's counters and the arithmetic that turns them, the kernel's per-queue counters and the
 * host's rule counters into {@link SocketStats}, while the socket runs and once when it closes.
 *
 * <p>Receive counters are atomic (several receiving threads); send counters are written under the
 * socket's send lock. {@link #stats} reads them racily, which is what a statistics call allows.
 */
final class SocketLedger {
  private final AtomicLong received = new AtomicLong();
  private final AtomicLong receivedBytes = new AtomicLong();
  private long reinjected;
  private long injected;
  private long sentBytes;
  private final AtomicLongArray drops = new AtomicLongArray(DropReason.values().length);
  private volatile long queuedAtBind = -1;

  void received(int len) {
    received.incrementAndGet();
    receivedBytes.addAndGet(len);
  }

  /** A held packet was written back (send lock held). */
  void reinjected(int len) {
    reinjected++;
    sentBytes += len;
  }

  /** A new packet was injected (send lock held). */
  void injected(int len) {
    injected++;
    sentBytes += len;
  }

  void drop(DropReason r) {
    drops.incrementAndGet(r.ordinal());
  }

  void drop(DropReason r, long n) {
    drops.addAndGet(r.ordinal(), n);
  }

  /**
   * @param packets the port's no-listener lines' packet count when the socket was bound (for the
   *     fail-open arithmetic)
   */
  void queuedAtBind(long packets) {
    queuedAtBind = packets;
  }

  /**
   * The statistics now.
   *
   * @param proc the sum over the socket's queues of {queue_total, queue_dropped, user_dropped} from
   *     /proc/net/netfilter/nfnetlink_queue, or null if unknown
   * @param queuedNow the packets the port's queue lines have sent to its queues so far (fail-open
   *     only), or -1
   * @param held {held kernel packets, held synthetic fragments}
   * @param enobufs the ENOBUFS the lanes saw
   * @param messages the packet messages the lanes received
   */
  SocketStats stats(long[] proc, long queuedNow, long[] held, long enobufs, long messages) {
    return stats(proc, queuedNow, held, enobufs, messages, null, false);
  }

  /**
   * The statistics now, with the losses derived without /proc when it cannot be read.
   *
   * @param proc as {@link #stats(long[], long, long[], long, long)}; when not null, {@code derived}
   *     is ignored (the kernel's own counters are exact)
   * @param queuedNow as there
   * @param held as there
   * @param enobufs as there
   * @param messages as there
   * @param derived {packets that got no id, packets lost at the unicast} from {@link
   *     QueueLossEstimator#losses}, or null if not derived
   * @param failOpenSet whether the queues were bound with NFQA_CFG_F_FAIL_OPEN: then the kernel
   *     accepted what {@code derived} counts, instead of dropping it
   */
  SocketStats stats(
      long[] proc,
      long queuedNow,
      long[] held,
      long enobufs,
      long messages,
      long[] derived,
      boolean failOpenSet) {
    long[] d = new long[drops.length()];
    for (int i = 0; i < d.length; i++) {
      d[i] = drops.get(i);
    }
    long failOpen = 0;
    if (proc != null) {
      d[DropReason.QUEUE_FULL.ordinal()] += proc[1];
      d[DropReason.NO_BUFFER.ordinal()] += Math.max(proc[2], enobufs);
      if (queuedNow >= 0 && queuedAtBind >= 0) {
        // what the queue lines sent that neither reached us nor is in flight nor was dropped by
        // the kernel was accepted by NFQA_CFG_F_FAIL_OPEN
        long inFlight = Math.max(0, proc[0] - held[0]);
        failOpen = Math.max(0, queuedNow - queuedAtBind - messages - inFlight - proc[1] - proc[2]);
      }
    } else if (derived != null) {
      // __nfqnl_enqueue_packet (net/netfilter/nfnetlink_queue.c): with NFQA_CFG_F_FAIL_OPEN a
      // full queue and a failed unicast both accept the packet; without, both drop it
      if (failOpenSet) {
        failOpen = derived[0] + derived[1];
      } else {
        d[DropReason.QUEUE_FULL.ordinal()] += derived[0];
        // each ENOBUFS report stands for at least one lost packet
        d[DropReason.NO_BUFFER.ordinal()] += Math.max(derived[1], enobufs);
      }
    } else {
      d[DropReason.NO_BUFFER.ordinal()] += enobufs;
    }
    return new SocketStats(
        received.get(),
        receivedBytes.get(),
        reinjected,
        injected,
        sentBytes,
        failOpen,
        held[0] + held[1],
        d);
  }

  /**
   * The final statistics of a closing socket: everything the kernel still holds (delivered or not)
   * and every held fragment is dropped as CLOSED (S14), except what the no-listener lines put in
   * the queue after the disarm: the packets those lines counted, less those the queue then refused
   * as full or for want of socket buffer (net/netfilter/nfnetlink_queue.c, {@code
   * __nfqnl_enqueue_packet}); those are the host's (NO_LISTENER).
   *
   * @param s the statistics at the disarm
   * @param atDisarm the /proc counters at the disarm, or null
   * @param atClose the /proc counters just before the queues close, or null
   * @param noListenerBefore the port's DROP no-listener line count just before the disarm, or -1
   * @param noListenerAfter that count just before the queues close, or -1
   * @param synthetic the held synthetic fragments
   */
  static SocketStats closed(
      SocketStats s,
      long[] atDisarm,
      long[] atClose,
      long noListenerBefore,
      long noListenerAfter,
      long synthetic) {
    long[] d = new long[DropReason.values().length];
    for (DropReason r : DropReason.values()) {
      d[r.ordinal()] = s.dropped(r);
    }
    long lost;
    if (atClose != null && atDisarm != null) {
      long late = 0;
      if (noListenerAfter >= 0 && noListenerBefore >= 0) {
        late =
            (noListenerAfter - noListenerBefore)
                - (atClose[1] - atDisarm[1])
                - (atClose[2] - atDisarm[2]);
      }
      lost = Math.max(0, atClose[0] - Math.max(0, late));
    } else {
      lost = atClose != null ? atClose[0] : s.held() - synthetic;
    }
    d[DropReason.CLOSED.ordinal()] += lost + synthetic;
    return new SocketStats(
        s.received(),
        s.receivedBytes(),
        s.reinjected(),
        s.injected(),
        s.sentBytes(),
        s.failOpenAccepted(),
        0,
        d);
  }
}
