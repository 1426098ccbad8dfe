package org.divert4j.rawsocket.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.divert4j.Chain;
import org.divert4j.DivertRule;
import org.divert4j.IpFamily;
import org.divert4j.NoListenerPolicy;
import org.junit.jupiter.api.Test;

class RuleTextTest {
  @Test
  void matchText() {
    assertEquals("-p icmp", RuleMatch.match(DivertRule.parse("input -p icmp -j DIVERT 1")));
    assertEquals(
        "-p udp -s 10.1.0.0/16 -d 10.2.3.4/32 -i eth0 -m udp --sport 1000:2000 --dport 53",
        RuleMatch.match(
            DivertRule.parse(
                "input udp from 10.1.0.0/16 to 10.2.3.4 in eth0 sport 1000:2000 dport 53 port 9")));
    assertEquals(
        "-p icmp -o eth1 -m icmp --icmp-type 8",
        RuleMatch.match(DivertRule.parse("output -p icmp --icmp-type 8 -o eth1 -j DIVERT 2")));
    assertEquals("-p 47", RuleMatch.match(DivertRule.parse("forward proto 47 port 3")));
    assertEquals("", RuleMatch.match(DivertRule.parse("forward port 3")));
  }

  @Test
  void ipv6MatchTextAndReadBack() {
    // as ip6tables-save prints it: RFC 5952 addresses, ipv6-icmp with the icmp6 module
    DivertRule r =
        DivertRule.parse("input -s fd00:1::1 -d fd00:2::/64 -p udp --dport 53 -j DIVERT 9");
    String m = RuleMatch.match(r);
    assertEquals("-p udp -s fd00:1::1/128 -d fd00:2::/64 -m udp --dport 53", m);
    assertEquals(r, RuleMatch.parseMatch(Chain.INPUT, m, 9, IpFamily.IPV6));
    DivertRule echo = DivertRule.parse("output -p icmpv6 --icmpv6-type 128 -j DIVERT 9");
    assertEquals("-p ipv6-icmp -m icmp6 --icmpv6-type 128", RuleMatch.match(echo));
    assertEquals(
        echo,
        RuleMatch.parseMatch(
            Chain.OUTPUT, "-p ipv6-icmp -m icmp6 --icmpv6-type 128", 9, IpFamily.IPV6));
    // a rule found in one table only reads back with that family; in both, with none (S54)
    assertEquals(
        DivertRule.parse("input -6 -p tcp -j DIVERT 9"),
        RuleMatch.parseMatch(Chain.INPUT, "-p tcp", 9, IpFamily.IPV6));
    assertEquals(
        DivertRule.parse("input -4 -p tcp -j DIVERT 9"),
        RuleMatch.parseMatch(Chain.INPUT, "-p tcp", 9, IpFamily.IPV4));
    assertEquals(
        DivertRule.parse("input -p tcp -j DIVERT 9"),
        RuleMatch.parseMatch(Chain.INPUT, "-p tcp", 9, null));
  }

  @Test
  void threeLinesPerRule() {
    DivertRule r = DivertRule.parse("input -p icmp -j DIVERT 1234");
    String pc = RuleText.portChain(NoListenerPolicy.DROP, 1234, 1);
    assertEquals("DIVERT4J-D1234", pc);
    List<String> l = RuleText.ruleLines(Marks.DEFAULT, r, 5, "divert4j:h:1:5", pc);
    // default mask 0xfff00000: injector bits 20-22 (port 1234 -> slot 1 + 1234 % 7 = 3), tag bits
    // 23-28, phase bit 29, chain bits 30-31 (input 1)
    assertEquals(
        "-p icmp -m mark ! --mark 0x40000000/0xc0000000 -m mark ! --mark 0x300000/0x700000"
            + " -m comment --comment \"divert4j:h:1:5\" -j MARK --set-xmark 0x42800000/0xff800000",
        l.get(0));
    assertEquals(
        "-m mark --mark 0x42800000/0xff800000 -m comment --comment \"divert4j:h:1:5\""
            + " -j DIVERT4J-D1234",
        l.get(1));
    assertEquals(
        "-m mark --mark 0x62800000/0xff800000 -m comment --comment \"divert4j:h:1:5\""
            + " -j MARK --set-xmark 0x0/0xff800000",
        l.get(2));
    assertEquals(
        "-m mark --mark 0xe0000000/0xe0000000 -m mark ! --mark 0xe0000000/0xff800000"
            + " -m mark ! --mark 0xff800000/0xff800000 -m comment --comment \"divert4j:base\" -j MARK --set-xmark 0x0/0xff800000",
        RuleText.endLine(Marks.DEFAULT, Chain.OUTPUT));
  }

