package org.divert4j.tck.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicLong;
import org.divert4j.DivertHost;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.HostOptions;
import org.divert4j.SocketStats;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.Test;

/**
 * Overload, the same on every backend (issue 8): the program consumes less than the peer offers,
 * with a fail-closed and a fail-open queue; memory stays bounded, every packet offered is delivered
 * or counted, and nothing is lost once the overload ends. {@code -Ddivert.reliability=long} floods
 * for 60 s instead of 3 s.
 */
public abstract class OverloadVerification extends ReliabilityVerification {
  /**
   * @param backend the backend under test
   */
  protected OverloadVerification(ReliabilityBackend backend) {
    super(backend);
  }

  /**
   * The program consumes C packets/s, the peer offers 10 C for 3 s (60 s long) into a queue of 64:
   * memory stays bounded, and every packet offered is either delivered or counted as a drop.
   */
  @Test
  void overloadFailClosedCountsEveryDropAndRecovers() throws Exception {
    overload(false);
  }

  /** As above with fail-open: packets that find the queue full continue, so traffic flows. */
  @Test
  void overloadFailOpenKeepsTrafficFlowingAndRecovers() throws Exception {
    overload(true);
  }

  private void overload(boolean failOpen) throws Exception {
    overload(
        failOpen ? "overload-fail-open" : "overload-fail-closed",
        HostOptions.builder().queueLength(64).failOpen(failOpen).holdTimeout(Duration.ZERO).build(),
        0);
  }

