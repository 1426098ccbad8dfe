package org.divert4j.cli;

import static java.nio.charset.StandardCharsets.US_ASCII;

import java.io.IOException;
import java.net.Inet4Address;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import org.divert4j.DivertRule;
import org.divert4j.Ipv4;
import org.divert4j.packet.Ipv4Builder;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestNode;

/**
 * {@code divert dump --generate N}: sends N packets from the test bed's peer to the host on a
 * thread of its own, pings, UDP or TCP SYNs by the rules' protocols, keeping at most half a queue
 * in flight. {@link #done()} and {@link #error()} may be read from any thread.
 */
final class DumpGenerator {
  private static final int ECHO_ID = 0xd1;

  /** The kinds of packet sent, chosen by the rules' protocols. */
  private enum Kind {
    ECHO,
    UDP,
    TCP
  }

  private final TestBed bed;
  private final Kind[] cycle;
  private final int udpPort;
  private final int tcpPort;
  private volatile boolean done = true;
  private volatile IOException error;

  /**
   * @param bed the test bed whose peer sends
   * @param rules the rules the packets are for: their protocols and destination ports
   */
  DumpGenerator(TestBed bed, List<DivertRule> rules) {
    this.bed = bed;
    Set<Kind> kinds = new LinkedHashSet<>();
    int udp = 9;
    int tcp = 80;
    for (DivertRule r : rules) {
      switch (r.protocol()) {
        case DivertRule.ICMP -> kinds.add(Kind.ECHO);
        case DivertRule.UDP -> {
          kinds.add(Kind.UDP);
          udp = r.destinationPortLow() == 0 ? udp : r.destinationPortLow();
        }
        case DivertRule.TCP -> {
          kinds.add(Kind.TCP);
          tcp = r.destinationPortLow() == 0 ? tcp : r.destinationPortLow();
        }
        default -> {
          kinds.add(Kind.ECHO);
          kinds.add(Kind.UDP);
        }
      }
    }
    this.cycle = kinds.toArray(new Kind[0]);
    this.udpPort = udp;
    this.tcpPort = tcp;
  }

  /**
   * Starts sending on a daemon thread.
   *
   * @param count how many packets
   * @param queueLength the host's queue length: at most half of it is kept in flight
   * @param handled how many packets the dump has handled so far
   * @param stopping true once the dump is stopping; the thread then ends
   */
  void start(int count, int queueLength, LongSupplier handled, BooleanSupplier stopping) {
    TestNode peer = bed.peer();
    Inet4Address to = bed.hostNode().address();
    int from = Ipv4.toInt(peer.address());
    int dst = Ipv4.toInt(to);
    done = false;
    Thread t =
        new Thread(
            () -> {
              try {
                // Keep at most half a queue in flight, so a benchmark measures the loop, not
                // queue-full drops; a bounded wait, in case the rules do not divert this traffic.
                long limit = Math.max(1, queueLength / 2);
                for (int i = 0; i < count && !stopping.getAsBoolean(); i++) {
                  long waitUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100);
                  while (i - handled.getAsLong() >= limit
                      && !stopping.getAsBoolean()
                      && System.nanoTime() < waitUntil) {
                    LockSupport.parkNanos(20_000);
                  }
                  int seq = (i & 0xffff) + 1;
                  switch (cycle[i % cycle.length]) {
                    case ECHO ->
                        peer.sendRaw(
                            Ipv4Builder.icmpEchoRequest(ECHO_ID, seq & 0xffff)
                                .source(from)
                                .destination(dst)
                                .identification(seq)
                                .payload(new byte[56])
                                .build());
                    case UDP ->
                        peer.sendUdp(
                            to, 40000, udpPort, ("divert4j dump " + (i + 1)).getBytes(US_ASCII));
                    case TCP ->
                        peer.sendRaw(
                            Ipv4Builder.tcp(40000, tcpPort)
                                .source(from)
                                .destination(dst)
                                .identification(seq)
                                .tcpFlags(Ipv4Builder.TCP_SYN)
                                .sequence(i)
                                .build());
                  }
                }
              } catch (IOException e) {
                if (!stopping.getAsBoolean()) {
                  error = e;
                }
              } finally {
                done = true;
              }
            },
            "divert-dump-generator");
    t.setDaemon(true);
    t.start();
  }

  /**
   * @return true before {@link #start} and once every packet is sent (or sending failed)
   */
  boolean done() {
    return done;
  }

  /**
   * @return why the peer could not send, or null
   */
  IOException error() {
    return error;
  }
}
