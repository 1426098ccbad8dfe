package org.divert4j.cli;

import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import org.divert4j.Direction;
import org.divert4j.IpFamily;
import org.divert4j.filter.ClassicBpf;
import org.divert4j.filter.Filter;
import org.divert4j.filter.FlowRange;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code divert filter check EXPR}: what a filter means and what each backend makes of it. */
@Command(
    name = "filter",
    mixinStandardHelpOptions = true,
    description = "Filter expressions in WinDivert's language (docs/filters.md).",
    subcommands = FilterCommand.Check.class)
final class FilterCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    throw new ParameterException(spec.commandLine(), "Missing a filter command: check");
  }

  @Command(
      name = "check",
      mixinStandardHelpOptions = true,
      description = {
        "Parse a filter and print it in canonical form, then what each backend makes of it: the"
            + " simulation and pcap evaluate it in the engine; the kernel backend (rawsocket)"
            + " installs classic BPF programs as -m bpf matches of iptables (IPv4) and ip6tables"
            + " (IPv6), listed as tcpdump -d lists them, or refuses the filter naming the limit"
            + " or the field.",
        "A bad filter is a usage error naming the position and what was expected."
      })
  static final class Check implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(
        index = "0",
        paramLabel = "EXPR",
        converter = Converters.FilterText.class,
        description = "The filter, e.g. \"tcp.DstPort == 443 and tcp.PayloadLength > 0\".")
    String filter;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      Filter f = Filter.parse(filter);
      out.println("filter: " + f);
      out.println("tests: " + f.tests());
      out.println("sim, pcap: evaluated in the engine after the rule's other matches");
      if (!f.usesFlow()) {
        for (IpFamily family : IpFamily.values()) {
          kernel(out, f, "input and forward rules (inbound)", Direction.INBOUND, family);
          kernel(out, f, "output rules (outbound)", Direction.OUTBOUND, family);
        }
        return ExitCodes.OK;
      }
      out.println(
          "  flow.Packets (S68): counted per connection, both directions, by the engine's own"
              + " table");
      for (IpFamily family : IpFamily.values()) {
        kernel(out, f, "input and forward rules (inbound)", Direction.INBOUND, family);
        kernel(out, f, "output rules (outbound)", Direction.OUTBOUND, family);
      }
      out.println(
          "rawsocket: connbytes turns connection tracking, and with it defragmentation, on in the"
              + " namespace (only ALWAYS_DEFRAGMENT hosts accept the rule) and forces"
              + " net.netfilter.nf_conntrack_acct on (set off again, if it was off, once no"
              + " connbytes rule is left) (net/netfilter/xt_connbytes.c, connbytes_mt_check);"
              + " while an input rule counts, the namespace's input rules live in mangle"
              + " PREROUTING (priority -150, after conntrack at -200) instead of raw (-300)");
      return ExitCodes.OK;
    }

    /** What the kernel backend installs for the filter in one family's table, or why it cannot. */
    private static void kernel(
        PrintWriter out, Filter f, String rules, Direction d, IpFamily family) {
      boolean six = family == IpFamily.IPV6;
      String which = (six ? "ip6tables" : "iptables") + ", " + rules;
      List<List<ClassicBpf.Insn>> programs;
      String connbytes = null;
      try {
        Filter bytes = f;
        if (f.usesFlow()) {
          FlowRange range = FlowRange.split(f);
          connbytes = range.connbytesMatch();
          bytes = range.rest();
        }
        programs =
            bytes == null
                ? List.of()
                : six
                    ? ClassicBpf.compileIpv6(bytes, d, ClassicBpf.XT_BPF_MAX_NUM_INSTR)
                    : ClassicBpf.compileIpv4(bytes, d, ClassicBpf.XT_BPF_MAX_NUM_INSTR);
      } catch (IllegalArgumentException e) {
        out.println("rawsocket, " + which + ": refused: " + e.getMessage());
        return;
      }
      if (programs.isEmpty() && connbytes == null) {
        out.println(
            "rawsocket, "
                + which
                + ": no match needed (every "
                + (six ? "IPv6" : "IPv4")
                + " packet passes)");
        return;
      }
      out.println(
          "rawsocket, "
              + which
              + ": "
              + (connbytes == null ? "" : "a connbytes match" + (programs.isEmpty() ? "" : ", "))
              + (programs.isEmpty() ? "" : programs.size() + " BPF match")
              + (programs.size() > 1 ? "es" : "")
              + (programs.size() + (connbytes == null ? 0 : 1) > 1 ? ", all must accept" : ""));
      if (connbytes != null) {
        out.println("  " + connbytes);
      }
      for (List<ClassicBpf.Insn> p : programs) {
        out.println("  -m bpf --bytecode \"" + ClassicBpf.bytecode(p) + "\"");
        for (String line : ClassicBpf.listing(p).split("\n")) {
          out.println("    " + line);
        }
      }
    }
  }
}
