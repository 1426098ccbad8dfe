package org.divert4j.tck.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertHost;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.HostOptions;
import org.divert4j.PacketBatch;
import org.divert4j.SocketStats;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.Test;

/**
 * Shutdown, the same on every backend (issue 8): close waking blocked receivers, packets held or
 * queued at close, a close under traffic, and concurrent closes.
 */
public abstract class ShutdownVerification extends ReliabilityVerification {
  /**
   * @param backend the backend under test
   */
  protected ShutdownVerification(ReliabilityBackend backend) {
    super(backend);
  }

  /**
   * Receivers blocked without a timeout (one packet, and a batch) wake at once with {@link
   * DivertClosedException} when another thread closes their socket, and when it closes the host.
   */
  @Test
  void closeFromAnotherThreadWakesBlockedReceiversAtOnce() throws Exception {
    int rounds = Figures.pick(5, 100);
    List<Long> latencies = new ArrayList<>();
    try (TestBed bed = newBed(TestBedOptions.defaults())) {
      DivertHost host = bed.host();
      for (int r = 0; r < rounds; r++) {
        DivertSocket s = host.bind(PORT);
        latencies.addAll(wake(s, s));
      }
      DivertSocket a = host.bind(PORT);
      DivertSocket b = host.bind(PORT + 1);
      latencies.addAll(wake(host, a, b));
    }
    long[] sorted = latencies.stream().mapToLong(Long::longValue).sorted().toArray();
    long max = sorted[sorted.length - 1];
    figures("close-wakes-receivers")
        .put("receivers", sorted.length)
        .put("medianWake", Figures.ms(Duration.ofNanos(sorted[sorted.length / 2])))
        .put("maxWake", Figures.ms(Duration.ofNanos(max)))
        .report();
    assertTrue(max < 1_000_000_000L, "a receiver woke after " + Figures.ms(Duration.ofNanos(max)));
  }

