package org.divert4j.rawsocket.internal;

import java.io.IOException;
import java.util.Set;
import org.divert4j.DivertException;
import org.divert4j.linux.NetnsThread;
import org.divert4j.linux.ProcNet;

/**
 * The /proc counters of a host's namespace that the backend reads ({@link ProcNet}), read on the
 * namespace's thread, where {@code /proc/thread-self/net} shows that namespace. Thread-safe.
 */
final class NamespaceCounters {
  private final NetnsThread ns;

  NamespaceCounters(NetnsThread ns) {
    this.ns = ns;
  }

  /**
   * @return the NFQUEUE queue numbers bound in the namespace now
   * @throws IOException if they cannot be read
   */
  Set<Integer> bound() throws IOException {
    return bound(ns);
  }

  /**
   * @param ns a thread in the namespace
   * @return the NFQUEUE queue numbers bound in that namespace now
   * @throws IOException if they cannot be read
   */
  static Set<Integer> bound(NetnsThread ns) throws IOException {
    try {
      return ns.call(ProcNet::boundQueues);
    } catch (DivertException e) {
      throw new IOException(e.getMessage(), e);
    }
  }

  /**
   * @param queue a queue number
   * @return {queue_total, queue_dropped, user_dropped, id_sequence} of it, or null if unknown
   */
  long[] queueCounters(int queue) {
    try {
      for (long[] row : ns.call(ProcNet::queueTable)) {
        if (row[ProcNet.QUEUE_NUM] == queue) {
          return new long[] {
            row[ProcNet.QUEUE_TOTAL],
            row[ProcNet.QUEUE_DROPPED],
            row[ProcNet.USER_DROPPED],
            row[ProcNet.ID_SEQUENCE]
          };
        }
      }
    } catch (DivertException | RuntimeException e) {
      // unknown
    }
    return null;
  }

  /**
   * @return ReasmTimeout, ReasmOKs, ReasmFails and ReasmOverlaps of the namespace, all 0 if they
   *     cannot be read
   */
  long[] reassembly() {
    try {
      return ns.call(ProcNet::reassembly);
    } catch (DivertException | RuntimeException e) {
      return new long[4];
    }
  }
}
