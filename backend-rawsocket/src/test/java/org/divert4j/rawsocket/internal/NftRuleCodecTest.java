package org.divert4j.rawsocket.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.divert4j.linux.Native;
import org.junit.jupiter.api.Test;

/**
 * The nf_tables rule dump's request and decoding, on bytes captured from a kernel (6.x, iptables
 * v1.8.9 (nf_tables)) for this raw table after two UDP packets to 127.0.0.1:9000:
 *
 * <pre>
 * [2:58] -A PREROUTING -p udp -j DIVERT4J-D9000
 * [2:58] -A DIVERT4J-D9000 -m comment --comment "divert4j:h:1:2" -j DIVERT4J-X
 * [2:58] -A DIVERT4J-D9000 -j NFQUEUE --queue-num 9000
 * </pre>
 */
class NftRuleCodecTest {
  /** The request for table raw of IPv4, sequence number 77. */
  private static final String REQUEST = "1c000000070a01034d00000000000000020000000800010072617700";

  /** The first datagram of the answer: the three rules (chain order: D9000, then PREROUTING). */
  private static final String RULES =
      String.join(
          "",
          "d8010000060a02084d0000005d75000002000002080001007261770013000200444956455254344a2d443930",
          "303000000c00030000000000000000059c0104002c0101000a0001006d617463680000001c0102000c000100",
          "636f6d6d656e7400080002000000000004010300646976657274346a3a683a313a3200000000000000000000",
          "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
          "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
          "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
          "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
          "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
          "0000000000000000000000002c0001000c000100636f756e746572001c0002000c000100000000000000003a",
          "0c0002000000000000000002400001000e000100696d6d6564696174650000002c0002000800010000000000",
          "200002001c00020008000100fffffffd0f000200444956455254344a2d580000ac000000060a02084d000000",
          "5d75000002000002080001007261770013000200444956455254344a2d443930303000000c00030000000000",
          "000000060c0006000000000000000005640004002c0001000c000100636f756e746572001c0002000c000100",
          "000000000000003a0c0002000000000000000002340001000b0001007461726765740000240002000c000100",
          "4e4651554555450008000200000000030c0003002823010000000000fc000000060a02084d0000005d750000",
          "0200000208000100726177000f000200505245524f5554494e4700000c0003000000000000000004c4000400",
          "24000100090001006d6574610000000014000200080002000000001008000100000000012c00010008000100",
          "636d700020000200080001000000000108000200000000000c00030005000100110000002c0001000c000100",
          "636f756e746572001c0002000c000100000000000000003a0c0002000000000000000002440001000e000100",
          "696d6d656469617465000000300002000800010000000000240002002000020008000100fffffffd13000200",
          "444956455254344a2d44393030300000");

  /** The second: NLMSG_DONE. */
  private static final String DONE = "14000000030002004d0000005d75000000000000";

  private static final String SAVE =
      String.join(
          "\n",
          "*raw",
          ":DIVERT4J-D9000 - [0:0]",
          ":DIVERT4J-X - [0:0]",
          "[2:58] -A PREROUTING -p udp -j DIVERT4J-D9000",
          "[2:58] -A DIVERT4J-D9000 -m comment --comment \"divert4j:h:1:2\" -j DIVERT4J-X",
          "[2:58] -A DIVERT4J-D9000 -j NFQUEUE --queue-num 9000",
          "COMMIT",
          "");

  private static ByteBuffer buffer(String hex) {
    byte[] b = HexFormat.of().parseHex(hex);
    ByteBuffer buf = Native.allocate(b.length + 64);
    buf.put(0, b);
    return buf;
  }

  private static int length(String hex) {
    return hex.length() / 2;
  }

  @Test
  void requestAsksForOneTablesRules() {
    ByteBuffer b = Native.allocate(256);
    int end = NftRuleCodec.dumpRequest(b, 0, 77, NftRuleCodec.NFPROTO_IPV4, "raw");
    byte[] got = new byte[end];
    b.get(0, got);
    assertEquals(REQUEST, HexFormat.of().formatHex(got));
  }

