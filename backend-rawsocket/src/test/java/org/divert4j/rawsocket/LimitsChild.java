package org.divert4j.rawsocket;

import java.time.Duration;
import org.divert4j.DivertHost;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;

/**
 * Run in a child JVM by {@link ReassemblyLimitsTest}: opens an ALWAYS_DEFRAGMENT host with
 * reassembly limits of its own in the namespace {@code args[0]}, and waits to be killed.
 */
public final class LimitsChild {
  private LimitsChild() {}

  public static void main(String[] args) throws Exception {
    HostOptions o =
        HostOptions.builder()
            .property("rawsocket.netns", args[0])
            .fragments(FragmentMode.ALWAYS_DEFRAGMENT)
            .reassemblyTimeout(Duration.ofSeconds(Long.parseLong(args[1])))
            .reassemblyMemory(Long.parseLong(args[2]))
            .build();
    DivertHost h = new RawSocketProvider().open(o);
    System.out.println("READY " + h.name());
    System.out.flush();
    Thread.sleep(120_000);
  }
}
