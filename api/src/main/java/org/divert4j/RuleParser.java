package org.divert4j;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reads the text form of a {@link DivertRule} (its {@link DivertRule#parse(String, int)} documents
 * the syntax): the first word is the chain, then iptables-style options or their short words, in
 * any order, into a {@link DivertRule.Builder}. Errors are {@link IllegalArgumentException}s that
 * name the word at fault. Stateless and thread-safe.
 */
final class RuleParser {
  private RuleParser() {}

  /** See {@link DivertRule#parse(String, int)}, which documents the syntax. */
  static DivertRule parse(String text, int defaultPort) {
    List<String> t = words(text);
    if (t.isEmpty()) {
      throw new IllegalArgumentException("empty rule: expected a chain (input, forward, output)");
    }
    DivertRule.Builder b = DivertRule.on(Chain.parse(t.get(0)));
    int port = defaultPort;
    int i = 1;
    while (i < t.size()) {
      String w = t.get(i).toLowerCase(Locale.ROOT);
      i++;
      switch (w) {
        case "icmp", "icmpv6", "ipv6-icmp", "udp", "tcp", "all", "any" ->
            b.protocol(protocolNumber(w));
        case "-4", "--ipv4", "ip4" -> b.family(IpFamily.IPV4);
        case "-6", "--ipv6", "ip6" -> b.family(IpFamily.IPV6);
        case "-p", "--protocol", "proto" -> b.protocol(protocolNumber(arg(t, i++, w)));
        case "-s", "--source", "from" -> b.source(arg(t, i++, w));
        case "-d", "--destination", "to" -> b.destination(arg(t, i++, w));
        case "--sport", "--source-port", "sport" -> {
          int[] r = range(arg(t, i++, w), w);
          b.sourcePorts(r[0], r[1]);
        }
        case "--dport", "--destination-port", "dport" -> {
          int[] r = range(arg(t, i++, w), w);
          b.destinationPorts(r[0], r[1]);
        }
        case "--icmp-type", "--icmpv6-type", "type" ->
            b.icmpType(number(arg(t, i++, w), w, 0, 255));
        case "-i", "--in-interface", "in" -> b.inInterface(arg(t, i++, w));
        case "-o", "--out-interface", "out" -> b.outInterface(arg(t, i++, w));
        case "filter", "--filter" -> b.filter(arg(t, i++, w));
        case "-j", "--jump" -> {
          String target = arg(t, i++, w);
          if (!target.equalsIgnoreCase("DIVERT")) {
            throw new IllegalArgumentException(
                "unsupported target '" + target + "': only DIVERT <port> is supported");
          }
          port = number(arg(t, i++, "DIVERT"), "DIVERT", 1, 65535);
        }
        case "port", "divert" -> port = number(arg(t, i++, w), w, 1, 65535);
        default ->
            throw new IllegalArgumentException(
                "unexpected '" + t.get(i - 1) + "' in rule '" + text.trim() + "' (word " + i + ")");
      }
    }
    if (port == 0) {
      throw new IllegalArgumentException(
          "rule '" + text.trim() + "' names no divert port: add '-j DIVERT <port>'");
    }
    return b.divertTo(port);
  }

  /** Splits on white space; a double-quoted part (a filter) is one word, without its quotes. */
  private static List<String> words(String text) {
    List<String> t = new ArrayList<>();
    int i = 0;
    int n = text.length();
    while (i < n) {
      if (Character.isWhitespace(text.charAt(i))) {
        i++;
        continue;
      }
      int start = i;
      if (text.charAt(i) == '"') {
        int close = text.indexOf('"', i + 1);
        if (close < 0) {
          throw new IllegalArgumentException(
              "unclosed quote at " + (i + 1) + " in rule '" + text.trim() + "'");
        }
        t.add(text.substring(i + 1, close));
        i = close + 1;
        continue;
      }
      while (i < n && !Character.isWhitespace(text.charAt(i))) {
        i++;
      }
      t.add(text.substring(start, i));
    }
    return t;
  }

  private static String arg(List<String> t, int i, String option) {
    if (i >= t.size()) {
      throw new IllegalArgumentException("'" + option + "' needs a value");
    }
    return t.get(i);
  }

  private static int number(String s, String option, int min, int max) {
    try {
      int v = Integer.parseInt(s);
      if (v >= min && v <= max) {
        return v;
      }
    } catch (NumberFormatException e) {
      // fall through to the error below
    }
    throw new IllegalArgumentException(
        "'" + option + "' takes a number from " + min + " to " + max + ", not '" + s + "'");
  }

  private static int[] range(String s, String option) {
    int colon = s.indexOf(':');
    if (colon < 0) {
      int p = number(s, option, 0, 65535);
      return new int[] {p, p};
    }
    int lo = colon == 0 ? 0 : number(s.substring(0, colon), option, 0, 65535);
    int hi = colon == s.length() - 1 ? 65535 : number(s.substring(colon + 1), option, 0, 65535);
    if (lo > hi) {
      throw new IllegalArgumentException("'" + option + "' range is empty: " + s);
    }
    return new int[] {lo, hi};
  }

  /** Parses a prefix or address of either family, naming the text at fault. */
  static IpPrefix prefix(String s) {
    try {
      return IpPrefix.parse(s);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "not an address or prefix: '" + s + "' (" + e.getMessage() + ")", e);
    }
  }

  private static int protocolNumber(String s) {
    return switch (s.toLowerCase(Locale.ROOT)) {
      case "icmp" -> DivertRule.ICMP;
      case "icmpv6", "ipv6-icmp" -> DivertRule.ICMPV6;
      case "tcp" -> DivertRule.TCP;
      case "udp" -> DivertRule.UDP;
      case "all", "any" -> DivertRule.ANY_PROTOCOL;
      default -> number(s, "protocol", 0, 255);
    };
  }
}
