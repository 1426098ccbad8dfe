package org.divert4j.rawsocket.internal;

/**
 * The packet ids one NFQUEUE queue has handed to its reader, and the ids it skipped: packets the
 * kernel numbered but could not deliver because the socket buffer was full.
 *
 * <p>In {@code __nfqnl_enqueue_packet} (net/netfilter/nfnetlink_queue.c) a packet that finds the
 * queue full gets no id ({@code queue_dropped++}, or accepted with NFQA_CFG_F_FAIL_OPEN); any other
 * gets {@code entry->id = ++queue->id_sequence} and is then sent with {@code nfnetlink_unicast},
 * all under the queue's lock, so the reader sees ids in increasing order. If the unicast fails
 * (socket buffer full) the id is consumed all the same ({@code queue_user_dropped++}, or accepted
 * with fail-open). A gap of k between two consecutive ids is therefore exactly k packets lost at
 * the unicast. Ids start again at 1 when the queue is bound again ({@code instance_create} zeroes
 * {@code id_sequence}): an id not above the last one starts a new instance.
 *
 * <p>{@link #seen} runs on the receive path under the lane's receive lock: one compare, no
 * allocation. The other methods may be called from any thread; {@link #missed} is exact once read
 * under that lock, racy (a statistics read) otherwise. Ids are 32-bit: the count assumes fewer than
 * 2^32 packets per queue instance (a wrap would read as a rebind).
 */
final class IdGapCounter {
  private long last; // highest id of the current instance, 0 before its first
  private long before; // ids the earlier instances handed out
  private volatile long missed;

  /**
   * Notes a packet message's id.
   *
   * @param id the packet id as the kernel sent it (unsigned 32 bits)
   */
  void seen(int id) {
    long u = id & 0xFFFF_FFFFL;
    if (u > last) {
      if (u != last + 1) {
        missed += u - last - 1;
      }
    } else {
      // a new queue instance: its ids started again at 1
      before += last;
      if (u > 1) {
        missed += u - 1;
      }
    }
    last = u;
  }

  /**
   * @return the ids skipped so far, in every instance: packets lost at the unicast
   */
  long missed() {
    return missed;
  }

  /**
   * @return the ids handed out up to the highest one seen, in every instance (call under the lane's
   *     receive lock)
   */
  long issued() {
    return before + last;
  }
}
