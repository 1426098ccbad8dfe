package org.divert4j.cli;

import java.util.concurrent.Callable;
import org.divert4j.spi.Availability;
import org.divert4j.spi.DivertProvider;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code divert rules}: the kernel backend's divert rules (iptables NFQUEUE rules tagged with their
 * owner), listed, added, removed and cleaned up. Every subcommand needs the rawsocket backend;
 * until its rule management is on the class path they fail with one line saying so, never with a
 * faked success.
 */
@Command(
    name = "rules",
    mixinStandardHelpOptions = true,
    description = {
      "Manage the kernel backend's divert rules: the iptables rules divert4j installs (target"
          + " NFQUEUE, tagged with the owning host). Needs the rawsocket backend and root.",
    },
    subcommands = {
      RulesCommand.ListRules.class,
      RulesCommand.AddRule.class,
      RulesCommand.RemoveRule.class,
      RulesCommand.Cleanup.class
    })
final class RulesCommand implements Runnable {
  static final String BACKEND = "rawsocket";

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

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
        description = "The network namespace whose rules to manage (default: the current one).")
    String netns;
  }

  /**
   * Finds the kernel backend's rule management.
   *
   * @throws CliException always, for now: {@link ExitCodes#UNAVAILABLE} with the reason
   */
  static void kernelRules() throws CliException {
    DivertProvider p;
    try {
      p = Backends.find(BACKEND);
    } catch (CliException e) {
      throw new CliException(
          ExitCodes.UNAVAILABLE,
          "the rawsocket backend is not available: it is not on the class path (this build has no"
              + " kernel backend)");
    }
    Availability a = p.availability();
    if (!a.available()) {
      throw new CliException(
          ExitCodes.UNAVAILABLE,
          "the rawsocket backend is not available: " + Main.oneLine(a.reason()),
          a.cause());
    }
    throw new CliException(
        ExitCodes.UNAVAILABLE,
        "the rawsocket backend is not available for rule management: this build of divert4j has"
            + " no rule-management interface in the rawsocket backend yet");
  }

  @Command(
      name = "list",
      mixinStandardHelpOptions = true,
      description =
          "List divert4j's rules: chain, match, port, owning host, and whether it is alive.")
  static final class ListRules implements Callable<Integer> {
    @Mixin Target target = new Target();

    @Option(names = "--all", description = "Also list NFQUEUE rules divert4j did not install.")
    boolean all;

    @Override
    public Integer call() throws CliException {
      kernelRules();
      return ExitCodes.OK;
    }
  }

  @Command(
      name = "add",
      mixinStandardHelpOptions = true,
      description = {
        "Install a divert rule that stays after this command exits, so another program can bind"
            + " its port (S3). It belongs to no running host: 'rules remove' or 'rules cleanup'"
            + " removes it."
      })
  static final class AddRule implements Callable<Integer> {
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

    @Override
    public Integer call() throws CliException {
      try {
        org.divert4j.DivertRule.parse(rule, port == null ? 0 : port);
      } catch (IllegalArgumentException e) {
        throw CliException.usage(e.getMessage() + " (or give --port)");
      }
      kernelRules();
      return ExitCodes.OK;
    }
  }

  @Command(
      name = "remove",
      mixinStandardHelpOptions = true,
      description = "Remove divert4j rules by the id 'rules list' shows, or by their text.")
  static final class RemoveRule implements Callable<Integer> {
    @Mixin Target target = new Target();

    @Parameters(
        arity = "1..*",
        paramLabel = "ID|RULE",
        description = "Rule ids from 'rules list', or a rule's text.")
    java.util.List<String> which;

    @Override
    public Integer call() throws CliException {
      kernelRules();
      return ExitCodes.OK;
    }
  }

  @Command(
      name = "cleanup",
      mixinStandardHelpOptions = true,
      description =
          "Remove the rules (and queues) of divert hosts whose process is gone: what the next host"
              + " open does anyway (S51), on demand.")
  static final class Cleanup implements Callable<Integer> {
    @Mixin Target target = new Target();

    @Option(names = "--dry-run", description = "Only list what would be removed.")
    boolean dryRun;

    @Override
    public Integer call() throws CliException {
      kernelRules();
      return ExitCodes.OK;
    }
  }
}