  @Test
  void portChainsArmAndDisarm() {
    // no comment: every packet sent to the port passes these lines (RuleText#jump)
    assertEquals(
        List.of("-j NFQUEUE --queue-num 7"),
        RuleText.portChainLines(Marks.DEFAULT, "DIVERT4J-D7", false));
    assertEquals(
        List.of("-j NFQUEUE --queue-num 7", "-j NFQUEUE --queue-num 7"),
        RuleText.portChainLines(Marks.DEFAULT, "DIVERT4J-D7", true));
    assertEquals(
        List.of("-j MARK --set-xmark 0x20000000/0x0"),
        RuleText.portChainLines(Marks.DEFAULT, "DIVERT4J-P7", false));
    assertTrue(
        RuleText.portChainLines(Marks.DEFAULT, "DIVERT4J-P7-4", true)
            .get(0)
            .endsWith("-j NFQUEUE --queue-balance 7:10 --queue-bypass"));
    assertEquals(7, RuleText.portOfChain("DIVERT4J-P7-4"));
  }

  @Test
  void portChainLinesAreToldApartByPlaceOrByAnOlderVersionsComment() {
    List<RuleLine> armed =
        chain("DIVERT4J-D7", RuleText.portChainLines(Marks.DEFAULT, "DIVERT4J-D7", true));
    assertTrue(RuleText.isListenerLine(armed, 0));
    assertFalse(RuleText.isNoListenerLine(armed, 0));
    assertFalse(RuleText.isListenerLine(armed, 1));
    assertTrue(RuleText.isNoListenerLine(armed, 1));
    List<RuleLine> idle =
        chain("DIVERT4J-D7", RuleText.portChainLines(Marks.DEFAULT, "DIVERT4J-D7", false));
    assertFalse(RuleText.isListenerLine(idle, 0));
    assertTrue(RuleText.isNoListenerLine(idle, 0));
    // as versions before 2026-12-07 wrote them: the comment says which line is which
    List<RuleLine> old =
        chain(
            "DIVERT4J-D7",
            List.of(
                "-m comment --comment \"divert4j:port\" -j NFQUEUE --queue-num 7",
                "-m comment --comment \"divert4j:nolistener\" -j NFQUEUE --queue-num 7"));
    assertTrue(RuleText.isListenerLine(old, 0));
    assertTrue(RuleText.isNoListenerLine(old, 1));
    assertFalse(RuleText.isListenerLine(old, 1));
    List<RuleLine> oldIdle =
        chain(
            "DIVERT4J-D7",
            List.of("-m comment --comment \"divert4j:nolistener\" -j NFQUEUE --queue-num 7"));
    assertFalse(RuleText.isListenerLine(oldIdle, 0));
    assertTrue(RuleText.isNoListenerLine(oldIdle, 0));
  }

  private static List<RuleLine> chain(String name, List<String> rules) {
    List<RuleLine> l = new java.util.ArrayList<>();
    for (String r : rules) {
      l.add(new RuleLine("[0:0]", name, r));
    }
    return l;
  }

  @Test
  void aSniffersPortChainCopiesToNflogAndResumesAfterTheRule() {
    // S71: copy, clear the state as line C would (the packet resumes after the rule), and return
    // before the no-listener line (which would drop with DROP).
    assertEquals(
        List.of(
            "-j NFLOG --nflog-group 7",
            "-j MARK --set-xmark 0x0/" + RuleText.hex(Marks.DEFAULT.stateMask()),
            "-j RETURN",
            "-j NFQUEUE --queue-num 7"),
        RuleText.portChainLines(Marks.DEFAULT, "DIVERT4J-D7", false, true));
    assertEquals(
        RuleText.portChainLines(Marks.DEFAULT, "DIVERT4J-D7", true),
        RuleText.portChainLines(Marks.DEFAULT, "DIVERT4J-D7", true, true),
        "a diverting socket's queue wins over a sniffer's group");
    assertEquals(65535, RuleText.portOfChain("DIVERT4J-D65535"));
    assertEquals(-1, RuleText.portOfChain("DIVERT4J-INPUT"));
    assertEquals(-1, RuleText.portOfChain("DIVERT4J-DEFRAG"));
  }

