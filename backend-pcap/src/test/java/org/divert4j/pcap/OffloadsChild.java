package org.divert4j.pcap;

import org.divert4j.DivertHost;
import org.divert4j.HostOptions;

/**
 * Run by {@link OffloadsTest} in a child JVM: opens an inline pcap host with the {@code key=value}
 * properties of its arguments, prints {@code READY <host name>} and waits to be killed (SIGKILL: no
 * close, no shutdown hook), holding the host.
 */
public final class OffloadsChild {
  private OffloadsChild() {}

  public static void main(String[] args) throws Exception {
    HostOptions.Builder b = HostOptions.builder();
    for (String a : args) {
      int eq = a.indexOf('=');
      b.property(a.substring(0, eq), a.substring(eq + 1));
    }
    DivertHost h = new PcapProvider().open(b.build());
    System.out.println("READY " + h.name());
    System.out.flush();
    Thread.sleep(Long.MAX_VALUE);
  }
}
