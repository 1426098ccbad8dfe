package org.divert4j.rawsocket.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.Chain;
import org.divert4j.DivertException;
import org.divert4j.DivertRule;
import org.junit.jupiter.api.Test;

class MarkOverlapTest {
  static String ruleSet(String name) throws IOException {
    try (InputStream in =
        MarkOverlapTest.class.getResourceAsStream("/org/divert4j/rawsocket/" + name)) {
      return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
    }
  }

  @Test
  void bitsAreWhatARuleSetsOrTestsForOne() {
    assertEquals(0x4000, MarkOverlap.bits("-j MARK --set-xmark 0x4000/0x4000"));
    assertEquals(0x4000, MarkOverlap.bits("-m mark ! --mark 0x4000/0x4000 -j RETURN"));
    assertEquals(0xca6c, MarkOverlap.bits("-p udp -m mark --mark 0xca6c -j CONNMARK --save-mark"));
    assertEquals(
        0, MarkOverlap.bits("-j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff"));
    assertEquals(0, MarkOverlap.bits("-j MARK --set-xmark 0x0/0xffffffff"), "clearing is no use");
    assertEquals(0, MarkOverlap.bits("-m mark --mark 0x0/0xfff00000 -j ACCEPT"), "testing for 0");
    assertEquals(0x40000, MarkOverlap.bits("-i tailscale0 -j MARK --set-xmark 0x40000/0xff0000"));
    assertEquals(0x200, MarkOverlap.bits("-m connmark --mark 0x200/0xf00 -j ACCEPT"));
    assertEquals(
        0x1,
        MarkOverlap.bits("-p tcp -j TPROXY --on-port 1 --on-ip 0.0.0.0 --tproxy-mark 0x1/0x1"));
    assertEquals(0x7, MarkOverlap.bits("-j MARK --or-mark 0x7"));
  }

  @Test
  void theDefaultMaskAvoidsKubeProxyWireGuardAndTailscale() throws Exception {
    List<MarkOverlap.Use> uses = new ArrayList<>();
    for (String f : List.of("kube-proxy.rules", "wg-quick.rules", "tailscale.rules")) {
      List<MarkOverlap.Use> u = MarkOverlap.uses("iptables", ruleSet(f));
      assertTrue(!u.isEmpty(), f + " uses marks");
      uses.addAll(u);
    }
    assertNull(MarkOverlap.firstOverlap(uses, Marks.DEFAULT_MASK));
    MarkOverlap.check(uses, Marks.DEFAULT, "test");
  }

  @Test
  void anOverlappingMaskIsRefusedNamingTheRule() throws Exception {
    List<MarkOverlap.Use> kube = MarkOverlap.uses("iptables", ruleSet("kube-proxy.rules"));
    DivertException e =
        assertThrows(DivertException.class, () -> MarkOverlap.check(kube, Marks.of(0xff80), "t"));
    assertTrue(
        e.getMessage()
            .contains(
                "-A KUBE-FIREWALL -m comment --comment \"kubernetes firewall for"
                    + " dropping marked packets\" -m mark --mark 0x8000/0x8000 -j DROP"),
        e.getMessage());
    assertTrue(e.getMessage().contains("rawsocket.markOverlap=proceed"), e.getMessage());
    MarkOverlap.Use wg =
        MarkOverlap.firstOverlap(MarkOverlap.uses("iptables", ruleSet("wg-quick.rules")), 0xff80);
    assertTrue(wg.rule().startsWith("-A POSTROUTING -p udp -m mark --mark 0xca6c"), wg.rule());
    assertEquals("mangle", wg.table());
    MarkOverlap.Use ts =
        MarkOverlap.firstOverlap(
            MarkOverlap.uses("iptables", ruleSet("tailscale.rules")), 0x0007fc00);
    assertEquals("-A ts-forward -i tailscale0 -j MARK --set-xmark 0x40000/0xff0000", ts.rule());
  }

  @Test
  void policyRoutingRulesThatMatchMarksCountToo() throws Exception {
    String show =
        "0:\tfrom all lookup local\n"
            + "5210:\tfrom all fwmark 0x80000/0xff0000 lookup main\n"
            + "32765:\tnot from all fwmark 0xca6c lookup 51820\n"
            + "32766:\tfrom all lookup main\n";
    List<MarkOverlap.Use> u = MarkOverlap.routingUses("ip rule", show);
    assertEquals(2, u.size());
    assertEquals(0x80000, u.get(0).bits());
    assertEquals(0xca6c, u.get(1).bits());
    assertNull(MarkOverlap.firstOverlap(u, Marks.DEFAULT_MASK));
    DivertException e =
        assertThrows(DivertException.class, () -> MarkOverlap.check(u, Marks.of(0xff800), "t"));
    assertTrue(
        e.getMessage().contains("ip rule: 5210:\tfrom all fwmark 0x80000/0xff0000 lookup main"),
        e.getMessage());
  }

  @Test
  void divert4jsOwnLinesAreNotOtherRules() {
    StringBuilder save = new StringBuilder("*mangle\n");
    for (String l :
        RuleText.ruleLines(
            Marks.of(0xff80),
            DivertRule.parse("output udp port 9"),
            1,
            "divert4j:h:1:1",
            "DIVERT4J-D9")) {
      save.append("-A DIVERT4J-OUTPUT ").append(l).append('\n');
    }
    save.append("-A POSTROUTING ").append(RuleText.jump(Chain.OUTPUT)).append('\n');
    assertEquals(List.of(), MarkOverlap.uses("iptables", save.toString()));
  }
}
