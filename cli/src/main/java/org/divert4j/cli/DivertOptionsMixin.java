package org.divert4j.cli;

import java.util.ArrayList;
import java.util.List;
import org.divert4j.DivertRule;
import org.divert4j.HostOptions;
import org.divert4j.spi.DivertProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The options every subcommand that diverts packets to a port of its own takes ({@code dump},
 * {@code impair}): the rules, the port they divert to, the backend and its network namespace, the
 * receive batch; and the checks that go with them. Messages name the command that mixes this in.
 */
final class DivertOptionsMixin {
  @Spec(Spec.Target.MIXEE)
  CommandSpec mixee;

  @Option(
      names = "--rule",
      paramLabel = "RULE",
      converter = Converters.RuleText.class,
      description =
          "A divert rule (repeatable), e.g. \"input icmp\" or \"input udp dport 9000\"; syntax in"
              + " 'divert dump --help'. Default with --filter: \"input\" and \"output\".")
  List<String> rules = new ArrayList<>();

  @Option(
      names = "--filter",
      paramLabel = "EXPR",
      converter = Converters.FilterText.class,
      description =
          "A filter in WinDivert's language that every rule also tests, e.g. \"tcp.DstPort == 443"
              + " and tcp.PayloadLength > 0\" (docs/filters.md).")
  String filter;

  @Option(
      names = "--port",
      paramLabel = "PORT",
      defaultValue = "1234",
      converter = Converters.Port.class,
      description = "The divert port to bind, 1..65535 (default: ${DEFAULT-VALUE}).")
  int port;

  @Option(
      names = "--backend",
      paramLabel = "NAME",
      description =
          "The backend (default: divert.backend / DIVERT_BACKEND, else the best one available).")
  String backend;

  @Option(
      names = "--netns",
      paramLabel = "NAME",
      description = "rawsocket: divert in this network namespace (host property rawsocket.netns).")
  String netns;

  @Option(
      names = "--batch",
      paramLabel = "N",
      defaultValue = "64",
      converter = Converters.BatchSize.class,
      description = "Packets received per call, 1..1024 (default: ${DEFAULT-VALUE}).")
  int batchSize;

  /**
   * @return the rules, parsed with {@code --port} as their default divert port
   * @throws CliException (usage) if a rule names a divert port other than {@code --port}, which the
   *     command would never receive from
   */
  List<DivertRule> parseRules() throws CliException {
    List<DivertRule> parsed = new ArrayList<>();
    if (rules.isEmpty() && filter == null) {
      throw CliException.usage(mixee.name() + " needs --rule, --filter or both");
    }
    for (String text : rules.isEmpty() ? List.of("input", "output") : rules) {
      DivertRule r = withFilter(DivertRule.parse(text, port), filter);
      if (r.port() != port) {
        throw CliException.usage(
            "rule '"
                + text
                + "' diverts to port "
                + r.port()
                + " but "
                + mixee.name()
                + " listens on port "
                + port
                + ": drop the port from the rule or use --port "
                + r.port());
      }
      parsed.add(r);
    }
    return parsed;
  }

  /**
   * @return the rule, also testing {@code filter} (with its own filter, both must accept)
   */
  static DivertRule withFilter(DivertRule r, String filter) {
    if (filter == null) {
      return r;
    }
    String both = r.filter() == null ? filter : "(" + r.filter() + ") and (" + filter + ")";
    return r.toBuilder().filter(both).divertTo(r.port());
  }

  /**
   * @return the backend {@code --backend} names, or the default one
   * @throws CliException (usage) if {@code --netns} is given for a backend other than rawsocket; or
   *     as {@link Backends#select}
   */
  DivertProvider provider() throws CliException {
    DivertProvider provider = Backends.select(backend);
    if (netns != null && !provider.name().equals("rawsocket")) {
      throw CliException.usage(
          "--netns is an option of the rawsocket backend, not " + provider.name());
    }
    return provider;
  }

  /**
   * @param host the command's host options
   * @return a builder holding them, and {@code --netns} as the property rawsocket.netns
   */
  HostOptions.Builder hostOptions(HostOptionsMixin host) {
    HostOptions.Builder options = host.builder();
    if (netns != null) {
      options.property("rawsocket.netns", netns);
    }
    return options;
  }

  /**
   * @param rules parsed rules
   * @return them quoted and joined for a status line, e.g. {@code 'input icmp', 'output icmp'}
   */
  static String ruleTexts(List<DivertRule> rules) {
    List<String> t = new ArrayList<>();
    for (DivertRule r : rules) {
      t.add("'" + r + "'");
    }
    return String.join(", ", t);
  }
}
