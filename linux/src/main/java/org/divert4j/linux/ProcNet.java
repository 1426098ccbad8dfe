package org.divert4j.linux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Readers of the network namespace's files under {@code /proc/thread-self/net}: they show the
 * namespace of the calling thread, so call them on a {@link NetnsThread} of the namespace wanted.
 * The parsers take the file's lines, so that they can be checked without a kernel. Stateless and
 * thread-safe; each read opens and reads the file once.
 */
public final class ProcNet {
  /** The NFQUEUE instances of the namespace (net/netfilter/nfnetlink_queue.c, seq_show). */
  public static final String QUEUE_TABLE = "/proc/thread-self/net/netfilter/nfnetlink_queue";

  /**
   * The nfnetlink_log instances of the namespace: one line per bound group, "group portid qlen
   * copy_mode copy_range flushtimeout use" (net/netfilter/nfnetlink_log.c, seq_show); mode 0440
   * root, as the queue table.
   */
  public static final String LOG_TABLE = "/proc/thread-self/net/netfilter/nfnetlink_log";

  /** The SNMP MIB counters (Ip:, Icmp:, Udp: ...), net/ipv4/proc.c snmp_seq_show. */
  public static final String SNMP = "/proc/thread-self/net/snmp";

  /** The Linux-specific counters (TcpExt:, IpExt:), net/ipv4/proc.c netstat_seq_show. */
  public static final String NETSTAT = "/proc/thread-self/net/netstat";

  /** The IPv6 SNMP MIB counters, one "name value" line each (net/ipv6/proc.c snmp6_seq_show). */
  public static final String SNMP6 = "/proc/thread-self/net/snmp6";

  /** Column of {@code queue_num} in a queue table row. */
  public static final int QUEUE_NUM = 0;

  /** Column of {@code queue_total}: packets waiting for a verdict. */
  public static final int QUEUE_TOTAL = 2;

  /** Column of {@code queue_dropped}: packets dropped because the queue was full. */
  public static final int QUEUE_DROPPED = 5;

  /** Column of {@code queue_user_dropped}: packets the netlink socket had no room for. */
  public static final int USER_DROPPED = 6;

  /** Column of {@code id_sequence}: the last packet id handed out. */
  public static final int ID_SEQUENCE = 7;

  private ProcNet() {}

  /**
   * The iptables-legacy (x_tables) tables that exist in the calling thread's namespace, from {@code
   * ip_tables_names} or {@code ip6_tables_names} (net/netfilter/x_tables.c, {@code
   * xt_table_seq_show}): the list {@code iptables-legacy-save} dumps when it is given no table, so
   * when it is empty that save prints nothing.
   *
   * @param six true for ip6tables' tables
   * @return the table names, empty if there are none or the file does not exist (no x_tables module
   *     loaded)
   * @throws IOException if the file exists but cannot be read
   */
  public static List<String> legacyTables(boolean six) throws IOException {
    Path p = Path.of("/proc/thread-self/net/" + (six ? "ip6_tables_names" : "ip_tables_names"));
    List<String> out = new ArrayList<>();
    if (!Files.exists(p)) {
      return out;
    }
    for (String line : Files.readAllLines(p)) {
      if (!line.isBlank()) {
        out.add(line.trim());
      }
    }
    return out;
  }

  /**
   * Reads the NFQUEUE table of the calling thread's namespace. Each row is one bound queue: {@code
   * queue_num peer_portid queue_total copy_mode copy_range queue_dropped queue_user_dropped
   * id_sequence 1} (the format of {@code seq_show} in {@code net/netfilter/nfnetlink_queue.c}).
   *
   * @return the rows, empty if the file does not exist (nfnetlink_queue not loaded)
   * @throws IOException if it cannot be read
   */
  public static List<long[]> queueTable() throws IOException {
    Path p = Path.of(QUEUE_TABLE);
    if (!Files.exists(p)) {
      return new ArrayList<>();
    }
    return parseQueueTable(Files.readAllLines(p));
  }