  @Test
  void tablesAndHooks() {
    assertEquals("raw", RuleText.table(Chain.INPUT));
    assertEquals("PREROUTING", RuleText.builtin(Chain.INPUT));
    assertEquals("mangle", RuleText.table(Chain.FORWARD));
    assertEquals("FORWARD", RuleText.builtin(Chain.FORWARD));
    assertEquals("mangle", RuleText.table(Chain.OUTPUT));
    assertEquals("POSTROUTING", RuleText.builtin(Chain.OUTPUT));
    // while an input rule counts per connection, the input chain is in mangle, after conntrack
    assertEquals("mangle", RuleText.table(Chain.INPUT, true));
    assertEquals("raw", RuleText.table(Chain.INPUT, false));
    assertEquals("mangle", RuleText.table(Chain.OUTPUT, true));
  }

  @Test
  void parsesSavedRulesIntoGroups() {
    String save =
        String.join(
            "\n",
            "*raw",
            ":PREROUTING ACCEPT [0:0]",
            ":DIVERT4J-INPUT - [0:0]",
            ":DIVERT4J-D9 - [0:0]",
            "[3:120] -A PREROUTING -m comment --comment \"divert4j:base\" -j DIVERT4J-INPUT",
            "[2:80] -A PREROUTING -j DIVERT4J-INPUT",
            "[1:84] -A DIVERT4J-INPUT -p icmp -m comment --comment \"divert4j:j1-1:42:3\" -j MARK"
                + " --set-xmark 0x8030000/0x1fff0000",
            "[1:84] -A DIVERT4J-INPUT -m mark --mark 0x8030000/0x1fff0000 -m comment --comment"
                + " \"divert4j:j1-1:42:3\" -j DIVERT4J-D9",
            "[0:0] -A DIVERT4J-INPUT -m mark --mark 0xc030000/0x1fff0000 -m comment --comment"
                + " \"divert4j:j1-1:42:3\" -j MARK --set-xmark 0x0/0x1fff0000",
            "[0:0] -A DIVERT4J-D9 -m comment --comment \"divert4j:port\" -j DROP",
            "[5:0] -A PREROUTING -j ACCEPT",
            "COMMIT");
    RuleTable t = RuleSet.parse("raw", save);
    assertEquals(3, t.chains.get("DIVERT4J-INPUT").size());
    assertEquals(
        2,
        t.builtinOurs.size(),
        "an older and a current jump; the foreign ACCEPT rule is not ours");
    assertEquals(1, t.chains.get("DIVERT4J-INPUT").get(0).packets());
    assertEquals(
        "[1:84]",
        t.counters.get(
            "DIVERT4J-INPUT -p icmp -m comment --comment \"divert4j:j1-1:42:3\" -j MARK"
                + " --set-xmark 0x8030000/0x1fff0000"));
  }

  @Test
  void rulesReadBackFromWhatIptablesSavePrints() {
    // line A as iptables-save (nft and legacy alike) prints it: its own order, -m modules
    String a =
        "-s 10.0.1.2/32 -d 10.1.0.0/16 -i eth0 -p icmp -m icmp --icmp-type 8 -m mark ! --mark"
            + " 0x8000000/0x18000000 -m mark ! --mark 0x4d2/0xffff -m comment --comment"
            + " \"divert4j:static:0:5\" -j MARK --set-xmark 0x8050000/0x1fff0000";
    String m = RuleMatch.matchOf(a);
    assertEquals("-s 10.0.1.2/32 -d 10.1.0.0/16 -i eth0 -p icmp -m icmp --icmp-type 8", m);
    assertEquals(
        DivertRule.parse("input icmp from 10.0.1.2 to 10.1.0.0/16 in eth0 type 8 port 1234"),
        RuleMatch.parseMatch(Chain.INPUT, m, 1234));
    for (String text :
        List.of(
            "input -j DIVERT 1",
            "forward -p udp -s 10.1.0.0/16 --sport 1000:2000 --dport 53 -o eth1 -j DIVERT 9",
            "output -p tcp --dport 80:90 -j DIVERT 65535",
            "output -p 47 -j DIVERT 3",
            "input -p tcp filter \"tcp.Syn and tcp.DstPort == 443\" -j DIVERT 4",
            "output filter \"(tcp ? tcp.DstPort == 443 : udp) and ip.DstAddr != ::ffff:10.0.0.0/104\""
                + " -j DIVERT 5")) {
      DivertRule r = DivertRule.parse(text);
      String lineA =
          RuleText.ruleLines(Marks.DEFAULT, r, 7, "divert4j:h:1:7", "DIVERT4J-D1").get(0);
      assertEquals(r, RuleMatch.parseMatch(r.chain(), RuleMatch.matchOf(lineA), r.port()), text);
    }
    assertEquals(null, RuleMatch.parseMatch(Chain.INPUT, "-p icmp ! -s 10.0.0.1/32", 5));
    assertEquals(null, RuleMatch.parseMatch(Chain.INPUT, "-p tcp -m conntrack --ctstate NEW", 5));
    assertEquals(null, RuleMatch.parseMatch(Chain.INPUT, "-p icmp", 0));
  }

