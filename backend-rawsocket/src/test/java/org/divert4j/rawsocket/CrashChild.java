package org.divert4j.rawsocket;

import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.HostOptions;

/**
 * Run in a child JVM by {@link LifecycleTest}: opens a host, adds rules, and waits to be killed.
 */
public final class CrashChild {
  private CrashChild() {}

  public static void main(String[] args) throws Exception {
    HostOptions o = HostOptions.builder().property("rawsocket.netns", args[0]).build();
    DivertHost h = new RawSocketProvider().open(o);
    h.addRule(DivertRule.parse("input -p icmp -j DIVERT 4444"));
    h.addRule(DivertRule.parse("output -p udp -j DIVERT 4445"));
    h.bind(4444);
    System.out.println("READY " + h.name());
    System.out.flush();
    Thread.sleep(120_000);
  }
}
