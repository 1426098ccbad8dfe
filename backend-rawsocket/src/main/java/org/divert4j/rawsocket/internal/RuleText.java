package org.divert4j.rawsocket.internal;

import java.util.List;
import java.util.Locale;
import org.divert4j.Chain;
import org.divert4j.DivertRule;
import org.divert4j.IpFamily;
import org.divert4j.NoListenerPolicy;

/**
 * The iptables text of divert rules (what {@code iptables-restore} reads). Every divert rule is
 * three lines in its chain's {@code DIVERT4J-<CHAIN>} chain (see {@link Marks}; every mark match
 * and {@code MARK} target is limited to the backend's mask, S74):
 *
 * <pre>
 *   A: MATCH, not in progress on this chain, not injected by port P  -&gt; MARK state=queued(tag)
 *   B: state == queued(tag)                                          -&gt; port chain of P
 *   C: state == resume(tag)                                          -&gt; MARK state=0
 * </pre>
 *
 * The port chain ({@code DIVERT4J-D<P>} for DROP rules, {@code DIVERT4J-P<P>} for PASS_THROUGH)
 * holds {@code NFQUEUE --queue-num P} while a socket is bound to P, and the no-listener action
 * otherwise (counted): NFQUEUE with nobody listening, which drops silently, or for pass-through a
 * phase flip that makes line C resume after the rule, so later rules of the chain still apply
 * (S12). Each line of a rule carries the comment {@code divert4j:<host>:<pid>:<tag>} naming its
 * owner, after the line's matches and right before its target: nf_tables stops at a rule's first
 * expression that fails ({@code nft_do_chain}, net/netfilter/nf_tables_core.c), and on iptables-nft
 * the comment is an nft_compat match ({@code nft_match_large_eval} calling {@code comment_mt},
 * net/netfilter/nft_compat.c), so a packet that a line does not match never runs it. Lines every
 * packet passes whole (the jump from the built-in chain, the port chains' lines) carry none.
 * Stateless.
 */
public final class RuleText {
  /** The comment of shared lines (jumps, chain ends, port chains). */
  public static final String BASE = "divert4j:base";

  /** The comment of port chain lines. */
  public static final String PORT = "divert4j:port";

  /** The comment of the port chain line that counts packets no listener took. */
  public static final String NO_LISTENER = "divert4j:nolistener";

  /** The prefix of every divert4j chain. */
  public static final String CHAIN_PREFIX = "DIVERT4J-";

  /**
   * The owner name of static rules ({@code divert4j:static:0:<tag>}): rules added through {@code
   * KernelRules} that belong to no host and no process, so no dead-owner cleanup removes them.
   */
  public static final String STATIC_OWNER = "static";

  /** The unreferenced raw-table chain whose {@code -m socket} rules enable nf_defrag_ipv4. */
  public static final String DEFRAG_CHAIN = "DIVERT4J-DEFRAG";

  private RuleText() {}

  /**
   * @param c a chain
   * @return the table its divert rules live in while no input rule counts per connection: raw for
   *     input (PREROUTING at priority -300, before any reassembly when nf_defrag_ipv4 is off),
   *     mangle for forward and output
   */
  public static String table(Chain c) {
    return table(c, false);
  }

  /**
   * The table of a chain's divert rules. Hook priorities (include/uapi/linux/netfilter_ipv4.h,
   * {@code enum nf_ip_hook_priorities}; netfilter_ipv6.h has the same values for IPv6):
   * CONNTRACK_DEFRAG -400, RAW -300, CONNTRACK -200, MANGLE -150, NAT_DST -100, FILTER 0. Input
   * rules live in raw PREROUTING, the earliest table, so that a PER_FRAGMENT host sees fragments
   * (nothing reassembles at -400 unless something in the namespace asks for it). A rule with {@code
   * flow.Packets} (S68) cannot work there: conntrack attaches the packet's entry, whose counters
   * connbytes reads, at -200. While a family's input chain holds one, the whole input chain (every
   * host's and static rule, so their order, S43, is kept) lives in mangle PREROUTING instead, after
   * conntrack. Nothing is lost by the move: connbytes has turned conntrack, and with it nf_defrag
   * at -400, on in the namespace, so packets are reassembled before raw as much as before mangle,
   * and no PER_FRAGMENT host can be open there ({@link FragmentProbe}).
   *
   * @param c a chain
   * @param inputCounts whether an input rule of the table's family counts per connection
   * @return "raw" or "mangle"
   */
  public static String table(Chain c, boolean inputCounts) {
    return c == Chain.INPUT && !inputCounts ? "raw" : "mangle";
  }

