package org.divert4j.rawsocket.internal;

import java.util.ArrayDeque;

/**
 * A model of one NFQUEUE queue instance and its reader's netlink socket, as {@code
 * __nfqnl_enqueue_packet} (net/netfilter/nfnetlink_queue.c) and {@code netlink_overrun} / {@code
 * netlink_rcv_wake} (net/netlink/af_netlink.c) behave, with the port's queue line counting every
 * packet sent to it. The reader side feeds an {@link IdGapCounter} as the receive path does.
 */
final class FakeNfqueue {
  private final int maxlen;
  private final int socketCapacity;
  private final boolean failOpen;
  private final ArrayDeque<Integer> socket = new ArrayDeque<>();
  private int idSequence;
  private int queueTotal;
  private boolean congested;
  private boolean errorPending;

  /** The queue line's packet counter. */
  long line;

  /** The kernel's own counters, which /proc would show. */
  long queueDropped;

  long userDropped;
  long failOpenAccepted;

  /** The reader: its id counter and the ENOBUFS reports it received. */
  final IdGapCounter ids = new IdGapCounter();

  long enobufs;
  int held;

  FakeNfqueue(int maxlen, int socketCapacity, boolean failOpen) {
    this.maxlen = maxlen;
    this.socketCapacity = socketCapacity;
    this.failOpen = failOpen;
  }

  /** A packet hits the queue line. */
  void packet() {
    line++;
    if (queueTotal >= maxlen) {
      if (failOpen) {
        failOpenAccepted++;
      } else {
        queueDropped++;
      }
      return;
    }
    int id = ++idSequence;
    if (socket.size() >= socketCapacity) {
      if (!congested) {
        congested = true;
        errorPending = true;
      }
      if (failOpen) {
        failOpenAccepted++;
      } else {
        userDropped++;
      }
      return;
    }
    socket.add(id);
    queueTotal++;
  }

  /**
   * One receive: the pending error first, else a message.
   *
   * @return true if something was received
   */
  boolean receive() {
    boolean got = false;
    if (errorPending) {
      errorPending = false;
      enobufs++;
      got = true;
    } else if (!socket.isEmpty()) {
      ids.seen(socket.poll());
      held++;
      got = true;
    }
    if (socket.isEmpty()) {
      congested = false;
    }
    return got;
  }

  /** Reads until nothing is left. */
  void drain() {
    while (receive()) {
      // read on
    }
  }

  /** The reader gives a verdict for one held packet. */
  void verdict() {
    if (held > 0) {
      held--;
      queueTotal--;
    }
  }

  /** What {@link LaneBacklog#check} sees. */
  int backlog() {
    if (errorPending) {
      return LaneBacklog.ERROR;
    }
    return socket.isEmpty() ? LaneBacklog.IDLE : LaneBacklog.WAITING;
  }

  /** The queue length (NFQA_CFG_QUEUE_MAXLEN). */
  int maxlen() {
    return maxlen;
  }

  /** Everything the kernel lost or accepted in place of the reader. */
  long lost() {
    return queueDropped + userDropped + failOpenAccepted;
  }
}
