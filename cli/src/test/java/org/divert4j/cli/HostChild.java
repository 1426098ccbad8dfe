package org.divert4j.cli;

import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.HostOptions;
import org.divert4j.rawsocket.RawSocketProvider;

/**
 * Run in a child JVM by {@link RulesCommandTest}: opens a kernel host in the namespace named by its
 * argument, adds a rule, binds its port, and waits to be killed (a host whose owner dies).
 */
public final class HostChild {
  private HostChild() {}

  public static void main(String[] args) throws Exception {
    HostOptions o = HostOptions.builder().property("rawsocket.netns", args[0]).build();
    DivertHost h = new RawSocketProvider().open(o);
    h.addRule(DivertRule.parse("output -p udp -j DIVERT 4445"));
    h.bind(4445);
    System.out.println("READY " + h.name());
    System.out.flush();
    Thread.sleep(120_000);
  }
}
