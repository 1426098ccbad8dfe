package org.divert4j.rawsocket.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class RuleCountsTest {
  private static String rule(int tag, String port, long packets) {
    String com = "-m comment --comment \"divert4j:j1-1:42:" + tag + "\"";
    String t = Integer.toHexString(0x8000000 | tag << 16);
    return String.join(
        "\n",
        "[0:0] -A DIVERT4J-INPUT -p udp " + com + " -j MARK --set-xmark 0x" + t + "/0x1fff0000",
        "["
            + packets
            + ":0] -A DIVERT4J-INPUT -m mark --mark 0x"
            + t
            + "/0x1fff0000 "
            + com
            + " -j "
            + port,
        "[0:0] -A DIVERT4J-INPUT -m mark --mark 0xc"
            + t.substring(1)
            + "/0x1fff0000 "
            + com
            + " -j MARK --set-xmark 0x0/0x1fff0000");
  }

  private static RuleState family(String rules) {
    String save =
        String.join(
            "\n",
            "*raw",
            ":DIVERT4J-INPUT - [0:0]",
            ":DIVERT4J-D9 - [0:0]",
            ":DIVERT4J-D10 - [0:0]",
            rules,
            "[0:0] -A DIVERT4J-D9 -j NFQUEUE --queue-num 9",
            "[0:0] -A DIVERT4J-D10 -j NFQUEUE --queue-num 10",
            "COMMIT");
    return RuleState.assemble(RuleSet.parse("raw", save), RuleSet.parse("mangle", ""), false);
  }

  @Test
  void queueLinesAreTheLinesThatSendToThePortKeyedByFamilyChainAndText() {
    RuleState s =
        family(
            String.join(
                "\n",
                rule(3, "DIVERT4J-D9", 5),
                rule(4, "DIVERT4J-D9", 2),
                rule(5, "DIVERT4J-D10", 9)));
    s.six = family(rule(3, "DIVERT4J-D9", 7));
    Map<String, Long> lines = RuleCounts.queueLines(s, 9);
    assertEquals(3, lines.size(), "two IPv4 lines and the IPv6 line of the same text: " + lines);
    long sum = 0;
    for (Map.Entry<String, Long> e : lines.entrySet()) {
      assertTrue(e.getKey().contains("-j DIVERT4J-D9"), e.getKey());
      sum += e.getValue();
    }
    assertEquals(14, sum);
    assertEquals(RuleCounts.queuedPackets(s, 9), sum, "the same lines as queuedPackets");
    assertEquals(Map.of(), RuleCounts.queueLines(s, 11));
    assertEquals(9, RuleCounts.queueLines(s, 10).values().iterator().next());
  }
}
