package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The nf_tables rule dump, spoken directly over {@code NETLINK_NETFILTER}: the request for the
 * rules of one table ({@code NFT_MSG_GETRULE} with {@code NLM_F_DUMP} and {@code NFTA_RULE_TABLE}),
 * and the decoding of the {@code NFT_MSG_NEWRULE} messages it answers with into what {@link
 * RuleCounts} reads of an iptables-nft rule: its chain, its packet counter, its comments and the
 * chain it jumps or goes to. See include/uapi/linux/netfilter/nf_tables.h ({@code
 * nft_rule_attributes}, {@code nft_expr_attributes}, {@code nft_counter_attributes}, {@code
 * nft_immediate_attributes}, {@code nft_verdict_attributes}) and net/netfilter/nf_tables_api.c
 * ({@code nf_tables_dump_rules}: the rules of each chain of a table in the chain's order, one
 * message each; {@code nf_tables_fill_rule_info}).
 *
 * <p>What iptables-nft writes (iptables/nft.c): a rule's matches and target are expressions, with a
 * {@code counter} expression among them (its packets and bytes, big-endian u64); a {@code -m
 * comment} is an nft_compat {@code match} expression named {@code comment} whose info is {@code
 * struct xt_comment_info} (a NUL-terminated string; a comment kept in the rule's user data, {@code
 * NFTNL_UDATA_RULE_COMMENT}, as libnftnl writes one, counts as well); {@code -j CHAIN} and {@code
 * -g CHAIN} are an {@code immediate} expression with a {@code NFT_JUMP} or {@code NFT_GOTO} verdict
 * naming the chain.
 *
 * <p>Stateless and thread-safe; the decoder never throws for any content of the bytes it is given
 * (malformed messages are reported as {@link Status#MALFORMED}).
 */
final class NftRuleCodec {
  static final int NFNL_SUBSYS_NFTABLES = 10;
  static final int NFT_MSG_NEWRULE = 6;
  static final int NFT_MSG_GETRULE = 7;
  static final int NLM_F_DUMP_INTR = 0x10;
  static final int NFPROTO_IPV4 = 2;
  static final int NFPROTO_IPV6 = 10;

  static final int NFTA_RULE_TABLE = 1;
  static final int NFTA_RULE_CHAIN = 2;
  static final int NFTA_RULE_EXPRESSIONS = 4;
  static final int NFTA_RULE_USERDATA = 7;
  static final int NFTA_LIST_ELEM = 1;
  static final int NFTA_EXPR_NAME = 1;
  static final int NFTA_EXPR_DATA = 2;
  static final int NFTA_COUNTER_BYTES = 1;
  static final int NFTA_COUNTER_PACKETS = 2;
  static final int NFTA_IMMEDIATE_DATA = 2;
  static final int NFTA_DATA_VERDICT = 2;
  static final int NFTA_VERDICT_CODE = 1;
  static final int NFTA_VERDICT_CHAIN = 2;
  static final int NFTA_MATCH_NAME = 1;
  static final int NFTA_MATCH_INFO = 3;
  static final int NFT_JUMP = -3;
  static final int NFT_GOTO = -4;
  static final int NFTNL_UDATA_RULE_COMMENT = 0;

  /** nla_type without NLA_F_NESTED and NLA_F_NET_BYTEORDER (include/uapi/linux/netlink.h). */
  private static final int NLA_TYPE_MASK = 0x3fff;

  /** What one received datagram said about the dump. */
  enum Status {
    /** Rules (or nothing) and more to come. */
    MORE,
    /** NLMSG_DONE: the dump is complete. */
    DONE,
    /** The rule set changed while it was dumped (NLM_F_DUMP_INTR): the rules read may be mixed. */
    INTERRUPTED,
    /** An NLMSG_ERROR, or bytes that are not the messages expected. */
    MALFORMED
  }

  /**
   * One rule as the dump gives it.
   *
   * @param chain its chain
   * @param packets its counter's packets (0 without a counter, as iptables-nft-save prints it)
   * @param bytes its counter's bytes
   * @param comments its comments, in order
   * @param jump the chain of its {@code -j CHAIN}, or null
   * @param go the chain of its {@code -g CHAIN}, or null
   * @param bare true if it has no expression but its counter (iptables-save prints {@code -A CHAIN}
   *     and nothing after it)
   */
  record Rule(
      String chain,
      long packets,
      long bytes,
      List<String> comments,
      String jump,
      String go,
      boolean bare) {}

  /** What {@link #rule} gives for a rule of another table. */
  private static final Rule SKIP = new Rule("", 0, 0, List.of(), null, null, true);

  private NftRuleCodec() {}

  /**
   * Writes the dump request for the rules of one table of one family; the kernel dumps only that
   * table's rules ({@code nf_tables_dump_rules_start} keeps NFTA_RULE_TABLE in its {@code
   * nft_rule_dump_ctx}, and {@code __nf_tables_dump_rules} skips other tables).
   *
   * @param b a native-order buffer
   * @param off where to write
   * @param seq the sequence number the answers carry
   * @param family {@link #NFPROTO_IPV4} or {@link #NFPROTO_IPV6}
   * @param table e.g. {@code raw}
   * @return the aligned end of the message
   */
  static int dumpRequest(ByteBuffer b, int off, int seq, int family, String table) {
    int p =
        NfqCodec.nfHeader(
            b,
            off,
            (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETRULE,
            NfqCodec.NLM_F_REQUEST | NfqCodec.NLM_F_DUMP,
            seq,
            family,
            0);
    byte[] name = table.getBytes(StandardCharsets.US_ASCII);
    p = NfqCodec.attrHeader(b, p, NFTA_RULE_TABLE, name.length + 1);
    b.put(p, name);
    b.put(p + name.length, (byte) 0);
    return NfqCodec.end(b, off, p + name.length + 1);
  }

  /**
   * Decodes the messages of one received datagram of the dump, keeping the rules of one table.
   *
   * @param b the buffer
   * @param start where the datagram starts
   * @param end where it ends
   * @param seq the sequence number of the request (other messages are malformed here)
   * @param table the table whose rules to keep (older kernels dump every table of the family)
   * @param out where the rules go, in the order of the dump
   * @return what the datagram said
   */
  static Status decode(ByteBuffer b, int start, int end, int seq, String table, List<Rule> out) {
    int o = start;
    while (o < end) {
      int len = NfqCodec.wholeMessageLength(b, o, end);
      if (len < 0 || b.getInt(o + 8) != seq) {
        return Status.MALFORMED;
      }
      int type = NfqCodec.messageType(b, o);
      int flags = b.getShort(o + 6) & 0xffff;
      if ((flags & NLM_F_DUMP_INTR) != 0) {
        return Status.INTERRUPTED;
      }
      if (type == NfqCodec.NLMSG_DONE) {
        return Status.DONE;
      }
      if (type != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE) || len < 20) {
        return Status.MALFORMED; // NLMSG_ERROR among them
      }
      Rule r = rule(b, o + 20, o + len, table);
      if (r == null) {
        return Status.MALFORMED;
      }
      if (r != SKIP) {
        out.add(r);
      }
      o += NfqCodec.align(len);
    }
    return Status.MORE;
  }

  /** One NFT_MSG_NEWRULE's attributes; null if malformed, SKIP if of another table. */
  private static Rule rule(ByteBuffer b, int from, int to, String table) {
    String t = null;
    String chain = null;
    long[] counter = {0, 0, 0}; // packets, bytes, expressions other than the counter
    List<String> comments = new ArrayList<>();
    String[] verdict = new String[2];
    for (int a = from; a < to; ) {
      int alen = attrLength(b, a, to);
      if (alen < 0) {
        return null;
      }
      int type = b.getShort(a + 2) & NLA_TYPE_MASK;
      if (type == NFTA_RULE_TABLE) {
        t = string(b, a + 4, a + alen);
      } else if (type == NFTA_RULE_CHAIN) {
        chain = string(b, a + 4, a + alen);
      } else if (type == NFTA_RULE_EXPRESSIONS) {
        if (!expressions(b, a + 4, a + alen, counter, comments, verdict)) {
          return null;
        }
      } else if (type == NFTA_RULE_USERDATA) {
        userComments(b, a + 4, a + alen, comments);
      }
      a += NfqCodec.align(alen);
    }
    if (t == null || chain == null) {
      return null;
    }
    if (!t.equals(table)) {
      return SKIP;
    }
    return new Rule(
        chain,
        counter[0],
        counter[1],
        List.copyOf(comments),
        verdict[0],
        verdict[1],
        counter[2] == 0);
  }

  /** The NFTA_LIST_ELEMs of NFTA_RULE_EXPRESSIONS. */
  private static boolean expressions(
      ByteBuffer b, int from, int to, long[] counter, List<String> comments, String[] verdict) {
    for (int e = from; e < to; ) {
      int elen = attrLength(b, e, to);
      if (elen < 0 || (b.getShort(e + 2) & NLA_TYPE_MASK) != NFTA_LIST_ELEM) {
        return false;
      }
      String name = null;
      int dataFrom = -1;
      int dataTo = -1;
      for (int a = e + 4; a < e + elen; ) {
        int alen = attrLength(b, a, e + elen);
        if (alen < 0) {
          return false;
        }
        int type = b.getShort(a + 2) & NLA_TYPE_MASK;
        if (type == NFTA_EXPR_NAME) {
          name = string(b, a + 4, a + alen);
        } else if (type == NFTA_EXPR_DATA) {
          dataFrom = a + 4;
          dataTo = a + alen;
        }
        a += NfqCodec.align(alen);
      }
      if (name == null) {
        return false;
      }
      if (!name.equals("counter")) {
        counter[2]++;
      }
      if (dataFrom >= 0 && !expression(b, name, dataFrom, dataTo, counter, comments, verdict)) {
        return false;
      }
      e += NfqCodec.align(elen);
    }
    return true;
  }

  /** The data of one expression: a counter, a comment match or a verdict; others are skipped. */
  private static boolean expression(
      ByteBuffer b,
      String name,
      int from,
      int to,
      long[] counter,
      List<String> comments,
      String[] verdict) {
    String matchName = null;
    String comment = null;
    for (int a = from; a < to; ) {
      int alen = attrLength(b, a, to);
      if (alen < 0) {
        return false;
      }
      int type = b.getShort(a + 2) & NLA_TYPE_MASK;
      switch (name) {
        case "counter" -> {
          if (type == NFTA_COUNTER_PACKETS || type == NFTA_COUNTER_BYTES) {
            if (alen != 12) {
              return false;
            }
            counter[type == NFTA_COUNTER_PACKETS ? 0 : 1] = Long.reverseBytes(b.getLong(a + 4));
          }
        }
        case "match" -> {
          if (type == NFTA_MATCH_NAME) {
            matchName = string(b, a + 4, a + alen);
          } else if (type == NFTA_MATCH_INFO) {
            comment = string(b, a + 4, a + alen);
          }
        }
        case "immediate" -> {
          if (type == NFTA_IMMEDIATE_DATA && !immediate(b, a + 4, a + alen, verdict)) {
            return false;
          }
        }
        default -> {
          // matches and targets the counting never reads
        }
      }
      a += NfqCodec.align(alen);
    }
    if ("comment".equals(matchName)) {
      if (comment == null) {
        return false;
      }
      comments.add(comment);
    }
    return true;
  }

  /** NFTA_IMMEDIATE_DATA: a jump or goto's chain, if it holds a verdict. */
  private static boolean immediate(ByteBuffer b, int from, int to, String[] verdict) {
    for (int a = from; a < to; ) {
      int alen = attrLength(b, a, to);
      if (alen < 0) {
        return false;
      }
      if ((b.getShort(a + 2) & NLA_TYPE_MASK) == NFTA_DATA_VERDICT) {
        Integer code = null;
        String chain = null;
        for (int v = a + 4; v < a + alen; ) {
          int vlen = attrLength(b, v, a + alen);
          if (vlen < 0) {
            return false;
          }
          int type = b.getShort(v + 2) & NLA_TYPE_MASK;
          if (type == NFTA_VERDICT_CODE && vlen == 8) {
            code = Integer.reverseBytes(b.getInt(v + 4));
          } else if (type == NFTA_VERDICT_CHAIN) {
            chain = string(b, v + 4, v + vlen);
          }
          v += NfqCodec.align(vlen);
        }
        if (code != null && (code == NFT_JUMP || code == NFT_GOTO)) {
          if (chain == null) {
            return false;
          }
          verdict[code == NFT_JUMP ? 0 : 1] = chain;
        }
      }
      a += NfqCodec.align(alen);
    }
    return true;
  }

  /** NFTA_RULE_USERDATA: TLVs of u8 type, u8 length (libnftnl's nftnl_udata). */
  private static void userComments(ByteBuffer b, int from, int to, List<String> comments) {
    for (int u = from; u + 2 <= to; ) {
      int type = b.get(u) & 0xff;
      int len = b.get(u + 1) & 0xff;
      if (u + 2 + len > to) {
        return;
      }
      if (type == NFTNL_UDATA_RULE_COMMENT) {
        comments.add(string(b, u + 2, u + 2 + len));
      }
      u += 2 + len;
    }
  }

  /** The length of a whole attribute at {@code a} that ends by {@code to}, else -1. */
  private static int attrLength(ByteBuffer b, int a, int to) {
    if (to - a < 4) {
      return -1;
    }
    int len = b.getShort(a) & 0xffff;
    return len < 4 || len > to - a ? -1 : len;
  }

  /** A NUL-terminated string in [from, to) (up to the first NUL). */
  private static String string(ByteBuffer b, int from, int to) {
    int n = from;
    while (n < to && b.get(n) != 0) {
      n++;
    }
    byte[] s = new byte[n - from];
    b.get(from, s);
    return new String(s, StandardCharsets.UTF_8);
  }
}