  @Test
  void lineATestsTheCheapestFirstAndOlderLinesReadTheSame() {
    DivertRule r =
        DivertRule.parse("input -p udp --dport 9000 filter \"udp.Payload[0] == 0x16\" -j DIVERT 4");
    String a = RuleText.ruleLines(Marks.DEFAULT, r, 7, "divert4j:h:1:7", "DIVERT4J-D4").get(0);
    // native protocol and port, then the native mark tests, then the filter's compat match, then
    // the comments, then the target
    assertTrue(a.startsWith("-p udp -m udp --dport 9000 -m mark ! --mark "), a);
    int bpf = a.indexOf(" -m bpf ");
    assertTrue(bpf > a.lastIndexOf(" -m mark "), a);
    assertTrue(a.indexOf("divert4j-filter") > bpf, a);
    assertTrue(a.indexOf("divert4j:h:1:7") > a.indexOf("divert4j-filter"), a);
    assertTrue(a.indexOf(" -j MARK ") > a.indexOf("divert4j:h:1:7"), a);
    String m = RuleMatch.matchOf(a);
    assertEquals(r, RuleMatch.parseMatch(Chain.INPUT, m, 4));
    // line A as versions before 2026-12-07 wrote it: the whole match, then the mark tests
    String old =
        RuleMatch.match(r)
            + " -m mark ! --mark 0x40000000/0xc0000000 -m mark ! --mark 0x300000/0x700000"
            + " -m comment --comment \"divert4j:h:1:7\" -j MARK --set-xmark 0x43800000/0xff800000";
    assertEquals(m, RuleMatch.matchOf(old));
  }

