package org.divert4j.linux.testbed;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A broker's client in a namespace of its own, for {@link NamespaceBrokerTest}: run with {@code ip
 * netns exec}, it connects, configures its own namespace through the broker (a veth {@code d4jx0}
 * to a new peer, forwarding on), prints {@code READY}; on the input line {@code reset} closes its
 * namespace handle (the broker restores it) and prints {@code RESET}; at the end of its input it
 * exits without closing anything else (the broker cleans up after the connection).
 */
public final class BrokerSelfChild {
  private BrokerSelfChild() {}

  public static void main(String[] args) throws Exception {
    NamespaceBrokerClient c = NamespaceBrokerClient.connect(Path.of(args[0]));
    Netns self = c.self();
    Netns peer = c.create("peer");
    VethPair.create(peer, "eth0", self, "d4jx0", 1400);
    self.sysctl("net.ipv4.ip_forward", "1");
    System.out.println("READY " + peer.name());
    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line; (line = in.readLine()) != null; ) {
      if (line.equals("reset")) {
        self.close();
        System.out.println("RESET");
      }
    }
    System.exit(0);
  }
}
