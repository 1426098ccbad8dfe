package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.DivertException;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Errors;
import org.divert4j.linux.Native;
import org.divert4j.linux.NetnsThread;
import org.divert4j.linux.SocketOptions;

/**
 * Reads the counters of a namespace's divert4j rules straight from nf_tables over netlink ({@link
 * NftRuleCodec}), for iptables-nft: four dumps (raw and mangle of both families) in the process
 * instead of four iptables-nft-save processes, for the statistics that only count (no-listener
 * drops and passes, packets sent to a port). Each read dumps the tables whole, so nothing is cached
 * and no count is older than the read.
 *
 * <p>What it returns is a {@link RuleState} for {@link RuleCounts} only ({@link
 * RuleState#countsOnly}): every line of divert4j's chains with its packet counter, its comments and
 * its jump, rendered as iptables-nft-save prints those parts ({@code -m comment --comment "..."},
 * {@code -j CHAIN}, {@code -g CHAIN}); the rest of a line (its other matches and targets) is left
 * out, since the counting never reads it. A dump that the rule set's changing interrupted
 * (NLM_F_DUMP_INTR), a message it cannot decode, an error the kernel answers (EPERM without
 * CAP_NET_ADMIN), or no answer within {@link #TIMEOUT_MS} gives no state: the caller reads with
 * iptables-save then, as before.
 *
 * <p>Runs its netlink socket on the namespace's thread (a socket belongs to the namespace of the
 * thread that makes it); one socket per read, closed before it returns. Thread-safe: the buffer is
 * only used on that thread, whose tasks run one at a time.
 */
final class NftCounters {
  /** How long a read waits for each datagram of a dump before it gives up. */
  static final int TIMEOUT_MS = 5000;

  // a dump datagram is at most 32 KiB (netlink_recvmsg caps max_recvmsg_len,
  // net/netlink/af_netlink.c)
  private static final int RX = 64 * 1024;

  private final NetnsThread ns;
  private final boolean six;
  private ByteBuffer buf; // used on the namespace thread only
  private int seq;

  /**
   * @param ns the namespace's thread
   * @param six whether to read the IPv6 (ip6tables) tables as well ({@link RuleSet#ipv6()})
   */
  NftCounters(NetnsThread ns, boolean six) {
    this.ns = ns;
    this.six = six;
  }

  /**
   * Reads the counters.
   *
   * @return the state to count with, or null if netlink could not give an exact one (read with
   *     iptables-save then)
   */
  RuleState read() {
    try {
      return ns.call(this::readHere);
    } catch (DivertException | RuntimeException e) {
      return null;
    }
  }

  /** {@link #read} on the namespace thread. */
  private RuleState readHere() {
    if (buf == null) {
      buf = Native.allocate(RX);
    }
    int fd;
    try {
      fd = Native.socket(Native.AF_NETLINK, Native.SOCK_RAW, Native.NETLINK_NETFILTER, "nftables");
    } catch (ErrnoException e) {
      return null;
    }
    try {
      ByteBuffer sa = Native.allocate(16);
      sa.putShort(0, (short) Native.AF_NETLINK);
      Native.bind(fd, Native.address(sa), Native.SIZEOF_SOCKADDR_NL);
      sa.putLong(0, TIMEOUT_MS / 1000);
      sa.putLong(8, (TIMEOUT_MS % 1000) * 1000L);
      SocketOptions.setOption(fd, Native.SOL_SOCKET, Native.SO_RCVTIMEO, sa, 16);
      RuleState s = state(fd, NftRuleCodec.NFPROTO_IPV4);
      if (s != null && six) {
        s.six = state(fd, NftRuleCodec.NFPROTO_IPV6);
        if (s.six == null) {
          return null;
        }
      }
      return s;
    } catch (ErrnoException e) {
      return null;
    } finally {
      Native.close(fd);
    }
  }

  /** The raw and mangle tables of one family, or null. */
  private RuleState state(int fd, int family) {
    RuleTable raw = table(fd, family, "raw");
    RuleTable mangle = raw == null ? null : table(fd, family, "mangle");
    return mangle == null ? null : RuleState.assemble(raw, mangle, true);
  }

  /** One table's divert4j chains, from one dump; null if the dump was not whole and clean. */
  private RuleTable table(int fd, int family, String name) {
    List<NftRuleCodec.Rule> rules = dump(fd, family, name);
    if (rules == null) {
      return null;
    }
    RuleTable t = new RuleTable(name);
    for (NftRuleCodec.Rule r : rules) {
      // RuleSet.parse leaves out the line iptables-save prints for a bare rule ("-A CHAIN")
      if (r.chain().startsWith(RuleText.CHAIN_PREFIX) && !r.bare()) {
        t.chains.computeIfAbsent(r.chain(), k -> new ArrayList<>()).add(line(r));
      }
    }
    return t;
  }

  /**
   * A rule as a line of iptables-nft-save, with the parts {@link RuleCounts} reads: the counters,
   * the comments (quoted and escaped as {@code xtables_save_string} does) and the jump or goto.
   *
   * @param r a dumped rule
   * @return the line
   */
  static RuleLine line(NftRuleCodec.Rule r) {
    StringBuilder text = new StringBuilder();
    for (String c : r.comments()) {
      text.append("-m comment --comment \"");
      for (int i = 0; i < c.length(); i++) {
        char ch = c.charAt(i);
        if (ch == '"' || ch == '\\' || ch == '\'') {
          text.append('\\');
        }
        text.append(ch);
      }
      text.append("\" ");
    }
    if (r.jump() != null) {
      text.append("-j ").append(r.jump());
    } else if (r.go() != null) {
      text.append("-g ").append(r.go());
    }
    String rule = text.toString().trim();
    return new RuleLine("[" + r.packets() + ":" + r.bytes() + "]", r.chain(), rule);
  }

  /** Dumps one table's rules; null unless the dump ended cleanly. */
  private List<NftRuleCodec.Rule> dump(int fd, int family, String table) {
    int s = ++seq;
    int len = NftRuleCodec.dumpRequest(buf, 0, s, family, table);
    if (Native.send(fd, Native.address(buf), len, 0) != len) {
      return null;
    }
    List<NftRuleCodec.Rule> out = new ArrayList<>();
    while (true) {
      long n = Native.recv(fd, Native.address(buf), RX, Native.MSG_TRUNC);
      if (n < 0 && Native.errno() == Errors.EINTR) {
        continue;
      }
      if (n <= 0 || n > RX) {
        return null; // error, timeout (EAGAIN) or a datagram larger than the buffer
      }
      switch (NftRuleCodec.decode(buf, 0, (int) n, s, table, out)) {
        case DONE:
          return out;
        case MORE:
          break;
        default:
          return null;
      }
    }
  }
}
