package org.divert4j.impair;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import org.divert4j.DivertRule;
import org.divert4j.pcap.PcapProvider;
import org.divert4j.rawsocket.RawSocketProvider;
import org.divert4j.sim.SimProvider;
import org.divert4j.spi.Availability;
import org.divert4j.spi.DivertProvider;
import org.divert4j.testbed.Datagram;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The same impairment on every backend, through its test bed, on the real clock and driven by
 * {@link Impairer#run()} on a thread of its own, as a program would: a delay is never shorter than
 * asked, the losses are the seed's (the same on every backend, since the datagrams arrive in the
 * same order), and every datagram not lost arrives once. A backend that cannot run here (the kernel
 * backends without root) skips with the reason.
 */
class ImpairEveryBackendTest {
  private static final long DELAY_NANOS = 30_000_000L;
  private static final int N = 300;

  private static DivertProvider provider(String name) {
    return switch (name) {
      case "sim" -> new SimProvider();
      case "rawsocket" -> new RawSocketProvider();
      case "pcap" -> new PcapProvider();
      default -> throw new IllegalArgumentException(name);
    };
  }

  @ParameterizedTest
  @ValueSource(strings = {"sim", "rawsocket", "pcap"})
  void udpIsDelayedAtLeastTheDelayAndLosesWhatTheSeedSays(String backend) throws Exception {
    DivertProvider provider = provider(backend);
    Availability a = provider.availability();
    assumeTrue(a.available(), () -> backend + " unavailable: " + a.reason());
    Impairment m = Impairment.builder().delay(Duration.ofNanos(DELAY_NANOS)).loss(0.2).build();
    List<Throwable> failures = new ArrayList<>();
    try (TestBed bed = RealRun.bed(provider, m);
        UdpEndpoint sink = bed.hostNode().openUdp(9000)) {
      Impairer imp =
          Impairer.builder(bed.host(), 77)
              .rule(DivertRule.parse("input udp dport 9000", 77), m)
              .seed(5)
              .start();
      Thread t = RealRun.driver(imp, failures);
      List<Long> delays = new ArrayList<>();
      boolean[] seen = new boolean[N];
      try {
        for (int i = 0; i < N; i++) {
          ByteBuffer b = ByteBuffer.allocate(12);
          b.putInt(i).putLong(System.nanoTime());
          bed.peer().sendUdp(bed.hostNode().address(), 40000, 9000, b.array());
          LockSupport.parkNanos(1_000_000L);
        }
        Datagram d;
        while ((d = sink.receive(Duration.ofSeconds(2))) != null) {
          long arrived = System.nanoTime();
          ByteBuffer b = ByteBuffer.wrap(d.payload());
          int seq = b.getInt();
          assertTrue(!seen[seq], "datagram " + seq + " arrived twice");
          seen[seq] = true;
          delays.add(arrived - b.getLong());
          if (delays.size() + imp.stats().lost() == N) {
            break;
          }
        }
      } finally {
        imp.stop();
        t.join();
        imp.close();
      }
      assertEquals(List.of(), failures);
      ImpairStats s = imp.stats();
      assertEquals(N, s.received());
      assertEquals(N - s.lost(), s.sent());
      assertEquals(s.sent(), delays.size(), "every datagram not lost arrived");
      // Seed 5's decisions for 300 packets in arrival order, the same on every backend; within 5
      // sd of Binomial(300, 0.2).
      RuleState seed5 = new RuleState(m, 5, 0);
      long expected = 0;
      for (int i = 0; i < N; i++) {
        expected += seed5.lose() ? 1 : 0;
      }
      assertEquals(expected, s.lost(), "the seed's losses");
      assertTrue(Math.abs(s.lost() - 60) <= 34, "lost " + s.lost());
      for (long d : delays) {
        assertTrue(d >= DELAY_NANOS, "a datagram arrived after " + d + " ns");
      }
      assertNull(sink.receive(Duration.ZERO));
      assertTrue(bed.host().rules().isEmpty(), "closing removed the rule");
    }
  }
}
