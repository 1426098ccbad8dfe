package org.divert4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@code divert filter check}: canonical form and the kernel's BPF programs. */
class FilterCommandTest {
  @Test
  void printsTheCanonicalFormAndTheKernelsPrograms() {
    Cli.Result r = Cli.run("filter", "check", "tcp.DstPort = 443 && !loopback");
    assertEquals(ExitCodes.OK, r.status(), r::toString);
    String out = r.out();
    assertTrue(out.startsWith("filter: tcp.DstPort == 443 and not loopback\ntests: 2\n"), out);
    assertTrue(
        out.contains("rawsocket, iptables, input and forward rules (inbound): 1 BPF match\n"), out);
    assertTrue(
        out.contains(
            "rawsocket, ip6tables, input and forward rules (inbound): refused: the field"
                + " 'tcp.DstPort' of an IPv6 packet needs the walk of its extension headers"),
        out);
    assertTrue(out.contains("  -m bpf --bytecode \""), out);
    assertTrue(out.contains("jeq   #443"), out);
    assertTrue(out.contains("ld    #ifidx"), out);
  }

  @Test
  void saysWhatTheKernelCannotHoldAndRefusesBadFilters() {
    StringBuilder or = new StringBuilder("udp.Payload[-1] == 1");
    for (int i = 2; i < 9; i++) {
      or.append(" or udp.Payload[-").append(i).append("] == 1");
    }
    Cli.Result r = Cli.run("filter", "check", or.toString());
    assertEquals(ExitCodes.OK, r.status(), r::toString);
    assertTrue(r.out().contains("(inbound): refused: the filter part"), r::toString);
    assertTrue(r.out().contains("at most 64 (XT_BPF_MAX_NUM_INSTR)"), r::toString);
    assertEquals(
        "rawsocket, iptables, output rules (outbound): no match needed (every IPv4 packet passes)",
        Cli.run("filter", "check", "ip").outLines().get(4));
    assertTrue(
        Cli.run("filter", "check", "ipv6")
            .outLines()
            .contains(
                "rawsocket, ip6tables, output rules (outbound): no match needed (every IPv6 packet"
                    + " passes)"));
    Cli.Result bad = Cli.run("filter", "check", "tcp.DstPort == )");
    assertEquals(ExitCodes.USAGE, bad.status(), bad::toString);
    assertTrue(bad.err().contains("at 16: expected a field or a number, found ')'"), bad::toString);
  }

  @Test
  void showsTheConnbytesMatchOfFlowPacketsOnEveryChainAndWhereTheKernelRefusesIt() {
    Cli.Result r = Cli.run("filter", "check", "tcp and flow.Packets <= 6");
    assertEquals(ExitCodes.OK, r.status(), r::toString);
    String out = r.out();
    assertTrue(
        out.contains(
            "rawsocket, iptables, input and forward rules (inbound): a connbytes match, 1 BPF"
                + " match, all must accept\n"
                + "  -m connbytes --connbytes 1:6 "),
        out);
    assertTrue(out.contains("input rules live in mangle PREROUTING"), out);
    assertTrue(
        out.contains(
            "rawsocket, iptables, output rules (outbound): a connbytes match, 1 BPF match, all"
                + " must accept\n"
                + "  -m connbytes --connbytes 1:6 --connbytes-mode packets --connbytes-dir both\n"
                + "  -m bpf --bytecode \""),
        out);
    assertTrue(out.contains("forces net.netfilter.nf_conntrack_acct on"), out);
    assertTrue(
        Cli.run("filter", "check", "flow.Packets > 2")
            .out()
            .contains(
                "rawsocket, ip6tables, input and forward rules (inbound): a connbytes match\n"
                    + "  -m connbytes --connbytes 3:18446744073709551615"),
        r::toString);
    assertTrue(
        Cli.run("filter", "check", "udp or flow.Packets < 3")
            .out()
            .contains("(outbound): refused: the term 'udp or flow.Packets < 3' cannot be decided"),
        r::toString);
  }
}
