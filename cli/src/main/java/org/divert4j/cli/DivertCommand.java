package org.divert4j.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/** The top-level {@code divert} command: holds the subcommands and the global options. */
@Command(
    name = "divert",
    mixinStandardHelpOptions = true,
    versionProvider = DivertCommand.Version.class,
    synopsisSubcommandLabel = "COMMAND",
    description = {
      "Divert sockets for the JVM: take packets out of a host's IP stack with DIVERT rules, then"
          + " drop, change, reinject or inject them.",
      "",
      "Start with 'divert demo' (no privileges needed: it runs on the simulation backend)."
    },
    subcommands = {
      DemoCommand.class,
      DumpCommand.class,
      ImpairCommand.class,
      TckCommand.class,
      BackendsCommand.class,
      RulesCommand.class,
      FilterCommand.class
    },
    exitCodeListHeading = "%nExit status:%n",
    exitCodeList = {
      "0:Success.",
      "1:Failure: a required TCK rule failed, the demo saw something unexpected, or a divert or"
          + " I/O error.",
      "2:Usage error: unknown option, command or backend; malformed rule; value out of range.",
      "3:The backend cannot be used here: unavailable, or privileges are missing.",
      "130:Ended by Ctrl-C (dump and impair print their summaries first)."
    },
    footerHeading = "%n",
    footer = {
      "Backends are found on the class path; name one with --backend NAME, or with"
          + " -Ddivert.backend=NAME / DIVERT_BACKEND=NAME. See docs/cli.md."
    })
public final class DivertCommand implements Runnable {
  @Spec CommandSpec spec;

  @Option(
      names = "--debug",
      scope = ScopeType.INHERIT,
      description = "Print stack traces with errors.")
  boolean debug;

  @Override
  public void run() {
    // No subcommand: show what there is, and say it was a usage error.
    spec.commandLine().usage(spec.commandLine().getErr());
    throw new picocli.CommandLine.ParameterException(spec.commandLine(), "Missing a command");
  }

  /** Reports the project version from the jar manifest, or "development build". */
  static final class Version implements picocli.CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = DivertCommand.class.getPackage().getImplementationVersion();
      return new String[] {
        "divert (divert4j) " + (v == null ? "0.1.0-SNAPSHOT" : v),
        "Java "
            + System.getProperty("java.version")
            + " ("
            + System.getProperty("java.vm.name")
            + ")"
      };
    }
  }
}