  @Test
  void filtersBecomeBpfMatchesWithTheirTextInAComment() {
    DivertRule r = DivertRule.parse("input filter \"udp.DstPort == 53\" -j DIVERT 1");
    String m = RuleMatch.match(r);
    assertTrue(m.startsWith("-m bpf --bytecode \""), m);
    assertTrue(m.endsWith("-m comment --comment \"divert4j-filter udp.DstPort == 53\""), m);
    // as iptables-save prints it back, with another comment after it
    String saved =
        m + " -m mark ! --mark 0x8000000/0x18000000 -m comment --comment \"divert4j:h:1:3\" -j X";
    assertEquals(r, RuleMatch.parseMatch(Chain.INPUT, RuleMatch.matchOf(saved), 1));
    assertEquals("", RuleMatch.filterMatches(DivertRule.parse("input -p udp -j DIVERT 1")));
    StringBuilder or = new StringBuilder("udp.DstPort == 1");
    for (int i = 2; i < 40; i++) {
      or.append(" or udp.DstPort == ").append(i);
    }
    IllegalArgumentException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            IllegalArgumentException.class,
            () ->
                RuleMatch.filterMatches(
                    DivertRule.on(Chain.INPUT).filter("ip.TTL > 1 and (" + or + ")").divertTo(1)));
    assertTrue(e.getMessage().contains("characters"), e.getMessage());
    StringBuilder shortOr = new StringBuilder("udp.Payload[-1] == 1");
    for (int i = 2; i < 9; i++) {
      shortOr.append(" or udp.Payload[-").append(i).append("] == 1");
    }
    e =
        org.junit.jupiter.api.Assertions.assertThrows(
            IllegalArgumentException.class,
            () ->
                RuleMatch.filterMatches(
                    DivertRule.on(Chain.INPUT).filter(shortOr.toString()).divertTo(1)));
    assertTrue(e.getMessage().contains("at most 64 (XT_BPF_MAX_NUM_INSTR)"), e.getMessage());
  }

  @Test
  void flowPacketsBecomesAConnbytesMatchOnEveryChain() {
    DivertRule r =
        DivertRule.parse(
            "output -p tcp filter \"tcp.DstPort == 443 and flow.Packets <= 6\" -j DIVERT 1");
    String m = RuleMatch.match(r);
    assertTrue(
        m.startsWith(
            "-p tcp -m connbytes --connbytes 1:6 --connbytes-mode packets --connbytes-dir both"
                + " -m bpf --bytecode \""),
        m);
    assertTrue(
        m.endsWith(
            "-m comment --comment \"divert4j-filter tcp.DstPort == 443 and flow.Packets <= 6\""),
        m);
    // as iptables-save prints it back
    String saved =
        m + " -m mark ! --mark 0x8000000/0x18000000 -m comment --comment \"divert4j:h:1:3\" -j X";
    assertEquals(r, RuleMatch.parseMatch(Chain.OUTPUT, RuleMatch.matchOf(saved), 1));
    DivertRule only = DivertRule.parse("forward filter \"not flow.Packets <= 2\" -j DIVERT 1");
    assertEquals(
        "-m connbytes --connbytes 3:18446744073709551615 --connbytes-mode packets"
            + " --connbytes-dir both -m comment --comment \"divert4j-filter not flow.Packets <= 2\"",
        RuleMatch.filterMatches(only));
    assertEquals(
        only, RuleMatch.parseMatch(Chain.FORWARD, RuleMatch.matchOf(RuleMatch.match(only)), 1));
    // an input rule counts too: the input chain then lives in mangle (RuleText.table)
    assertTrue(
        RuleMatch.filterMatches(DivertRule.parse("input filter \"flow.Packets <= 6\" -j DIVERT 1"))
            .startsWith("-m connbytes --connbytes 1:6 "));
    IllegalArgumentException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            IllegalArgumentException.class,
            () ->
                RuleMatch.filterMatches(
                    DivertRule.parse("output filter \"udp or flow.Packets <= 6\" -j DIVERT 1")));
    assertTrue(e.getMessage().contains("top-level 'and' term"), e.getMessage());
  }

  @Test
  void staticOwnerAndPortChainNames() {
    assertEquals("divert4j:static:0:12", RuleText.staticComment(12));
    assertTrue(RuleText.isStatic("static"));
    assertEquals(false, RuleText.isStatic("j123-1"));
    assertEquals(1, RuleText.queuesOfChain("DIVERT4J-D7"));
    assertEquals(4, RuleText.queuesOfChain("DIVERT4J-P7-4"));
    assertEquals(0, RuleText.queuesOfChain("DIVERT4J-INPUT"));
    assertEquals(NoListenerPolicy.DROP, RuleText.policyOfChain("DIVERT4J-D7"));
    assertEquals(NoListenerPolicy.PASS_THROUGH, RuleText.policyOfChain("DIVERT4J-P7-4"));
    assertEquals(null, RuleText.policyOfChain("DIVERT4J-DEFRAG"));
    RuleGroup g = new RuleGroup(RuleText.staticComment(12));
    assertEquals("static", g.host());
    assertEquals(0, g.pid());
    assertEquals(12, g.tag());
    assertTrue(RuleOwners.alive(g.host(), g.pid()), "a static rule never has a dead owner");
    assertEquals(false, RuleOwners.alive("j1-1", Integer.MAX_VALUE), "no such process");
  }

  @Test
  void tagsAreAllocatedUpwardsThenReused() throws Exception {
    int max = Marks.DEFAULT.maxTag();
    assertEquals(1, RuleSet.allocateTag(java.util.Set.of(), max));
    assertEquals(6, RuleSet.allocateTag(java.util.Set.of(2, 5), max));
    assertEquals(2, RuleSet.allocateTag(java.util.Set.of(1, max), max));
  }

  @Test
  void iptablesErrorsAreShortenedToOneLine() {
    assertEquals(
        "iptables-restore: line 3 failed; Bad rule",
        RuleAdmin.brief("iptables-restore: line 3 failed\nBad rule\nscript:\n*raw\nCOMMIT\n"));
  }
}
