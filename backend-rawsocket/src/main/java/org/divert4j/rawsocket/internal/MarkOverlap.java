package org.divert4j.rawsocket.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.divert4j.DivertException;

/**
 * S74: finds the rules of other software in a namespace that set or match packet-mark bits inside
 * the backend's mask ({@link Marks}), from {@code iptables-save} / {@code ip6tables-save} text.
 *
 * <p>A rule uses the bits it can set to 1 or tests for 1: the value of a {@code mark} or {@code
 * connmark} match (negated or not) within its mask, and the value a {@code MARK}, {@code CONNMARK}
 * or {@code TPROXY} target sets, ors or xors in. Clearing bits ({@code --and-mark}, the mask part
 * of {@code --set-xmark}) and testing them for 0 do not count: outside divert4j's own chains its
 * bits are 0, so such rules see nothing of them (kube-proxy's {@code --set-xmark 0x4000/0x0},
 * Tailscale's {@code 0x40000/0xff0000} within bits 20-23, WireGuard's exact {@code --mark 0xca6c}).
 * {@code CONNMARK --save-mark / --restore-mark} move bits some other rule or socket set, which that
 * rule or the match testing them shows. Stateless.
 */
final class MarkOverlap {
  private static final Pattern LINE = Pattern.compile("^(\\[\\d+:\\d+\\] )?-A (\\S+) (.*)$");
  private static final Pattern MATCH =
      Pattern.compile(
          "-m (mark|connmark)( !)? --mark (0x[0-9a-fA-F]+|\\d+)(/(0x[0-9a-fA-F]+|\\d+))?");
  private static final Pattern SET =
      Pattern.compile(
          "--(set-xmark|set-mark|or-mark|xor-mark|tproxy-mark) (0x[0-9a-fA-F]+|\\d+)(/(0x[0-9a-fA-F]+|\\d+))?");

  /**
   * One rule's use of mark bits.
   *
   * @param family {@code iptables} or {@code ip6tables}
   * @param table its table
   * @param rule the rule as iptables-save prints it, {@code -A CHAIN ...}
   * @param bits the mark bits it sets or matches as 1
   */
  record Use(String family, String table, String rule, int bits) {
    String describe() {
      return family + (table.equals("policy routing") ? ": " : " table " + table + ": ") + rule;
    }
  }

  private MarkOverlap() {}

  /**
   * @param family {@code iptables} or {@code ip6tables}, for messages
   * @param save iptables-save text of every table
   * @return the rules that are not divert4j's and use mark bits, in order
   */
  static List<Use> uses(String family, String save) {
    List<Use> out = new ArrayList<>();
    String table = "";
    for (String line : save.split("\n")) {
      if (line.startsWith("*")) {
        table = line.substring(1).trim();
        continue;
      }
      Matcher m = LINE.matcher(line);
      if (!m.matches()) {
        continue;
      }
      RuleLine l = new RuleLine(m.group(1), m.group(2), m.group(3));
      if (l.chain().startsWith(RuleText.CHAIN_PREFIX)
          || OwnBuiltinLines.isOwn(l.rule(), l.comment())) {
        continue;
      }
      int bits = bits(l.rule());
      if (bits != 0) {
        out.add(new Use(family, table, "-A " + l.chain() + " " + l.rule(), bits));
      }
    }
    return out;
  }

  private static final Pattern FWMARK =
      Pattern.compile("fwmark (0x[0-9a-fA-F]+|\\d+)(/(0x[0-9a-fA-F]+|\\d+))?");

  /**
   * The policy routing rules that match marks ({@code ip rule show} text: Tailscale's {@code fwmark
   * 0x80000/0xff0000}, wg-quick's {@code not fwmark 0xca6c}).
   *
   * @param family {@code ip rule} or {@code ip -6 rule}, for messages
   * @param show the output of {@code ip rule show}
   * @return the rules whose fwmark has bits set, in order
   */
  static List<Use> routingUses(String family, String show) {
    List<Use> out = new ArrayList<>();
    for (String line : show.split("\n")) {
      Matcher m = FWMARK.matcher(line);
      if (m.find()) {
        int v = number(m.group(1));
        int mask = m.group(3) == null ? -1 : number(m.group(3));
        if ((v & mask) != 0) {
          out.add(new Use(family, "policy routing", line.trim(), v & mask));
        }
      }
    }
    return out;
  }

  /**
   * @param rule a rule's text after {@code -A CHAIN}
   * @return the mark bits it sets or matches as 1
   */
  static int bits(String rule) {
    int bits = 0;
    Matcher m = MATCH.matcher(rule);
    while (m.find()) {
      int v = number(m.group(3));
      int mask = m.group(5) == null ? -1 : number(m.group(5));
      bits |= v & mask;
    }
    int target = rule.indexOf(" -j ");
    if (target < 0 && rule.startsWith("-j ")) {
      target = 0;
    }
    if (target >= 0) {
      Matcher s = SET.matcher(rule);
      s.region(target, rule.length());
      while (s.find()) {
        bits |= number(s.group(2));
      }
    }
    return bits;
  }

  private static int number(String s) {
    return (int)
        (s.startsWith("0x") || s.startsWith("0X")
            ? Long.parseLong(s.substring(2), 16)
            : Long.parseLong(s));
  }

  /**
   * @param uses the rules found
   * @param mask the backend's mask
   * @return the first rule whose bits overlap the mask, or null
   */
  static Use firstOverlap(List<Use> uses, int mask) {
    for (Use u : uses) {
      if ((u.bits() & mask) != 0) {
        return u;
      }
    }
    return null;
  }

  /**
   * Fails if another rule of the namespace uses bits of the mask.
   *
   * @param uses the rules found ({@link #uses})
   * @param marks the host's mark layout
   * @param namespace the namespace, for the message
   * @throws DivertException naming the rule, the bits, and how to proceed
   */
  static void check(List<Use> uses, Marks marks, String namespace) throws DivertException {
    Use u = firstOverlap(uses, marks.mask());
    if (u == null) {
      return;
    }
    throw new DivertException(
        "another rule in network namespace "
            + namespace
            + " sets or matches packet-mark bits "
            + RuleText.hex(u.bits() & marks.mask())
            + " inside rawsocket.markMask="
            + RuleText.hex(marks.mask())
            + ", which the kernel backend keeps its state in (S74): "
            + u.describe()
            + ". Choose a rawsocket.markMask that other software leaves free (9 to 12 contiguous"
            + " bits), or set rawsocket.markOverlap=proceed to open anyway",
        DivertException.NO_ERRNO,
        null);
  }
}
