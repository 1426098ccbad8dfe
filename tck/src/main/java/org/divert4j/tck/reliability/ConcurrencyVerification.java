package org.divert4j.tck.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.divert4j.DivertAddress;
import org.divert4j.DivertHost;
import org.divert4j.DivertSocket;
import org.divert4j.Ipv4;
import org.divert4j.SocketStats;
import org.divert4j.packet.Ipv4Builder;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.junit.jupiter.api.Test;

/**
 * Concurrency, the same on every backend (issue 8): several threads and sockets at once with
 * sequence-numbered traffic lose and duplicate nothing ({@code -Ddivert.reliability=long}: 60 s).
 */
public abstract class ConcurrencyVerification extends ReliabilityVerification {
  /**
   * @param backend the backend under test
   */
  protected ConcurrencyVerification(ReliabilityBackend backend) {
    super(backend);
  }

  /** Four threads receive and write back on one socket while two more inject through it. */
  @Test
  void manyThreadsOnOneSocketLoseAndDuplicateNothing() throws Exception {
    stress("concurrency-one-socket", 1, 4, 2);
  }

  /** Three sockets with two receiving threads each, and injecting threads on them. */
  @Test
  void manyThreadsOnSeveralSocketsLoseAndDuplicateNothing() throws Exception {
    stress("concurrency-several-sockets", 3, 2, 3);
  }

  private void stress(String name, int sockets, int threadsPerSocket, int injectors)
      throws Exception {
    int ratePerStream = 500;
    Duration duration = seconds(3, 60);
    try (TestBed bed = newBed(TestBedOptions.defaults())) {
      DivertHost host = bed.host();
      DivertSocket[] socket = new DivertSocket[sockets];
      Traffic.Sink[] sink = new Traffic.Sink[sockets];
      Traffic.Sender[] sender = new Traffic.Sender[sockets];
      List<Thread> receivers = new ArrayList<>();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      AtomicLong writeBackErrors = new AtomicLong();
      Traffic.Sink peerSink = new Traffic.Sink(bed.peer().openUdp(PEER_SINK), injectors);
      try {
        for (int p = 0; p < sockets; p++) {
          host.addRule(udpTo(SINK + p, PORT + p));
          socket[p] = host.bind(PORT + p);
          sink[p] = new Traffic.Sink(bed.hostNode().openUdp(SINK + p), 1);
          sender[p] =
              new Traffic.Sender(
                  bed.peer().openUdp(SOURCE + p), bed.hostNode().address(), SINK + p, 0);
          for (int t = 0; t < threadsPerSocket; t++) {
            DivertSocket s = socket[p];
            receivers.add(
                writeBack(s, writeBackErrors, failure, "reliability-receiver-" + p + "-" + t));
          }
        }
        // Injectors: new packets toward the peer, through the sockets in turn.
        int source = Ipv4.toInt(bed.hostNode().address());
        int destination = Ipv4.toInt(bed.peer().address());
        AtomicLong[] injected = new AtomicLong[injectors];
        List<Thread> workers = new ArrayList<>();
        for (int k = 0; k < injectors; k++) {
          int stream = k;
          injected[k] = new AtomicLong();
          DivertSocket s = socket[k % sockets];
          Thread inj =
              new Thread(
                  () -> {
                    ByteBuffer packet = ByteBuffer.allocate(64);
                    long start = System.nanoTime();
                    int seq = 0;
                    try {
                      while (System.nanoTime() - start < duration.toNanos()) {
                        long due = (System.nanoTime() - start) * ratePerStream / 1_000_000_000L;
                        while (seq < due) {
                          packet.clear();
                          Ipv4Builder.udp(PEER_SINK + 1 + stream, PEER_SINK)
                              .source(source)
                              .destination(destination)
                              .payload(Traffic.tag(stream, seq))
                              .writeTo(packet);
                          packet.flip();
                          s.send(packet, DivertAddress.OUTBOUND);
                          injected[stream].incrementAndGet();
                          seq++;
                        }
                        LockSupport.parkNanos(500_000);
                      }
                    } catch (Throwable e) {
                      failure.compareAndSet(null, e);
                    }
                  },
                  "reliability-injector-" + k);
          workers.add(inj);
        }
        for (int p = 0; p < sockets; p++) {
          Traffic.Sender snd = sender[p];
          workers.add(
              new Thread(() -> snd.run(ratePerStream, duration), "reliability-sender-" + p));
        }
        long t0 = System.nanoTime();
        workers.forEach(Thread::start);
        for (Thread w : workers) {
          w.join();
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        for (Traffic.Sink s : sink) {
          s.awaitQuiet(Duration.ofMillis(500).plus(bed.settleTime()), Duration.ofSeconds(30));
        }
        peerSink.awaitQuiet(Duration.ofMillis(500).plus(bed.settleTime()), Duration.ofSeconds(30));
        long offered = 0;
        long delivered = 0;
        long dropped = 0;
        long duplicates = peerSink.duplicates();
        long injectedTotal = Arrays.stream(injected).mapToLong(AtomicLong::get).sum();
        long injectedCounted = 0;
        List<String> perSocket = new ArrayList<>();
        for (int p = 0; p < sockets; p++) {
          SocketStats st = socket[p].stats();
          offered += sender[p].offered();
          delivered += sink[p].distinct(0);
          dropped += st.droppedTotal();
          duplicates += sink[p].duplicates();
          injectedCounted += st.injected();
          perSocket.add(
              "p"
                  + p
                  + ":offered="
                  + sender[p].offered()
                  + ",delivered="
                  + sink[p].distinct(0)
                  + ",drops="
                  + st.drops());
        }
        Figures f =
            figures(name)
                .put("sockets", sockets)
                .put("receiverThreadsPerSocket", threadsPerSocket)
                .put("injectorThreads", injectors)
                .put("seconds", String.format(java.util.Locale.ROOT, "%.1f", seconds))
                .put("diverted.offered", offered)
                .put("diverted.delivered", delivered)
                .put("diverted.countedDrops", dropped)
                .put("injected", injectedTotal)
                .put("injected.delivered", peerSink.distinct())
                .put("duplicates", duplicates)
                .put("writeBackErrors", writeBackErrors.get())
                .put("perSocket", String.join(";", perSocket));
        f.report();
        if (failure.get() != null) {
          throw new AssertionError("a worker failed", failure.get());
        }
        assertEquals(0, duplicates, "no packet is delivered twice");
        assertEquals(0, writeBackErrors.get(), "every write-back succeeded");
        for (int p = 0; p < sockets; p++) {
          SocketStats st = socket[p].stats();
          long lost = sender[p].offered() - sink[p].distinct(0);
          assertEquals(0, sink[p].foreign(), "only tagged traffic arrives");
          assertTrue(
              lost >= 0 && lost <= st.droppedTotal(),
              "socket " + p + ": lost " + lost + " but counted " + st);
        }
        assertEquals(injectedTotal, injectedCounted, "every injection is counted");
        assertEquals(injectedTotal, peerSink.distinct(), "every injected packet arrived once");
      } finally {
        for (DivertSocket s : socket) {
          if (s != null) {
            s.close();
          }
        }
        for (Thread r : receivers) {
          r.join(5000);
        }
        for (Traffic.Sink s : sink) {
          if (s != null) {
            s.close();
          }
        }
        peerSink.close();
      }
    }
  }
}