  /**
   * The overload scenario with given host options: the program consumes {@link
   * ReliabilityBackend#consumeRate()} packets/s, the peer offers ten times as much for 3 s (60 s
   * long), then half the program's rate (recovery). Checks: the queue and heap stay bounded,
   * offered = delivered + counted drops (fail-closed) or everything arrives (fail-open), and
   * nothing is lost after the overload.
   *
   * @param name the test's name in the figures
   * @param ho the host options (queue length, fail-open, backend properties)
   * @param padding bytes added to each datagram's payload after its tag
   * @throws Exception on failure
   */
  protected final void overload(String name, HostOptions ho, int padding) throws Exception {
    boolean failOpen = ho.failOpen();
    int queue = ho.queueLength();
    int rate = backend.consumeRate();
    Duration duration = seconds(3, 60);
    Figures f = figures(name);
    try (TestBed bed = newBed(TestBedOptions.builder().host(ho).build())) {
      DivertHost host = bed.host();
      host.addRule(udpTo(SINK, PORT));
      DivertSocket socket = host.bind(PORT);
      UdpEndpoint source = bed.peer().openUdp(SOURCE);
      Traffic.Sender flood =
          new Traffic.Sender(source, bed.hostNode().address(), SINK, 0).padding(padding);
      Traffic.Sender calm =
          new Traffic.Sender(source, bed.hostNode().address(), SINK, 1).padding(padding);
      long heapBefore = Figures.heapAfterGc();
      long rssBefore = Figures.rssKiB();
      AtomicLong maxHeld = new AtomicLong();
      AtomicLong maxDepth = new AtomicLong(-1);
      AtomicLong maxHeap = new AtomicLong();
      Thread sampler =
          new Thread(
              () -> {
                while (!Thread.currentThread().isInterrupted()) {
                  maxHeld.accumulateAndGet(socket.stats().held(), Math::max);
                  OptionalLong d = backend.backendQueueDepth(bed, PORT);
                  if (d.isPresent()) {
                    maxDepth.accumulateAndGet(d.getAsLong(), Math::max);
                  }
                  maxHeap.accumulateAndGet(Figures.heapNow(), Math::max);
                  try {
                    Thread.sleep(100);
                  } catch (InterruptedException e) {
                    return;
                  }
                }
              },
              "reliability-sampler");
      sampler.setDaemon(true);
      try (Traffic.Sink sink = new Traffic.Sink(bed.hostNode().openUdp(SINK), 2);
          Traffic.SlowProgram program = new Traffic.SlowProgram(socket, rate, 8)) {
        sampler.start();
        long t0 = System.nanoTime();
        flood.run(rate * 10, duration);
        double seconds = (System.nanoTime() - t0) / 1e9;
        long consumedAtEnd = program.consumed();
        // Drain: the program empties the queue at its own pace.
        sink.awaitQuiet(Duration.ofMillis(1500).plus(bed.settleTime()), Duration.ofSeconds(60));
        sampler.interrupt();
        sampler.join();
        long heapAfter = Figures.heapAfterGc();
        long rssAfter = Figures.rssKiB();
        SocketStats st = socket.stats();
        long offered = flood.offered();
        long delivered = sink.distinct(0);
        long dropped = st.droppedTotal();
        String kernel = backend.backendCounters(bed, PORT);
        // What the program still had to consume when the flood stopped: the queue's depth then.
        long backlog = st.received() - consumedAtEnd;
        f.put("seconds", String.format(java.util.Locale.ROOT, "%.1f", seconds))
            .put("consumeRate", rate)
            .put("offerRate", rate * 10)
            .put("queueLength", queue)
            .put("datagramBytes", 28 + Traffic.TAG_BYTES + padding)
            .put("offered", offered)
            .put("senderRefused", flood.refused())
            .put("delivered", delivered)
            .put("received", st.received())
            .put("reinjected", st.reinjected())
            .put("failOpenAccepted", st.failOpenAccepted())
            .put("drops", st.drops())
            .put("duplicates", sink.duplicates())
            .put("backlogAtEndOfFlood", backlog)
            .put("maxHeld", maxHeld.get())
            .put("maxBackendQueue", maxDepth.get() < 0 ? "n/a" : maxDepth.get())
            .put("heapGrowthAfterGc", Figures.mib(heapAfter - heapBefore))
            .put("maxHeapSampled", Figures.mib(maxHeap.get()))
            .put("rssGrowth", Figures.mib((rssAfter - rssBefore) * 1024));
        if (!kernel.isEmpty()) {
          f.put("backendCounters", kernel);
        }
        f.report();
        sink.check();
        program.check();
        assertEquals(0, sink.duplicates(), "no packet is delivered twice");
        assertTrue(maxHeld.get() <= queue, "held packets stay within the queue: " + maxHeld);
        assertTrue(backlog <= queue + 8, "the queue held at most its length (+ one batch in hand)");
        assertTrue(
            maxDepth.get() <= queue, "the backend's queue stays within its length: " + maxDepth);
        assertTrue(
            heapAfter - heapBefore < 32L << 20,
            "heap after GC grew by " + Figures.mib(heapAfter - heapBefore));
        if (failOpen) {
          // Only losses below the divert layer (a capture's, counted as CAPTURE) remain.
          long capture = st.dropped(DropReason.CAPTURE);
          assertEquals(capture, dropped, "fail-open drops nothing itself: " + st);
          assertEquals(
              offered, delivered + capture, "with fail-open every offered packet arrives: " + st);
          assertEquals(
              offered - capture,
              st.reinjected() + st.failOpenAccepted(),
              "each went through or around the program: " + st);
          assertTrue(st.failOpenAccepted() > 0, "the queue did overflow: " + st);
        } else {
          assertTrue(dropped > 0, "the queue did overflow: " + st);
          assertEquals(offered, delivered + dropped, "offered = delivered + counted drops: " + st);
          assertEquals(st.received(), st.reinjected(), "the program wrote back all it received");
          assertEquals(delivered, st.reinjected(), "what was written back arrived: " + st);
        }
        // Recovery: at half the program's rate nothing is lost any more.
        long dropsBefore = dropped;
        long bypassBefore = st.failOpenAccepted();
        long deliveredBefore = sink.total();
        Duration calmTime = seconds(2, 10);
        calm.run(rate / 2, calmTime);
        sink.awaitAtLeast(deliveredBefore + calm.offered(), Duration.ofSeconds(10));
        sink.awaitQuiet(Duration.ofMillis(300).plus(bed.settleTime()), Duration.ofSeconds(10));
        SocketStats after = socket.stats();
        figures(name + "-recovery")
            .put("recoveryOffered", calm.offered())
            .put("recoveryDelivered", sink.distinct(1))
            .put("recoveryDrops", after.droppedTotal() - dropsBefore)
            .put("recoveryBypassed", after.failOpenAccepted() - bypassBefore)
            .report();
        assertTrue(calm.offered() > 0);
        assertEquals(calm.offered(), sink.distinct(1), "after the overload nothing is lost");
        assertEquals(dropsBefore, after.droppedTotal(), "no drop after the overload: " + after);
        assertEquals(bypassBefore, after.failOpenAccepted(), "no bypass after the overload");
      }
    }
  }
}