  /**
   * Closes {@code closer} while four threads are blocked on {@code sockets} (spread evenly, one
   * packet and a batch alternately).
   *
   * @return the wake latencies, nanoseconds
   */
  private static List<Long> wake(AutoCloseable closer, DivertSocket... sockets) throws Exception {
    List<Blocked> blocked = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      blocked.add(new Blocked(sockets[i * sockets.length / 4], i % 2 == 0));
    }
    Thread.sleep(200); // let them block
    long t0 = System.nanoTime();
    closer.close();
    List<Long> out = new ArrayList<>();
    for (Blocked b : blocked) {
      out.add(b.await(t0));
    }
    return out;
  }

  /** A thread blocked in receive until its socket closes. */
  private static final class Blocked {
    final Thread thread;
    final AtomicLong wokeAt = new AtomicLong();
    final AtomicReference<Throwable> outcome = new AtomicReference<>();

    Blocked(DivertSocket s, boolean batch) {
      thread =
          new Thread(
              () -> {
                try {
                  if (batch) {
                    s.receive(PacketBatch.allocate(4, 2048, false), Duration.ofHours(1));
                  } else {
                    s.receive(ByteBuffer.allocate(65535));
                  }
                  outcome.set(new AssertionError("receive returned without a packet"));
                } catch (Throwable t) {
                  wokeAt.set(System.nanoTime());
                  outcome.set(t);
                }
              },
              "reliability-blocked");
      thread.setDaemon(true);
      thread.start();
    }

    long await(long closedAt) throws InterruptedException {
      thread.join(10_000);
      assertTrue(!thread.isAlive(), "a blocked receiver did not wake within 10 s");
      assertTrue(
          outcome.get() instanceof DivertClosedException,
          "the receiver woke with DivertClosedException, not " + outcome.get());
      return wokeAt.get() - closedAt;
    }
  }

  /**
   * Packets received and not written back, and packets still queued, when the socket closes are
   * dropped and counted as {@link DropReason#CLOSED} (S14): none reaches the destination.
   */
  @Test
  void packetsHeldAtCloseAreDroppedAndCounted() throws Exception {
    int heldCount = 10;
    int queuedCount = 5;
    HostOptions ho = HostOptions.builder().holdTimeout(Duration.ZERO).build();
    try (TestBed bed = newBed(TestBedOptions.builder().host(ho).build())) {
      DivertHost host = bed.host();
      host.addRule(udpTo(SINK, PORT));
      DivertSocket s = host.bind(PORT);
      try (Traffic.Sink sink = new Traffic.Sink(bed.hostNode().openUdp(SINK), 1)) {
        Traffic.Sender sender =
            new Traffic.Sender(bed.peer().openUdp(SOURCE), bed.hostNode().address(), SINK, 0);
        sender.burst(heldCount);
        ByteBuffer buf = ByteBuffer.allocate(65535);
        for (int i = 0; i < heldCount; i++) {
          assertTrue(
              s.receive(buf.clear(), Duration.ofSeconds(5)) != null, "packet " + i + " arrived");
        }
        sender.burst(queuedCount);
        awaitQueued(bed, s, heldCount + queuedCount);
        s.close();
        bed.advance(bed.settleTime().plusMillis(300));
        Thread.sleep(bed.settleTime().toMillis());
        SocketStats st = s.stats();
        figures("held-at-close")
            .put("held", heldCount)
            .put("queued", queuedCount)
            .put("received", st.received())
            .put("droppedClosed", st.dropped(DropReason.CLOSED))
            .put("drops", st.drops())
            .put("arrivedAtDestination", sink.total())
            .report();
        assertEquals(heldCount, st.received(), st.toString());
        assertEquals(heldCount + queuedCount, st.dropped(DropReason.CLOSED), st.toString());
        assertEquals(heldCount + queuedCount, st.droppedTotal(), st.toString());
        assertEquals(0, sink.total(), "a packet held or queued at close went further");
      }
    }
  }

  /**
   * Closing a socket while four threads receive and write back a steady stream: every receiver ends
   * with {@link DivertClosedException} at once, and every packet the peer offered is accounted for:
   * delivered, or counted by the socket (held or queued at close: CLOSED) or, after the close, by
   * the host (NO_LISTENER, the rule's port having no socket any more).
   */
  @Test
  void closeDuringTrafficAccountsForEveryPacket() throws Exception {
    int rounds = Figures.pick(3, 30);
    HostOptions ho = HostOptions.builder().holdTimeout(Duration.ZERO).build();
    long offered = 0;
    long delivered = 0;
    long closed = 0;
    long otherDrops = 0;
    long noListener = 0;
    long maxWake = 0;
    long maxResidue = 0;
    List<Long> residues = new ArrayList<>();
    try (TestBed bed = newBed(TestBedOptions.builder().host(ho).build())) {
      DivertHost host = bed.host();
      host.addRule(udpTo(SINK, PORT));
      UdpEndpoint source = bed.peer().openUdp(SOURCE);
      try (Traffic.Sink sink = new Traffic.Sink(bed.hostNode().openUdp(SINK), rounds)) {
        for (int r = 0; r < rounds; r++) {
          long noListenerBefore = host.stats().dropped(DropReason.NO_LISTENER);
          long belowBefore = host.stats().dropped(DropReason.CAPTURE);
          long sinkBefore = sink.distinct();
          DivertSocket s = host.bind(PORT);
          List<Thread> receivers = new ArrayList<>();
          AtomicReference<Throwable> failure = new AtomicReference<>();
          for (int t = 0; t < 4; t++) {
            receivers.add(
                writeBack(s, new AtomicLong(), failure, "reliability-close-receiver-" + t));
          }
          Traffic.Sender sender = new Traffic.Sender(source, bed.hostNode().address(), SINK, r);
          Thread send = new Thread(() -> sender.run(2000, Duration.ofMillis(1500)), "sender");
          send.start();
          Thread.sleep(700);
          long t0 = System.nanoTime();
          s.close();
          for (Thread th : receivers) {
            th.join(10_000);
            assertTrue(!th.isAlive(), "a receiver kept running after close");
          }
          maxWake = Math.max(maxWake, System.nanoTime() - t0);
          send.join();
          sink.awaitQuiet(Duration.ofMillis(500).plus(bed.settleTime()), Duration.ofSeconds(10));
          bed.advance(bed.settleTime());
          if (failure.get() != null) {
            throw new AssertionError("a receiver failed", failure.get());
          }
          SocketStats st = s.stats();
          long nl = host.stats().dropped(DropReason.NO_LISTENER) - noListenerBefore;
          // packets lost below the divert layer (a capture buffer that overflowed), counted by the
          // host: accounted for, as S15 and S50 ask, though no socket ever saw them
          long below = host.stats().dropped(DropReason.CAPTURE) - belowBefore;
          long got = sink.distinct() - sinkBefore;
          offered += sender.offered();
          delivered += got;
          closed += st.dropped(DropReason.CLOSED);
          otherDrops += st.droppedTotal() - st.dropped(DropReason.CLOSED);
          noListener += nl;
          // a capture drop while the socket was bound shows in the socket's statistics too (it
          // cannot be attributed to a port: StackEnvironment.captureDrops): count it once
          long socketDrops = st.droppedTotal() - st.dropped(DropReason.CAPTURE);
          long residue = sender.offered() - (got + socketDrops + nl + below);
          maxResidue = Math.max(maxResidue, Math.abs(residue));
          residues.add(residue);
          assertTrue(
              residue <= 0 && -residue <= backend.closeRaceTolerance(2000),
              "round "
                  + r
                  + ": offered "
                  + sender.offered()
                  + " != delivered + socket drops + no-listener drops + capture drops, residue "
                  + residue
                  + ": delivered="
                  + got
                  + " noListener="
                  + nl
                  + " host="
                  + host.stats()
                  + " socket: "
                  + st);
        }
        figures("close-during-traffic")
            .put("rounds", rounds)
            .put("offered", offered)
            .put("delivered", delivered)
            .put("droppedClosed", closed)
            .put("droppedOther", otherDrops)
            .put("droppedNoListener", noListener)
            .put("residuePerRound", residues)
            .put("tolerance", backend.closeRaceTolerance(2000))
            .put("duplicates", sink.duplicates())
            .put("maxReceiversStopped", Figures.ms(Duration.ofNanos(maxWake)))
            .report();
        assertEquals(0, sink.duplicates());
        assertTrue(maxWake < 1_000_000_000L, "receivers stopped after " + maxWake + " ns");
      }
    }
  }

  /**
   * Four threads close one socket at the same moment while it holds packets: each close returns
   * only when the socket is closed, so every thread then sees the same final counts, with the held
   * packets counted once as CLOSED.
   */
  @Test
  void concurrentClosesAllReturnWithTheSameFinalCounts() throws Exception {
    int held = 5;
    int rounds = Figures.pick(5, 50);
    HostOptions ho = HostOptions.builder().holdTimeout(Duration.ZERO).build();
    try (TestBed bed = newBed(TestBedOptions.builder().host(ho).build())) {
      DivertHost host = bed.host();
      host.addRule(udpTo(SINK, PORT));
      Traffic.Sender sender =
          new Traffic.Sender(bed.peer().openUdp(SOURCE), bed.hostNode().address(), SINK, 0);
      ByteBuffer buf = ByteBuffer.allocate(65535);
      for (int r = 0; r < rounds; r++) {
        DivertSocket s = host.bind(PORT);
        sender.burst(held);
        for (int i = 0; i < held; i++) {
          assertTrue(s.receive(buf.clear(), Duration.ofSeconds(5)) != null, "packet " + i);
        }
        java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
        List<Thread> closers = new ArrayList<>();
        List<String> seen = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int t = 0; t < 4; t++) {
          Thread c =
              new Thread(
                  () -> {
                    try {
                      go.await();
                    } catch (InterruptedException e) {
                      return;
                    }
                    s.close();
                    seen.add(s.isOpen() + " " + s.stats());
                  },
                  "reliability-closer-" + t);
          c.start();
          closers.add(c);
        }
        go.countDown();
        for (Thread c : closers) {
          c.join(10_000);
        }
        assertEquals(4, seen.size(), "every close returned");
        assertEquals(1, new java.util.HashSet<>(seen).size(), "all saw the same counts: " + seen);
        assertEquals(held, s.stats().dropped(DropReason.CLOSED), s.stats().toString());
      }
      figures("concurrent-closes")
          .put("rounds", rounds)
          .put("closersPerRound", 4)
          .put("heldPerRound", held)
          .report();
    }
  }

  /** Waits until the socket's queue (or the backend's) holds {@code n} packets, at most 5 s. */
  private void awaitQueued(TestBed bed, DivertSocket s, int n) throws Exception {
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (System.nanoTime() < deadline) {
      OptionalLong d = backend.backendQueueDepth(bed, s.port());
      if (d.isPresent() && d.getAsLong() >= n) {
        return;
      }
      if (d.isEmpty()) {
        Thread.sleep(bed.settleTime().toMillis() + 100);
        return;
      }
      Thread.sleep(20);
    }
  }
}
