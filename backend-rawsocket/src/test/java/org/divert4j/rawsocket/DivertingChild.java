package org.divert4j.rawsocket;

import java.time.Duration;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.HostOptions;
import org.divert4j.NoListenerPolicy;
import org.divert4j.PacketBatch;

/**
 * Run in a child JVM by {@link CrashSafetyTest}: opens a host in a namespace with a no-listener
 * policy, diverts UDP to one port and writes back everything it receives, until it is killed.
 *
 * <p>Arguments: namespace ({@code -} for the one it runs in), policy (DROP or PASS_THROUGH), UDP
 * destination port, divert port.
 */
public final class DivertingChild {
  private DivertingChild() {}

  public static void main(String[] args) throws Exception {
    HostOptions.Builder b = HostOptions.builder().noListener(NoListenerPolicy.valueOf(args[1]));
    if (!args[0].equals("-")) {
      b.property("rawsocket.netns", args[0]);
    }
    HostOptions o = b.build();
    DivertHost h = new RawSocketProvider().open(o);
    h.addRule(DivertRule.parse("input -p udp --dport " + args[2] + " -j DIVERT " + args[3]));
    DivertSocket s = h.bind(Integer.parseInt(args[3]));
    System.out.println("READY " + h.name());
    System.out.flush();
    PacketBatch batch = PacketBatch.allocate(16, 2048, false);
    while (true) {
      if (s.receive(batch, Duration.ofSeconds(1)) > 0) {
        s.send(batch);
      }
    }
  }
}
