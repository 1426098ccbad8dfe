package org.divert4j.rawsocket.internal;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.util.HashSet;
import java.util.Set;
import java.util.function.Supplier;
import org.divert4j.DivertException;
import org.divert4j.linux.NetnsThread;
import org.divert4j.linux.ProcNet;

/**
 * The /proc counters of a host's namespace that the backend reads ({@link ProcNet}), read on the
 * namespace's thread, where {@code /proc/thread-self/net} shows that namespace. Thread-safe.
 */
final class NamespaceCounters {
  private final NetnsThread ns;
  private volatile Supplier<Set<Integer>> ownQueues = Set::of;

  NamespaceCounters(NetnsThread ns) {
    this.ns = ns;
  }

  /**
   * @param queues the queues this host's own sockets have bound now, for {@link #bound(RuleState)}
   */
  void ownQueues(Supplier<Set<Integer>> queues) {
    this.ownQueues = queues;
  }

  /**
   * The NFQUEUE queues bound in the namespace now, as {@code /proc/net/netfilter/nfnetlink_queue}
   * lists them. That file is mode 0440 root (net/netfilter/nfnetlink_queue.c, {@code
   * proc_create_net("nfnetlink_queue", 0440, ...)}), so a service that holds only CAP_NET_ADMIN and
   * CAP_NET_RAW (docs/deploy.md) cannot read it: then the answer is the queues of the port chains
   * that are armed now (another process's bound ports stay as that process armed them) plus this
   * host's own bound queues.
   *
   * <p>The set also holds, negated, the nfnetlink_log groups bound now ({@code -p} for a sniffer on
   * port p: {@link RuleSet#store} arms its port chain with NFLOG). Without access to the file, the
   * groups known are those of the armed chains and of this host's open sniffers; other processes'
   * sniffers' ports stay as they are armed.
   *
   * @param current the namespace's divert4j rules as just loaded
   * @return the bound queue numbers and negated log groups (mutable)
   * @throws IOException if they cannot be read for another reason
   */
  Set<Integer> bound(RuleState current) throws IOException {
    try {
      return bound(ns);
    } catch (IOException e) {
      if (!deniedAccess(e)) {
        throw e;
      }
      Set<Integer> b = new HashSet<>(current.armedQueues());
      b.addAll(ownQueues.get());
      return b;
    }
  }

  private static boolean deniedAccess(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof AccessDeniedException) {
        return true;
      }
    }
    return false;
  }

  /**
   * @param ns a thread in the namespace
   * @return the NFQUEUE queue numbers bound in that namespace now, and the nfnetlink_log groups
   *     (sniffers) negated
   * @throws IOException if they cannot be read
   */
  static Set<Integer> bound(NetnsThread ns) throws IOException {
    try {
      Set<Integer> b = ns.call(ProcNet::boundQueues);
      for (int g : ns.call(ProcNet::boundLogGroups)) {
        b.add(-g);
      }
      return b;
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
   * @return ReasmTimeout, ReasmOKs, ReasmFails and ReasmOverlaps of the namespace, IPv4's and
   *     IPv6's added up (IPv6 has no overlap counter, {@link ProcNet#reassembly6()}); a family's
   *     are 0 if they cannot be read
   */
  long[] reassembly() {
    long[] r = new long[4];
    for (boolean six : new boolean[] {false, true}) {
      try {
        java.util.concurrent.Callable<long[]> read =
            six ? ProcNet::reassembly6 : ProcNet::reassembly;
        long[] f = ns.call(read);
        for (int i = 0; i < r.length; i++) {
          r[i] += f[i];
        }
      } catch (DivertException | RuntimeException e) {
        // that family's counters are unknown
      }
    }
    return r;
  }
}
