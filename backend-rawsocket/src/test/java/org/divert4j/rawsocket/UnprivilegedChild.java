package org.divert4j.rawsocket;

import org.divert4j.Divert;
import org.divert4j.DivertRule;
import org.divert4j.HostOptions;
import org.divert4j.NoListenerPolicy;
import org.divert4j.linux.testbed.UnprivilegedJava;

/**
 * Run by {@link UnprivilegedUserTest} in a child JVM as a real unprivileged user: tries every
 * operation of the kernel backend that needs a capability and prints one line per operation, {@code
 * OP <name> -> <exception class> missing=<capabilities> | <message>} (or {@code -> OK}).
 */
public final class UnprivilegedChild {
  private UnprivilegedChild() {}

  public static void main(String[] args) {
    String otherNetns = args.length > 0 ? args[0] : null;
    op("open", () -> new RawSocketProvider().open(HostOptions.defaults()));
    op(
        "open-other-netns",
        () ->
            new RawSocketProvider()
                .open(HostOptions.builder().property("rawsocket.netns", otherNetns).build()));
    op(
        "divert-open",
        () -> {
          System.setProperty(Divert.BACKEND_PROPERTY, "rawsocket");
          return Divert.open();
        });
    op("rules-list", () -> KernelRules.list(null));
    op(
        "rules-add",
        () ->
            KernelRules.add(
                null, DivertRule.parse("input -p icmp -j DIVERT 1234"), NoListenerPolicy.DROP));
    op("rules-remove", () -> KernelRules.remove(null, 1));
    op("rules-cleanup", () -> KernelRules.cleanup(null));
    op("availability", () -> new RawSocketProvider().availability());
    System.out.flush();
  }

  private static void op(String name, UnprivilegedJava.Operation c) {
    UnprivilegedJava.report(name, c);
  }
}
