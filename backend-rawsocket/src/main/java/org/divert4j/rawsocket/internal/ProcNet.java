package org.divert4j.rawsocket.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.divert4j.DivertException;

/**
 * The /proc counters of one network namespace that the backend reads: the NFQUEUE queue table
 * ({@code /proc/net/netfilter/nfnetlink_queue}: queue number, portid, queue_total, copy mode, copy
 * range, queue_dropped, user_dropped, id_sequence, 1; net/netfilter/nfnetlink_queue.c, {@code
 * seq_show}) and the IP reassembly counters of {@code /proc/net/snmp} and {@code
 * /proc/net/netstat}. Read through {@code /proc/thread-self/net} on the namespace's thread, which
 * shows that thread's namespace. Thread-safe.
 */
final class ProcNet {
  private final NsThread ns;

  ProcNet(NsThread ns) {
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
  static Set<Integer> bound(NsThread ns) throws IOException {
    Set<Integer> s = new HashSet<>();
    for (long[] row : queueTable(ns)) {
      s.add((int) row[0]);
    }
    return s;
  }

  private static List<long[]> queueTable(NsThread ns) throws IOException {
    try {
      return ns.call(
          () -> {
            List<long[]> rows = new ArrayList<>();
            Path p = Path.of("/proc/thread-self/net/netfilter/nfnetlink_queue");
            if (!Files.exists(p)) {
              return rows;
            }
            for (String line : Files.readAllLines(p)) {
              String[] f = line.trim().split("\\s+");
              if (f.length >= 8) {
                long[] row = new long[f.length];
                for (int i = 0; i < f.length; i++) {
                  row[i] = Long.parseLong(f[i]);
                }
                rows.add(row);
              }
            }
            return rows;
          });
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
      for (long[] row : queueTable(ns)) {
        if (row[0] == queue) {
          return new long[] {row[2], row[5], row[6], row[7]};
        }
      }
    } catch (IOException | RuntimeException e) {
      // unknown
    }
    return null;
  }

  /**
   * @return ReasmTimeout, ReasmOKs, ReasmFails (Ip in snmp) and ReasmOverlaps (IpExt in netstat) of
   *     the namespace, all 0 if they cannot be read
   */
  long[] reassembly() {
    try {
      return ns.call(
          () -> {
            long[] r = new long[4];
            long[] ip =
                counters(
                    "/proc/thread-self/net/snmp", "Ip:", "ReasmTimeout", "ReasmOKs", "ReasmFails");
            System.arraycopy(ip, 0, r, 0, 3);
            r[3] = counters("/proc/thread-self/net/netstat", "IpExt:", "ReasmOverlaps")[0];
            return r;
          });
    } catch (DivertException | RuntimeException e) {
      return new long[4];
    }
  }

  private static long[] counters(String file, String prefix, String... names) throws IOException {
    long[] out = new long[names.length];
    List<String> lines = Files.readAllLines(Path.of(file));
    for (int i = 0; i + 1 < lines.size(); i++) {
      if (lines.get(i).startsWith(prefix) && lines.get(i + 1).startsWith(prefix)) {
        List<String> k = List.of(lines.get(i).split("\\s+"));
        String[] v = lines.get(i + 1).split("\\s+");
        for (int n = 0; n < names.length; n++) {
          int at = k.indexOf(names[n]);
          out[n] = at > 0 && at < v.length ? Long.parseLong(v[at]) : 0;
        }
        return out;
      }
    }
    return out;
  }
}
