package org.divert4j.rawsocket.internal;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.divert4j.Chain;
import org.divert4j.Direction;
import org.divert4j.DivertRule;
import org.divert4j.IpFamily;
import org.divert4j.IpPrefix;
import org.divert4j.Ipv4;
import org.divert4j.Ipv6Addresses;
import org.divert4j.filter.ClassicBpf;
import org.divert4j.filter.Filter;
import org.divert4j.filter.FlowRange;

/**
 * The match part of a divert rule's line A ({@link RuleText}): written from a {@link DivertRule}
 * (protocol, addresses, ports, ICMP type, interfaces, and the filter as xt_connbytes and xt_bpf
 * matches, S67, S68) and read back from what iptables-save prints. Stateless.
 */
public final class RuleMatch {
  /**
   * The start of the comment that carries a rule's filter in canonical form, so that the rule reads
   * back from iptables-save (the BPF bytecode alone could not give the filter back).
   */
  public static final String FILTER_COMMENT = "divert4j-filter ";

  /**
   * Longest filter text a rule carries: a comment holds at most 255 characters ({@code
   * XT_MAX_COMMENT_LEN} 256 with its NUL, include/uapi/linux/netfilter/xt_comment.h).
   */
  public static final int MAX_FILTER_TEXT = 255 - FILTER_COMMENT.length();

  /**
   * Most {@code -m bpf} matches one rule gets; iptables-restore reads a line into a buffer of 10240
   * bytes (iptables-restore.c), and a full match takes about 1000 characters of text.
   */
  public static final int MAX_BPF_MATCHES = 6;

  private static final Pattern BPF_MATCH = Pattern.compile("-m bpf --bytecode \"?[0-9, ]*\"?\\s*");
  private static final Pattern CONNBYTES_MATCH =
      Pattern.compile("-m connbytes(?:\\s+!?\\s*--connbytes(?:-mode|-dir)?\\s+\\S+)+\\s*");
  private static final Pattern FILTER_MATCH =
      Pattern.compile("-m comment --comment \"?" + FILTER_COMMENT + "([^\"]*)\"?\\s*");

  /** Our mark tests on line A ({@link RuleText#ruleLines}). */
  private static final Pattern MARK_TEST =
      Pattern.compile("(^|\\s)-m mark (! )?--mark \\S+(?=\\s|$)");

  /** The owner comment, {@code divert4j:<host>:<pid>:<tag>} (not the filter's comment). */
  private static final Pattern OWNER_COMMENT = Pattern.compile("-m comment --comment \"?divert4j:");

  private RuleMatch() {}

  /**
   * The matches of a rule's filter for the family its addRule checks (S66): IPv6 for a rule of IPv6
   * alone, else IPv4 (a filtered rule of both families goes to ip6tables too when its filter
   * compiles for IPv6, {@link #filterMatches(DivertRule, IpFamily)}, and to iptables alone when
   * not).
   *
   * @param r the rule
   * @return the matches, empty for a rule without filter
   * @throws IllegalArgumentException as {@link #filterMatches(DivertRule, IpFamily)}
   */
  public static String filterMatches(DivertRule r) {
    return filterMatches(
        r, r.family().orElse(IpFamily.IPV4) == IpFamily.IPV6 ? IpFamily.IPV6 : IpFamily.IPV4);
  }

