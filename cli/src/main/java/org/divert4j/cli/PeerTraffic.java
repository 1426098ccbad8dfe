package org.divert4j.cli;

import static java.nio.charset.StandardCharsets.US_ASCII;

import java.io.IOException;
import java.net.Inet4Address;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.divert4j.DivertRule;
import org.divert4j.Ipv4;
import org.divert4j.packet.Ipv4Builder;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestNode;

/**
 * Traffic for {@code divert impair --generate}: datagrams from the test bed's peer to the host that
 * the first rule matches (pings for an icmp rule, else UDP to its destination port), on a daemon
 * thread.
 */
final class PeerTraffic {
  private PeerTraffic() {}

  /**
   * @param bed the test bed
   * @param rule the rule to match (not TCP)
   * @param count how many to send
   * @param stopping true when sending should stop early
   * @param onError called with the error if the peer cannot send
   * @param onDone called when the thread ends, always
   */
  static void start(
      TestBed bed,
      DivertRule rule,
      int count,
      BooleanSupplier stopping,
      Consumer<IOException> onError,
      Runnable onDone) {
    boolean icmp = rule.protocol() == DivertRule.ICMP;
    int dport = rule.destinationPortLow() == 0 ? 9 : rule.destinationPortLow();
    TestNode peer = bed.peer();
    Inet4Address to = bed.hostNode().address();
    int from = Ipv4.toInt(peer.address());
    int dst = Ipv4.toInt(to);
    Thread t =
        new Thread(
            () -> {
              try {
                for (int i = 0; i < count && !stopping.getAsBoolean(); i++) {
                  if (icmp) {
                    peer.sendRaw(
                        Ipv4Builder.icmpEchoRequest(0xd2, (i + 1) & 0xffff)
                            .source(from)
                            .destination(dst)
                            .identification((i + 1) & 0xffff)
                            .payload(new byte[56])
                            .build());
                  } else {
                    peer.sendUdp(
                        to, 40000, dport, ("divert4j impair " + (i + 1)).getBytes(US_ASCII));
                  }
                }
              } catch (IOException e) {
                if (!stopping.getAsBoolean()) {
                  onError.accept(e);
                }
              } finally {
                onDone.run();
              }
            },
            "divert-impair-generator");
    t.setDaemon(true);
    t.start();
  }
}
