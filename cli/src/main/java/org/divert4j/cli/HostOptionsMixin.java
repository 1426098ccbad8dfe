package org.divert4j.cli;

import java.util.LinkedHashMap;
import java.util.Map;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.NoListenerPolicy;
import picocli.CommandLine.Option;

/**
 * The host options every subcommand that opens a host takes: the seed's compile-time options,
 * chosen at run time (SEMANTICS.md "Host options"), the socket queue, and backend properties.
 */
public final class HostOptionsMixin {
  /** Fragment modes, in the spelling of the command line. */
  static final class FragmentModes extends Converters.Choices<FragmentMode> {
    FragmentModes() {
      super(
          "fragment mode",
          Map.of(
              "per-fragment", FragmentMode.PER_FRAGMENT,
              "always-defragment", FragmentMode.ALWAYS_DEFRAGMENT));
    }
  }

  /** No-listener policies, in the spelling of the command line. */
  static final class NoListenerPolicies extends Converters.Choices<NoListenerPolicy> {
    NoListenerPolicies() {
      super(
          "no-listener policy",
          Map.of("drop", NoListenerPolicy.DROP, "pass-through", NoListenerPolicy.PASS_THROUGH));
    }
  }

  @Option(
      names = "--fragments",
      paramLabel = "MODE",
      converter = FragmentModes.class,
      completionCandidates = FragmentModes.class,
      description = {
        "per-fragment (default): each fragment of a large datagram is diverted on its own, and the"
            + " MTU limits injection;",
        "always-defragment: datagrams are reassembled before the rules see them, and fragmented"
            + " again on the way out."
      })
  FragmentMode fragments;

  @Option(
      names = "--no-listener",
      paramLabel = "POLICY",
      converter = NoListenerPolicies.class,
      completionCandidates = NoListenerPolicies.class,
      description = {
        "What a DIVERT rule does when no socket is bound to its port: drop (default: silently,"
            + " like DENY) or pass-through (the packet continues as if the rule were absent)."
      })
  NoListenerPolicy noListener;

  @Option(
      names = "--queue-length",
      paramLabel = "N",
      converter = Converters.QueueLength.class,
      description =
          "Packets one socket holds at most, waiting or received and not yet written back"
              + " (1..65535, default 1024); beyond it packets are dropped and counted.")
  Integer queueLength;

  @Option(
      names = "--fail-open",
      description =
          "Packets that find the socket's queue full continue as if not diverted, instead of being"
              + " dropped.")
  boolean failOpen;

  @Option(
      names = {"-P", "--property"},
      paramLabel = "NAME=VALUE",
      description =
          "A backend property, e.g. rawsocket.netns=blue or sim.privileges=none (repeatable).")
  Map<String, String> properties = new LinkedHashMap<>();

  /**
   * @return a builder holding these options on top of the defaults
   */
  HostOptions.Builder builder() {
    HostOptions.Builder b = HostOptions.builder().failOpen(failOpen);
    if (fragments != null) {
      b.fragments(fragments);
    }
    if (noListener != null) {
      b.noListener(noListener);
    }
    if (queueLength != null) {
      b.queueLength(queueLength);
    }
    properties.forEach(b::property);
    return b;
  }

  /**
   * @return the options
   */
  HostOptions toHostOptions() {
    return builder().build();
  }

  /**
   * @param mode a fragment mode
   * @return its command-line spelling, e.g. {@code per-fragment}
   */
  static String spell(FragmentMode mode) {
    return mode == FragmentMode.PER_FRAGMENT ? "per-fragment" : "always-defragment";
  }

  /**
   * @param policy a no-listener policy
   * @return its command-line spelling, e.g. {@code pass-through}
   */
  static String spell(NoListenerPolicy policy) {
    return policy == NoListenerPolicy.DROP ? "drop" : "pass-through";
  }
}