  /**
   * The iptables matches that decide a rule's filter in the kernel (S67): for {@code flow.Packets}
   * (S68) a {@code -m connbytes} match on the connection's packets in both directions, then classic
   * BPF programs in {@code -m bpf} matches (xt_bpf, which runs them on the packet from its IP
   * header, in iptables and ip6tables alike: {@code bpf_mt} in net/netfilter/xt_bpf.c) for the
   * rest, all of which must accept, then the filter's text in a comment. For IPv6 the programs are
   * {@link ClassicBpf#compileIpv6}'s.
   *
   * <p>connbytes reads the counters of the packet's conntrack entry ({@code connbytes_mt} in
   * net/netfilter/xt_connbytes.c: no entry or no accounting extension, no match), which the
   * protocol trackers bump at priority -200 before the mangle rules of forward and output see the
   * packet. Its {@code connbytes_mt_check} calls {@code nf_ct_netns_get}, which turns connection
   * tracking, and with it defragmentation, on in the namespace, and forces {@code
   * net.netfilter.nf_conntrack_acct} on ({@code nf_ct_set_acct}) if it was off: entries made before
   * that carry no counters and never match. Input rules sit in the raw table (priority -300),
   * before conntrack attaches the entry, so while an input rule counts, the input chain lives in
   * mangle ({@link RuleText#table(Chain, boolean)}).
   *
   * @param r the rule
   * @param family the family of the table the line goes to
   * @return the matches, empty for a rule without filter
   * @throws IllegalArgumentException naming the limit, if the filter needs a BPF program longer
   *     than 64 instructions that cannot be split at a top-level {@code and}, more than {@link
   *     #MAX_BPF_MATCHES} matches, or more than {@link #MAX_FILTER_TEXT} characters of text; for
   *     IPv6 also naming a field past the fixed header ({@link ClassicBpf#compileIpv6}); naming the
   *     reason, for {@code flow.Packets} in a term connbytes cannot decide exactly ({@link
   *     FlowRange#split})
   */
  public static String filterMatches(DivertRule r, IpFamily family) {
    Filter f = r.filter();
    if (f == null) {
      return "";
    }
    String text = f.toString();
    if (text.length() > MAX_FILTER_TEXT) {
      throw new IllegalArgumentException(
          "the kernel backend holds filters of at most "
              + MAX_FILTER_TEXT
              + " characters in canonical form (an iptables comment holds 255); this one has "
              + text.length());
    }
    Direction d = r.chain() == Chain.OUTPUT ? Direction.OUTBOUND : Direction.INBOUND;
    StringBuilder sb = new StringBuilder();
    Filter bytes = f;
    if (f.usesFlow()) {
      FlowRange range = FlowRange.split(f);
      sb.append(range.connbytesMatch()).append(' ');
      bytes = range.rest();
    }
    List<List<ClassicBpf.Insn>> programs =
        bytes == null
            ? List.of()
            : family == IpFamily.IPV6
                ? ClassicBpf.compileIpv6(bytes, d, ClassicBpf.XT_BPF_MAX_NUM_INSTR)
                : ClassicBpf.compileIpv4(bytes, d, ClassicBpf.XT_BPF_MAX_NUM_INSTR);
    if (programs.size() > MAX_BPF_MATCHES) {
      throw new IllegalArgumentException(
          "the filter needs "
              + programs.size()
              + " BPF matches of 64 instructions; the kernel backend installs at most "
              + MAX_BPF_MATCHES
              + " per rule");
    }
    for (List<ClassicBpf.Insn> p : programs) {
      sb.append("-m bpf --bytecode \"").append(ClassicBpf.bytecode(p)).append("\" ");
    }
    sb.append("-m comment --comment \"").append(FILTER_COMMENT).append(text).append('"');
    return sb.toString();
  }

  /**
   * The match part of a rule's line A as iptables-save prints it, without our own mark tests and
   * owner comment, e.g. {@code -s 10.0.1.2/32 -p icmp -m icmp --icmp-type 8}, or {@code -p udp -m
   * udp --dport 53 -m bpf --bytecode "..." -m comment --comment "divert4j-filter ..."}. The mark
   * tests stand between the rule's native matches and its filter's matches ({@link
   * RuleText#ruleLines}); lines of versions before 2026-12-07 have them after the filter's. Both
   * read the same.
   *
   * @param lineA the text of line A after {@code -A CHAIN}
   * @return the match text (empty for a rule matching everything)
   */
  public static String matchOf(String lineA) {
    Matcher owner = OWNER_COMMENT.matcher(lineA);
    String m = owner.find() ? lineA.substring(0, owner.start()) : lineA;
    int target = m.indexOf(" -j ");
    if (target >= 0) {
      m = m.substring(0, target);
    }
    return MARK_TEST.matcher(m).replaceAll(" ").trim().replaceAll("\\s+", " ");
  }

  /**
   * Reads a rule back from the match text iptables-save prints for its line A ({@link #matchOf}):
   * the inverse of {@link #match}, up to iptables' ordering and its {@code -m udp|tcp|icmp}
   * modules.
   *
   * @param chain the chain the rule is on
   * @param match the match text
   * @param port the divert port (from the port chain)
   * @return the rule, or null if the text is not one {@link #match} could have written (a line
   *     edited by hand, or by other software)
   */
  public static DivertRule parseMatch(Chain chain, String match, int port) {
    return parseMatch(chain, match, port, null);
  }