  /**
   * @param c a chain
   * @return the built-in chain that jumps to it (ipchains meaning: input = PREROUTING, forward =
   *     FORWARD, output = POSTROUTING; INPUT and OUTPUT would see only local traffic, and INPUT
   *     only reassembled datagrams)
   */
  public static String builtin(Chain c) {
    return switch (c) {
      case INPUT -> "PREROUTING";
      case FORWARD -> "FORWARD";
      case OUTPUT -> "POSTROUTING";
    };
  }

  /**
   * @param c a chain
   * @return the divert4j chain holding its rules
   */
  public static String mainChain(Chain c) {
    return CHAIN_PREFIX + c.name();
  }

  /**
   * The jump from the built-in chain (inserted first). It carries no comment: every packet of the
   * namespace passes this line, and on iptables-nft a {@code -m comment} is an nft_compat match
   * that runs ({@code nft_match_large_eval} calling xt_comment's {@code comment_mt}, which returns
   * true) for every packet that reaches it (nf_tables evaluates a rule's expressions in order,
   * {@code nft_do_chain} in net/netfilter/nf_tables_core.c). A bare jump to a chain named {@code
   * DIVERT4J-<CHAIN>} is recognised as divert4j's by its shape ({@link OwnBuiltinLines#isOwn}); the
   * jumps of older versions, {@code -m comment --comment "divert4j:base" -j DIVERT4J-<CHAIN>}
   * ({@link #legacyJump}), still are, and are replaced by this one at the next write.
   *
   * @param c a chain
   * @return the jump
   */
  public static String jump(Chain c) {
    return "-j " + mainChain(c);
  }

  /**
   * @param c a chain
   * @return the jump older versions wrote, with the base comment
   */
  public static String legacyJump(Chain c) {
    return "-m comment --comment \"" + BASE + "\" -j " + mainChain(c);
  }

  /**
   * @param host the owner's host name
   * @param pid the owner's process id
   * @param what the tag, or a word such as {@code defrag}
   * @return the comment
   */
  public static String comment(String host, long pid, String what) {
    return "divert4j:" + host + ":" + pid + ":" + what;
  }

  /**
   * @param tag the rule's tag
   * @return the owner comment of a static rule, {@code divert4j:static:0:<tag>} (pid 0: owned by no
   *     process)
   */
  public static String staticComment(int tag) {
    return comment(STATIC_OWNER, 0, Integer.toString(tag));
  }

  /**
   * @param host the owner's host name from a comment
   * @return true if it names the static owner
   */
  public static boolean isStatic(String host) {
    return STATIC_OWNER.equals(host);
  }

  /**
   * @param v a value
   * @return it as iptables prints it, e.g. {@code 0x8010000}
   */
  public static String hex(int v) {
    return "0x" + Integer.toHexString(v);
  }

  /**
   * @param policy the no-listener policy
   * @param port the divert port
   * @param queues the number of queues (parallelism)
   * @return the port chain's name
   */
  public static String portChain(NoListenerPolicy policy, int port, int queues) {
    return CHAIN_PREFIX
        + (policy == NoListenerPolicy.DROP ? "D" : "P")
        + port
        + (queues > 1 ? "-" + queues : "");
  }

  /**
   * The lines of a port chain.
   *
   * @param marks the mark layout
   * @param chainName a name made by {@link #portChain}
   * @param armed true while a socket is bound to the port
   * @return the rule texts, in order (without {@code -A CHAIN})
   */
  public static List<String> portChainLines(Marks marks, String chainName, boolean armed) {
    return portChainLines(marks, chainName, armed, false);
  }

