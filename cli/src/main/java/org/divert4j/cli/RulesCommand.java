package org.divert4j.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.divert4j.DivertException;
import org.divert4j.DivertRule;
import org.divert4j.NoListenerPolicy;
import org.divert4j.rawsocket.KernelRules;
import org.divert4j.rawsocket.KernelRules.Entry;
import org.divert4j.rawsocket.KernelRules.OwnerState;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code divert rules}: the kernel backend's divert rules (iptables rules in divert4j's chains,
 * tagged with their owner) in one network namespace, listed, added as static rules, removed, and
 * cleaned of the rules of dead owners, through {@link KernelRules}. Output is scriptable: a table
 * for {@code list}, one line per change for the others, notes ("nothing to clean up") on stderr.
 * Errors go through {@link Main}: missing privileges exit 3 naming the capabilities.
 */
@Command(
    name = "rules",
    mixinStandardHelpOptions = true,
    description = {
      "Manage the kernel backend's divert rules in a network namespace: the iptables rules divert4j"
          + " installs (divert4j's own chains, tagged with the owning host, or 'static' for rules"
          + " added here). Needs root (CAP_NET_ADMIN and CAP_NET_RAW).",
    },
    subcommands = {
      RulesCommand.ListRules.class,
      RulesCommand.AddRule.class,
      RulesCommand.RemoveRule.class,
      RulesCommand.Cleanup.class
    })
final class RulesCommand implements Runnable {
  @Spec CommandSpec spec;

  @Override
  public void run() {
    throw new picocli.CommandLine.ParameterException(
        spec.commandLine(), "Missing a rules command: list, add, remove or cleanup");
  }

  /** Options every rules subcommand takes. */
  static final class Target {
    @Option(
        names = "--netns",
        paramLabel = "NAME",
        description =
            "The network namespace whose rules to manage: a name as 'ip netns' shows it, or a path"
                + " such as /proc/PID/ns/net (default: the current one).")
    String netns;

    String describe() {
      return netns == null ? "the current network namespace" : "network namespace " + netns;
    }
  }

  /**
   * @param e a rule
   * @return e.g. {@code rule 3: input -p icmp -j DIVERT 1234 (static, no-listener drop)}
   */
  static String describe(Entry e) {
    String owner =
        e.state() == OwnerState.STATIC
            ? "static"
            : "host "
                + e.owner()
                + ", pid "
                + e.pid()
                + ", "
                + e.state().name().toLowerCase(Locale.ROOT);
    return "rule "
        + e.id()
        + ": "
        + e.ruleText()
        + " ("
        + owner
        + ", no-listener "
        + HostOptionsMixin.spell(e.noListener())
        + ")";
  }

  /**
   * The table {@code rules list} prints: one header line, one line per rule, columns separated by
   * spaces; every column but the last (the rule) is one word.
   *
   * @param rules the rules
   * @return the lines
   */
  static List<String> table(List<Entry> rules) {
    List<String[]> rows = new ArrayList<>();
    rows.add(
        new String[] {
          "ID", "CHAIN", "PORT", "NO-LISTENER", "OWNER", "PID", "STATE", "BOUND", "PACKETS", "RULE"
        });
    for (Entry e : rules) {
      rows.add(
          new String[] {
            Integer.toString(e.id()),
            e.chain().keyword(),
            e.port() == 0 ? "?" : Integer.toString(e.port()),
            HostOptionsMixin.spell(e.noListener()),
            e.owner().isEmpty() ? "?" : e.owner(),
            e.pid() == 0 ? "-" : Long.toString(e.pid()),
            e.state().name().toLowerCase(Locale.ROOT),
            e.bound() ? "yes" : "no",
            Long.toString(e.packets()),
            e.ruleText()
          });
    }
    int[] width = new int[rows.get(0).length];
    for (String[] r : rows) {
      for (int i = 0; i < r.length; i++) {
        width[i] = Math.max(width[i], r[i].length());
      }
    }
    List<String> lines = new ArrayList<>();
    for (String[] r : rows) {
      StringBuilder sb = new StringBuilder();
      for (int i = 0; i < r.length; i++) {
        sb.append(r[i]);
        if (i < r.length - 1) {
          sb.append(" ".repeat(width[i] - r[i].length() + 2));
        }
      }
      lines.add(sb.toString());
    }
    return lines;
  }

  @Command(
      name = "list",
      mixinStandardHelpOptions = true,
      description = {
        "List divert4j's rules, in evaluation order: id, chain, divert port, no-listener policy,"
            + " owner (a host name, or 'static'), its process, whether it runs (static, alive,"
            + " dead), whether a socket is bound to the port, packets matched, and the rule.",
        "Prints nothing on stdout when there are none."
      })
  static final class ListRules implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Mixin Target target = new Target();

    @Option(
        names = "--all",
        description = "Also list the NFQUEUE rules divert4j did not install (other software's).")
    boolean all;