  /**
   * Reads a rule back as {@link #parseMatch(Chain, String, int)} does, for a rule found in one
   * family's tables only.
   *
   * @param chain the chain the rule is on
   * @param match the match text
   * @param port the divert port
   * @param only the one family whose tables hold the rule, or null if both do
   * @return the rule, or null if the text is not one {@link #match} could have written
   */
  public static DivertRule parseMatch(Chain chain, String match, int port, IpFamily only) {
    if (port < 1 || port > 65535) {
      return null;
    }
    String filter = null;
    Matcher fm = FILTER_MATCH.matcher(match);
    if (fm.find()) {
      filter = fm.group(1);
      match = match.substring(0, fm.start()) + match.substring(fm.end());
      match = BPF_MATCH.matcher(match).replaceAll("");
      match = CONNBYTES_MATCH.matcher(match).replaceAll("");
    }
    StringBuilder sb = new StringBuilder(chain.keyword());
    if (only != null) {
      sb.append(only == IpFamily.IPV6 ? " -6" : " -4");
    }
    String[] t = match.trim().isEmpty() ? new String[0] : match.trim().split("\\s+");
    for (int i = 0; i < t.length; i++) {
      if (t[i].equals("-m")
          && i + 1 < t.length
          && (t[i + 1].equals("udp")
              || t[i + 1].equals("tcp")
              || t[i + 1].equals("icmp")
              || t[i + 1].equals("icmp6"))) {
        i++; // the protocol's match module: implied by -p
        continue;
      }
      if (t[i].equals("!") || t[i].equals("-m")) {
        return null; // a negation or a match module we never write
      }
      sb.append(' ').append(t[i]);
    }
    if (filter != null) {
      sb.append(" filter \"").append(filter).append('"');
    }
    sb.append(" -j DIVERT ").append(port);
    try {
      return DivertRule.parse(sb.toString());
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /**
   * The match part of a rule in iptables syntax.
   *
   * @param r the rule
   * @return e.g. {@code -p udp -s 10.0.0.0/8 -m udp --dport 53}
   */
  public static String match(DivertRule r) {
    return match(r, IpFamily.IPV4);
  }

  /**
   * The match part of a rule in the syntax of one family's table (its filter's BPF programs are
   * that family's).
   *
   * @param r the rule
   * @param family the table's family
   * @return the match text
   */
  public static String match(DivertRule r, IpFamily family) {
    String f = filterMatches(r, family);
    String m = nativeMatch(r);
    return f.isEmpty() ? m : m.isEmpty() ? f : m + " " + f;
  }

  /**
   * The match part of a rule without its filter: protocol, addresses, interfaces, ports and ICMP
   * type, all of which iptables-nft turns into native nf_tables expressions for {@code -p} and the
   * {@code udp}/{@code tcp} port matches ({@code add_match} in iptables/nft.c; ICMP type is an
   * xt_icmp compat match), cheaper than the filter's xt_bpf and xt_connbytes matches.
   *
   * @param r the rule
   * @return the match text, e.g. {@code -p udp -m udp --dport 53}
   */
  static String nativeMatch(DivertRule r) {
    StringBuilder sb = new StringBuilder();
    int p = r.protocol();
    if (p != DivertRule.ANY_PROTOCOL) {
      sb.append("-p ")
          .append(
              switch (p) {
                case DivertRule.ICMP -> "icmp";
                case DivertRule.ICMPV6 -> "ipv6-icmp"; // ip6tables-save's name for 58
                case DivertRule.TCP -> "tcp";
                case DivertRule.UDP -> "udp";
                default -> Integer.toString(p);
              })
          .append(' ');
    }
    // IpPrefix prints an IPv6 prefix in RFC 5952 form, as ip6tables-save does; an IPv4 one as
    // dotted quad with its length (iptables-save prints /32 too)
    // a prefix of length 0 matches everything, so it is left out, as iptables-save does
    if (r.sourceNetwork().isPresent() && r.sourceNetwork().get().length() > 0) {
      sb.append("-s ").append(prefixText(r.sourceNetwork().get())).append(' ');
    }
    if (r.destinationNetwork().isPresent() && r.destinationNetwork().get().length() > 0) {
      sb.append("-d ").append(prefixText(r.destinationNetwork().get())).append(' ');
    }
    if (r.inInterface() != null) {
      sb.append("-i ").append(r.inInterface()).append(' ');
    }
    if (r.outInterface() != null) {
      sb.append("-o ").append(r.outInterface()).append(' ');
    }
    boolean sport = r.sourcePortLow() != 0 || r.sourcePortHigh() != 65535;
    boolean dport = r.destinationPortLow() != 0 || r.destinationPortHigh() != 65535;
    if (sport || dport) {
      sb.append("-m ").append(p == DivertRule.TCP ? "tcp" : "udp").append(' ');
      if (sport) {
        sb.append("--sport ").append(range(r.sourcePortLow(), r.sourcePortHigh())).append(' ');
      }
      if (dport) {
        sb.append("--dport ")
            .append(range(r.destinationPortLow(), r.destinationPortHigh()))
            .append(' ');
      }
    }
    if (r.icmpType() != DivertRule.ANY_ICMP_TYPE) {
      sb.append(p == DivertRule.ICMPV6 ? "-m icmp6 --icmpv6-type " : "-m icmp --icmp-type ")
          .append(r.icmpType())
          .append(' ');
    }
    return sb.toString().trim();
  }

  private static String prefixText(IpPrefix p) {
    if (p.family() == IpFamily.IPV4) {
      return Ipv4.toString(Ipv4.toInt((java.net.Inet4Address) p.address())) + "/" + p.length();
    }
    return Ipv6Addresses.toText(p.address()) + "/" + p.length();
  }

  private static String range(int lo, int hi) {
    return lo == hi ? Integer.toString(lo) : lo + ":" + hi;
  }
}