  /**
   * The lines of a port chain, for a port that a diverting socket ({@code armed}) or a sniffer
   * ({@code sniffed}) may serve. A sniffer's chain copies the packet to the NFLOG group of the port
   * (nfnetlink_log; the NFLOG target returns XT_CONTINUE, net/netfilter/xt_NFLOG.c) instead of the
   * NFQUEUE jump, then clears the state and returns before the no-listener line: the packet goes on
   * after line B of its rule with the mark that line C would have left (S71, S72), and line C does
   * not match. Clearing here rather than flipping the phase for line C spares each copied packet
   * one matching line (on iptables-nft its comment match and MARK target are each an nft_compat
   * call: the rule lines, not the copy, are most of a sniffer's cost under a flood,
   * docs/performance.md). Without a bound group (a sniffer that was killed) NFLOG logs nothing
   * ({@code nfulnl_log_packet} finds no instance) and the packet goes on all the same.
   *
   * @param marks the namespace's mark layout
   * @param chainName a name made by {@link #portChain}
   * @param armed true while a diverting socket is bound to the port
   * @param sniffed true while a sniffer is bound to the port (ignored if {@code armed})
   * @return the rule texts, in order (without {@code -A CHAIN})
   */
  public static List<String> portChainLines(
      Marks marks, String chainName, boolean armed, boolean sniffed) {
    if (sniffed && !armed) {
      int port = portOfChain(chainName);
      List<String> lines = new java.util.ArrayList<>();
      lines.add("-j NFLOG --nflog-group " + port);
      lines.add("-j MARK --set-xmark 0x0/" + hex(marks.stateMask()));
      lines.add("-j RETURN");
      lines.addAll(portChainLines(marks, chainName, false, false));
      return List.copyOf(lines);
    }
    String rest = chainName.substring(CHAIN_PREFIX.length());
    boolean drop = rest.charAt(0) == 'D';
    int dash = rest.indexOf('-');
    int port = Integer.parseInt(dash < 0 ? rest.substring(1) : rest.substring(1, dash));
    int queues = dash < 0 ? 1 : Integer.parseInt(rest.substring(dash + 1));
    String target =
        queues > 1
            ? "-j NFQUEUE --queue-balance " + port + ":" + (port + queues - 1)
            : "-j NFQUEUE --queue-num " + port;
    // DROP: NFQUEUE without a listener frees the packet silently, as a DENY would, and a local
    // sender sees no error (an iptables DROP would make its send fail with EPERM); a socket that
    // binds before the chain is re-armed gets the packet at once. PASS_THROUGH: the phase flip
    // makes line C resume after the rule.
    String noListener = drop ? target : "-j MARK --set-xmark " + hex(marks.phaseBit()) + "/0x0";
    if (!armed) {
      return List.of(noListener);
    }
    // NFQUEUE is terminal; the no-listener line stays after it so its counter survives re-arming.
    // With DROP both lines read the same; the writer keeps counters by chain and text, and the
    // last line of a text wins (RuleSet.parse), so each line gets the no-listener line's count
    // back: right for the no-listener line, and the listener line's own count is read nowhere.
    // With PASS_THROUGH, --queue-bypass covers a listener that died without disarming (crash).
    return List.of(target + (drop ? "" : " --queue-bypass"), noListener);
  }

  /**
   * Whether line i of a port chain passes packets to a listener (the NFQUEUE line of an armed
   * chain, a sniffer's lines). The lines this version writes carry no comment, since each packet
   * sent to the port passes them and a comment is an nft_compat call on iptables-nft ({@link
   * #jump}); the chain is divert4j's alone and written whole, so the last line is the no-listener
   * line and every line before it a listener's. Older versions' lines carry {@link #PORT} or {@link
   * #NO_LISTENER}.
   *
   * @param chain the lines of a port chain, in order
   * @param i an index into them
   * @return true for a listener's line
   */
  static boolean isListenerLine(List<RuleLine> chain, int i) {
    RuleLine l = chain.get(i);
    return l.comment == null ? i < chain.size() - 1 : PORT.equals(l.comment);
  }

  /**
   * Whether line i of a port chain is its no-listener line, whose counter counts what no listener
   * took ({@link #isListenerLine}).
   *
   * @param chain the lines of a port chain, in order
   * @param i an index into them
   * @return true for the no-listener line
   */
  static boolean isNoListenerLine(List<RuleLine> chain, int i) {
    RuleLine l = chain.get(i);
    return l.comment == null ? i == chain.size() - 1 : NO_LISTENER.equals(l.comment);
  }