    @Override
    public Integer call() throws DivertException {
      PrintWriter out = spec.commandLine().getOut();
      List<Entry> rules = KernelRules.list(target.netns);
      if (rules.isEmpty()) {
        spec.commandLine().getErr().println("no divert4j rules in " + target.describe());
      } else {
        table(rules).forEach(out::println);
      }
      if (all) {
        List<String> foreign = KernelRules.foreignQueueRules(target.netns);
        if (!foreign.isEmpty()) {
          out.println();
          out.println("NFQUEUE rules not installed by divert4j (TABLE CHAIN RULE):");
          foreign.forEach(f -> out.println("  " + f));
        }
      }
      return ExitCodes.OK;
    }
  }

  @Command(
      name = "add",
      mixinStandardHelpOptions = true,
      description = {
        "Install a static divert rule: it stays after this command exits, and any program that"
            + " binds its port in the namespace receives its packets (S3). It belongs to no process,"
            + " so neither 'rules cleanup' nor a host's open removes it; 'rules remove ID' does.",
        "Prints one line: the rule and its id."
      })
  static final class AddRule implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Mixin Target target = new Target();

    @Parameters(
        index = "0",
        paramLabel = "RULE",
        converter = Converters.RuleText.class,
        description = "The rule, e.g. \"input -p icmp -j DIVERT 1234\" (see 'divert dump --help').")
    String rule;

    @Option(
        names = "--port",
        paramLabel = "PORT",
        converter = Converters.Port.class,
        description = "The divert port, if the rule does not name one.")
    Integer port;

    @Option(
        names = "--no-listener",
        paramLabel = "POLICY",
        converter = HostOptionsMixin.NoListenerPolicies.class,
        completionCandidates = HostOptionsMixin.NoListenerPolicies.class,
        description =
            "What the rule does while no socket is bound to its port: drop (default) or"
                + " pass-through.")
    NoListenerPolicy noListener = NoListenerPolicy.DROP;

    @Option(
        names = "--filter",
        paramLabel = "EXPR",
        converter = Converters.FilterText.class,
        description =
            "A filter in WinDivert's language the rule also tests (docs/filters.md); the rule may"
                + " carry one as filter \"EXPR\" too, and then both must accept.")
    String filter;

    @Override
    public Integer call() throws CliException, DivertException {
      DivertRule parsed;
      try {
        parsed =
            DivertOptionsMixin.withFilter(DivertRule.parse(rule, port == null ? 0 : port), filter);
      } catch (IllegalArgumentException e) {
        throw CliException.usage(e.getMessage() + " (or give --port)");
      }
      if (port != null && parsed.port() != port) {
        throw CliException.usage(
            "the rule names port " + parsed.port() + " and --port says " + port + ": give one");
      }
      Entry e = KernelRules.add(target.netns, parsed, noListener);
      spec.commandLine().getOut().println("added " + describe(e));
      return ExitCodes.OK;
    }
  }

  @Command(
      name = "remove",
      mixinStandardHelpOptions = true,
      description = {
        "Remove divert4j rules by the id 'rules list' shows, or by their text (every rule equal to"
            + " it). Static rules and rules of dead owners are removed; a running host's rule only"
            + " with --force. Prints one line per removed rule; stops at the first that fails."
      })
  static final class RemoveRule implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Mixin Target target = new Target();

    @Parameters(
        arity = "1..*",
        paramLabel = "ID|RULE",
        description = "Rule ids from 'rules list', or a rule's text (quoted).")
    List<String> which;

    @Option(
        names = "--force",
        description =
            "Also remove rules of running hosts (the host keeps believing they are installed).")
    boolean force;

    @Override
    public Integer call() throws CliException, DivertException {
      List<Object> targets = new ArrayList<>();
      for (String w : which) {
        String t = w.trim();
        if (t.matches("\\d{1,9}")) {
          targets.add(Integer.parseInt(t));
        } else {
          try {
            targets.add(DivertRule.parse(t));
          } catch (IllegalArgumentException e) {
            throw CliException.usage(
                "'" + w + "' is neither a rule id nor a rule: " + e.getMessage());
          }
        }
      }
      PrintWriter out = spec.commandLine().getOut();
      for (Object t : targets) {
        if (t instanceof Integer id) {
          out.println("removed " + describe(KernelRules.remove(target.netns, id, force)));
          continue;
        }
        DivertRule r = (DivertRule) t;
        List<Integer> ids = new ArrayList<>();
        for (Entry e : KernelRules.list(target.netns)) {
          if (e.rule().isPresent() && e.rule().get().equals(r)) {
            ids.add(e.id());
          }
        }
        if (ids.isEmpty()) {
          throw new CliException(
              ExitCodes.FAILURE,
              "no divert4j rule '"
                  + r
                  + "' in "
                  + target.describe()
                  + " (see 'divert rules list')");
        }
        for (int id : ids) {
          out.println("removed " + describe(KernelRules.remove(target.netns, id, force)));
        }
      }
      return ExitCodes.OK;
    }
  }

  @Command(
      name = "cleanup",
      mixinStandardHelpOptions = true,
      description = {
        "Remove what divert hosts whose process is gone left behind: their rules, the port chains"
            + " no rule uses any more, the NFQUEUE lines of ports whose listener died; what the next"
            + " host open does anyway (S51), on demand. Static rules and running hosts' rules stay.",
        "Prints one line per removed item."
      })
  static final class Cleanup implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Mixin Target target = new Target();

    @Option(names = "--dry-run", description = "Only list what would be removed.")
    boolean dryRun;

    @Override
    public Integer call() throws DivertException {
      KernelRules.Cleanup c = KernelRules.cleanup(target.netns, dryRun);
      PrintWriter out = spec.commandLine().getOut();
      String verb = dryRun ? "would remove " : "removed ";
      for (Entry e : c.rules()) {
        out.println(verb + describe(e));
      }
      for (String o : c.other()) {
        out.println(verb + o);
      }
      if (c.isEmpty()) {
        spec.commandLine().getErr().println("nothing to clean up in " + target.describe());
      }
      return ExitCodes.OK;
    }
  }
}