  /**
   * @param lines the lines of an nfnetlink_queue table
   * @return one row of numbers per line of at least 8 columns
   * @throws NumberFormatException if a column is not a number
   */
  public static List<long[]> parseQueueTable(List<String> lines) {
    List<long[]> rows = new ArrayList<>();
    for (String line : lines) {
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
  }

  /**
   * @return the nfnetlink_log groups bound in the calling thread's namespace now (sniffers)
   * @throws IOException if the table cannot be read
   */
  public static Set<Integer> boundLogGroups() throws IOException {
    Path p = Path.of(LOG_TABLE);
    return Files.exists(p) ? parseLogGroups(Files.readAllLines(p)) : new LinkedHashSet<>();
  }

  /**
   * @param lines the lines of an nfnetlink_log table
   * @return the group numbers (first column) of the lines of at least 7 numeric columns
   */
  public static Set<Integer> parseLogGroups(List<String> lines) {
    Set<Integer> s = new LinkedHashSet<>();
    for (String line : lines) {
      String[] f = line.trim().split("\\s+");
      if (f.length >= 7 && f[0].chars().allMatch(Character::isDigit) && !f[0].isEmpty()) {
        s.add(Integer.parseInt(f[0]));
      }
    }
    return s;
  }

  /**
   * @return the NFQUEUE queue numbers bound in the calling thread's namespace now
   * @throws IOException if the table cannot be read
   */
  public static Set<Integer> boundQueues() throws IOException {
    Set<Integer> s = new LinkedHashSet<>();
    for (long[] row : queueTable()) {
      s.add((int) row[QUEUE_NUM]);
    }
    return s;
  }

  /**
   * Reads named counters of one protocol from an SNMP-style file ({@link #SNMP}, {@link #NETSTAT}):
   * a line of names and a line of values, both starting with the same prefix.
   *
   * @param file the file
   * @param prefix e.g. {@code "Ip:"}
   * @param names the counter names, e.g. {@code ReasmFails}
   * @return their values in the order asked, 0 for a name the kernel does not show
   * @throws IOException if the file cannot be read
   */
  public static long[] counters(String file, String prefix, String... names) throws IOException {
    return parseCounters(Files.readAllLines(Path.of(file)), prefix, names);
  }

  /**
   * @param lines the lines of an SNMP-style file
   * @param prefix e.g. {@code "Ip:"}
   * @param names the counter names
   * @return their values in the order asked, 0 for a name not shown
   */
  public static long[] parseCounters(List<String> lines, String prefix, String... names) {
    long[] out = new long[names.length];
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

  /**
   * The IPv4 reassembly counters of the calling thread's namespace.
   *
   * @return {ReasmTimeout, ReasmOKs, ReasmFails} (Ip: in {@link #SNMP}) and ReasmOverlaps (IpExt:
   *     in {@link #NETSTAT})
   * @throws IOException if the files cannot be read
   */
  public static long[] reassembly() throws IOException {
    long[] r = new long[4];
    long[] ip = counters(SNMP, "Ip:", "ReasmTimeout", "ReasmOKs", "ReasmFails");
    System.arraycopy(ip, 0, r, 0, 3);
    r[3] = counters(NETSTAT, "IpExt:", "ReasmOverlaps")[0];
    return r;
  }

  /**
   * The IPv6 reassembly counters of the calling thread's namespace. Linux's nf_defrag_ipv6 counts
   * only its timeouts here ({@code ip6frag_expire_frag_queue} in include/net/ipv6_frag.h adds to
   * ReasmFails and ReasmTimeout; {@code nf_ct_frag6_gather} counts neither overlaps nor queues it
   * could not create), and IPv6 has no overlap counter.
   *
   * @return {Ip6ReasmTimeout, Ip6ReasmOKs, Ip6ReasmFails, 0}, as {@link #reassembly()}
   * @throws IOException if the file cannot be read
   */
  public static long[] reassembly6() throws IOException {
    return parseSnmp6(
        Files.readAllLines(Path.of(SNMP6)), "Ip6ReasmTimeout", "Ip6ReasmOKs", "Ip6ReasmFails", "");
  }

  /**
   * @param lines the lines of {@link #SNMP6}
   * @param names counter names; an empty or missing one reads 0
   * @return their values in that order
   */
  static long[] parseSnmp6(java.util.List<String> lines, String... names) {
    long[] r = new long[names.length];
    for (String line : lines) {
      String[] f = line.trim().split("\\s+");
      if (f.length != 2) {
        continue;
      }
      for (int i = 0; i < names.length; i++) {
        if (!names[i].isEmpty() && names[i].equals(f[0])) {
          try {
            r[i] = Long.parseLong(f[1]);
          } catch (NumberFormatException e) {
            r[i] = 0;
          }
        }
      }
    }
    return r;
  }
}
