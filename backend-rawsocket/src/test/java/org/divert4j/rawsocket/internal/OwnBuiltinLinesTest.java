package org.divert4j.rawsocket.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.divert4j.Chain;
import org.junit.jupiter.api.Test;

class OwnBuiltinLinesTest {
  @Test
  void onlyTheShapesDivert4jWritesInBuiltinChainsAreItsOwn() {
    assertEquals("-j DIVERT4J-INPUT", RuleText.jump(Chain.INPUT));
    assertTrue(OwnBuiltinLines.isOwn(RuleText.jump(Chain.INPUT), null));
    assertTrue(OwnBuiltinLines.isOwn(RuleText.jump(Chain.OUTPUT), null));
    // the jump of older versions, with the base comment: still ours (cleanup, replacement)
    String jump = "-m comment --comment \"divert4j:base\" -j DIVERT4J-INPUT";
    assertEquals(jump, RuleText.legacyJump(Chain.INPUT));
    assertTrue(OwnBuiltinLines.isOwn(jump, "divert4j:base"));
    // a jump without comment is ours only if it is nothing else: no match, one of our main chains
    assertFalse(OwnBuiltinLines.isOwn("-p udp -j DIVERT4J-INPUT", null));
    assertFalse(OwnBuiltinLines.isOwn("-j DIVERT4J-D4000", null));
    assertFalse(OwnBuiltinLines.isOwn("-j DIVERT4J-INPUTX", null));
    assertFalse(OwnBuiltinLines.isOwn("-g DIVERT4J-INPUT", null));
    String probe =
        "-s 127.0.0.1/32 -d 127.0.0.1/32 -p 253 -f -m comment --comment \"divert4j:h:42:probe\"";
    assertTrue(OwnBuiltinLines.isOwn(probe, "divert4j:h:42:probe"));
    // the IPv6 probe: one local address to itself (::1, or an interface's where lo has no IPv6)
    for (String a : List.of("::1", "fd00:6::1")) {
      String p6 =
          "-s " + a + "/128 -d " + a + "/128 -m frag -m comment --comment \"divert4j:h:42:probe\"";
      assertTrue(OwnBuiltinLines.isOwn(p6, "divert4j:h:42:probe"), p6);
    }
    assertFalse(
        OwnBuiltinLines.isOwn(
            "-s fd00:6::1/128 -d fd00:6::2/128 -m frag -m comment --comment"
                + " \"divert4j:h:42:probe\"",
            "divert4j:h:42:probe"));
    assertFalse(
        OwnBuiltinLines.isOwn(
            "-s 10.0.0.1/32 -d 10.0.0.1/32 -m comment --comment \"divert4j:h:42:probe\"",
            "divert4j:h:42:probe"));
    // another program's lines that imitate the comments
    assertFalse(
        OwnBuiltinLines.isOwn(
            "-p udp --dport 53 -m comment --comment \"divert4j:base\" -j ACCEPT", "divert4j:base"));
    assertFalse(
        OwnBuiltinLines.isOwn(
            "-p 253 -f -m comment --comment \"divert4j:h:42:probe\" -j DROP",
            "divert4j:h:42:probe"));
    assertFalse(
        OwnBuiltinLines.isOwn(
            "-p udp -m comment --comment \"divert4j:ghost:999999:7\" -j NOTRACK",
            "divert4j:ghost:999999:7"));
    assertFalse(OwnBuiltinLines.isOwn("-p udp -j ACCEPT", null));
  }
}