  /**
   * @param port a port chain name
   * @return the divert port it serves, or -1 if it is not a port chain name
   */
  public static int portOfChain(String port) {
    if (!port.startsWith(CHAIN_PREFIX)) {
      return -1;
    }
    String rest = port.substring(CHAIN_PREFIX.length());
    if (rest.isEmpty() || (rest.charAt(0) != 'D' && rest.charAt(0) != 'P')) {
      return -1;
    }
    int dash = rest.indexOf('-');
    try {
      return Integer.parseInt(dash < 0 ? rest.substring(1) : rest.substring(1, dash));
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /**
   * @param port a port chain name
   * @return the NFQUEUE queues it spreads over (1 unless the rule's host uses parallelism), or 0 if
   *     it is not a port chain name
   */
  public static int queuesOfChain(String port) {
    if (portOfChain(port) < 0) {
      return 0;
    }
    String rest = port.substring(CHAIN_PREFIX.length());
    int dash = rest.indexOf('-');
    try {
      return dash < 0 ? 1 : Integer.parseInt(rest.substring(dash + 1));
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  /**
   * @param port a port chain name
   * @return the no-listener policy it implements ({@code D}: DROP, {@code P}: PASS_THROUGH), or
   *     null if it is not a port chain name
   */
  public static NoListenerPolicy policyOfChain(String port) {
    if (portOfChain(port) < 0) {
      return null;
    }
    return port.charAt(CHAIN_PREFIX.length()) == 'D'
        ? NoListenerPolicy.DROP
        : NoListenerPolicy.PASS_THROUGH;
  }

  /**
   * The three lines of a divert rule (without {@code -A CHAIN}).
   *
   * @param marks the mark layout
   * @param r the rule
   * @param tag its tag (1..{@link Marks#maxTag})
   * @param comment its owner comment
   * @param portChain the port chain its packets go to
   * @return lines A, B and C
   */
  public static List<String> ruleLines(
      Marks marks, DivertRule r, int tag, String comment, String portChain) {
    return ruleLines(marks, r, tag, comment, portChain, IpFamily.IPV4);
  }

  /**
   * The three lines of a divert rule for one family's table.
   *
   * @param marks the mark layout
   * @param r the rule
   * @param tag its tag
   * @param comment its owner comment
   * @param portChain the port chain its packets go to
   * @param family the table's family
   * @return lines A, B and C
   */
  public static List<String> ruleLines(
      Marks marks, DivertRule r, int tag, String comment, String portChain, IpFamily family) {
    Chain c = r.chain();
    String com = "-m comment --comment \"" + comment + "\" ";
    String state = "/" + hex(marks.stateMask());
    // cheapest test first, all but the filter's native on iptables-nft: the rule's protocol and
    // ports, then the mark tests (a packet this rule diverted comes back through line A after
    // NF_REPEAT with its chain bits set, and fails here without running the filter again), then the
    // filter's compat matches (xt_connbytes, xt_bpf), then the owner comment
    String m = RuleMatch.nativeMatch(r);
    String f = RuleMatch.filterMatches(r, family);
    String a =
        (m.isEmpty() ? "" : m + " ")
            + "-m mark ! --mark "
            + hex(marks.chainBits(c))
            + "/"
            + hex(marks.chainMask())
            + " -m mark ! --mark "
            + hex(marks.injector(r.port()))
            + "/"
            + hex(marks.injectorMask())
            + " "
            + (f.isEmpty() ? "" : f + " ")
            + com
            + "-j MARK --set-xmark "
            + hex(marks.queued(c, tag))
            + state;
    String b =
        "-m mark --mark " + hex(marks.queued(c, tag)) + state + " " + com + "-j " + portChain;
    String cc =
        "-m mark --mark "
            + hex(marks.resume(c, tag))
            + state
            + " "
            + com
            + "-j MARK --set-xmark 0x0"
            + state;
    return List.of(a, b, cc);
  }

  /**
   * The last line of a main chain: clears the state "resume after rule t of this chain" (t neither
   * 0 nor all ones) that a rule removed while its packet was held leaves behind, so the packet
   * leaves the chain with its mark as it came. It tests chain, phase and a tag that is neither 0
   * nor all ones, so no packet that carries one bit inside the mask, or all of them, matches it
   * (S3), and no bit outside the mask is read or changed.
   *
   * @param marks the mark layout
   * @param c the chain
   * @return the line (without {@code -A CHAIN})
   */
  public static String endLine(Marks marks, Chain c) {
    int resumeAny = marks.chainBits(c) | marks.phaseBit();
    return "-m mark --mark "
        + hex(resumeAny)
        + "/"
        + hex(marks.chainMask() | marks.phaseBit())
        + " -m mark ! --mark "
        + hex(resumeAny)
        + "/"
        + hex(marks.stateMask())
        + " -m mark ! --mark "
        + hex(marks.stateMask() & ~marks.chainMask() | marks.chainBits(c))
        + "/"
        + hex(marks.stateMask())
        + " -m comment --comment \""
        + BASE
        + "\" -j MARK --set-xmark 0x0/"
        + hex(marks.stateMask());
  }

  /**
   * The line that makes nf_defrag_ipv4 active in the namespace for an ALWAYS_DEFRAGMENT host: the
   * xt_socket match enables defragmentation when the rule is added ({@code nf_defrag_ipv4_enable}
   * in its checkentry) without enabling connection tracking; the rule sits in an unreferenced
   * chain, so it never runs.
   *
   * @param comment the owner comment
   * @return the line (without {@code -A CHAIN})
   */
  public static String defragLine(String comment) {
    return "-m socket --nowildcard -m comment --comment \"" + comment + "\" -j RETURN";
  }

  /**
   * @param comment a comment
   * @return a line that only carries the comment, for state kept in the firewall
   */
  public static String markerLine(String comment) {
    return "-m comment --comment \"" + comment + "\" -j RETURN";
  }

  /**
   * @param s any text
   * @return it lower-cased, for comparisons
   */
  static String lower(String s) {
    return s.toLowerCase(Locale.ROOT);
  }
}