  @Test
  void rulesDecodeToTheirChainCounterCommentsAndJump() {
    List<NftRuleCodec.Rule> out = new ArrayList<>();
    assertEquals(
        NftRuleCodec.Status.MORE,
        NftRuleCodec.decode(buffer(RULES), 0, length(RULES), 77, "raw", out));
    assertEquals(
        List.of(
            new NftRuleCodec.Rule(
                "DIVERT4J-D9000", 2, 58, List.of("divert4j:h:1:2"), "DIVERT4J-X", null, false),
            new NftRuleCodec.Rule("DIVERT4J-D9000", 2, 58, List.of(), null, null, false),
            new NftRuleCodec.Rule("PREROUTING", 2, 58, List.of(), "DIVERT4J-D9000", null, false)),
        out);
    assertEquals(
        NftRuleCodec.Status.DONE,
        NftRuleCodec.decode(buffer(DONE), 0, length(DONE), 77, "raw", out));
    assertEquals(3, out.size());
  }

  @Test
  void renderedLinesCountAsIptablesSavesLinesDo() {
    List<NftRuleCodec.Rule> rules = new ArrayList<>();
    NftRuleCodec.decode(buffer(RULES), 0, length(RULES), 77, "raw", rules);
    List<RuleLine> saved = RuleSet.parse("raw", SAVE).chains.get("DIVERT4J-D9000");
    List<RuleLine> read = new ArrayList<>();
    for (NftRuleCodec.Rule r : rules.subList(0, 2)) {
      read.add(NftCounters.line(r));
    }
    for (int i = 0; i < 2; i++) {
      assertEquals(saved.get(i).packets(), read.get(i).packets());
      assertEquals(saved.get(i).comment(), read.get(i).comment());
      assertEquals(saved.get(i).chain(), read.get(i).chain());
      assertEquals(
          RuleText.isNoListenerLine(saved, i), RuleText.isNoListenerLine(read, i), "line " + i);
    }
    assertEquals("-m comment --comment \"divert4j:h:1:2\" -j DIVERT4J-X", read.get(0).rule());
    RuleLine quoted =
        NftCounters.line(
            new NftRuleCodec.Rule("C", 1, 2, List.of("a\"b\\c'd"), null, "DIVERT4J-G", false));
    assertEquals("-m comment --comment \"a\\\"b\\\\c\\'d\" -g DIVERT4J-G", quoted.rule());
    assertNull(quoted.comment());
  }

  @Test
  void otherTablesRulesAreLeftOut() {
    List<NftRuleCodec.Rule> out = new ArrayList<>();
    assertEquals(
        NftRuleCodec.Status.MORE,
        NftRuleCodec.decode(buffer(RULES), 0, length(RULES), 77, "mangle", out));
    assertEquals(List.of(), out);
  }

  @Test
  void anotherSequenceAnErrorOrAnInterruptedDumpIsNotTrusted() {
    List<NftRuleCodec.Rule> out = new ArrayList<>();
    assertEquals(
        NftRuleCodec.Status.MALFORMED,
        NftRuleCodec.decode(buffer(RULES), 0, length(RULES), 78, "raw", out));
    ByteBuffer intr = buffer(RULES);
    intr.putShort(6, (short) (intr.getShort(6) | NftRuleCodec.NLM_F_DUMP_INTR));
    assertEquals(
        NftRuleCodec.Status.INTERRUPTED,
        NftRuleCodec.decode(intr, 0, length(RULES), 77, "raw", out));
    ByteBuffer error = buffer(DONE);
    error.putShort(4, (short) NfqCodec.NLMSG_ERROR);
    error.putInt(16, -1); // -EPERM
    assertEquals(
        NftRuleCodec.Status.MALFORMED, NftRuleCodec.decode(error, 0, length(DONE), 77, "raw", out));
  }

  @Test
  void cutOrDamagedBytesNeverThrow() {
    int n = length(RULES);
    for (int cut = 0; cut < n; cut++) {
      List<NftRuleCodec.Rule> out = new ArrayList<>();
      NftRuleCodec.Status s = NftRuleCodec.decode(buffer(RULES), 0, cut, 77, "raw", out);
      if (cut == 0) {
        assertEquals(NftRuleCodec.Status.MORE, s);
      } else if (cut != 472 && cut != 644) {
        assertEquals(NftRuleCodec.Status.MALFORMED, s, "cut at " + cut);
      }
    }
    Random r = new Random(42);
    for (int i = 0; i < 20000; i++) {
      ByteBuffer b = buffer(RULES);
      for (int k = 1 + r.nextInt(4); k > 0; k--) {
        b.put(r.nextInt(n), (byte) r.nextInt(256));
      }
      NftRuleCodec.decode(b, 0, n, 77, "raw", new ArrayList<>());
    }
  }
}
