package org.divert4j.stack;

import static org.divert4j.stack.TestNet.udp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.divert4j.DivertAddress;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.InstalledRule;
import org.divert4j.PacketBatch;
import org.divert4j.packet.Fragmenter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Every entry point leaves the engine's section and the socket's lock as it found them (another
 * thread can go on at once), and a receiver blocked without a timeout wakes when a packet arrives
 * or the socket closes. A missing release or wake-up would hang the other thread: each wait here is
 * bounded and fails the test instead.
 */
class EngineLocksTest {
  private static final long BOUND_SECONDS = 20;

  private final TestNet net = new TestNet();
  private volatile Thread worker;
  private final ExecutorService other =
      Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "other");
            t.setDaemon(true);
            worker = t;
            return t;
          });

  @AfterEach
  void stop() {
    other.shutdownNow();
  }

  /** The engine's section is free, and the socket's lock too: another thread takes it. */
  private void free(DivertSocket s) throws Exception {
    assertFalse(net.lock.isLocked(), "the engine's section is left");
    Future<Long> f = other.submit(() -> s.stats().received());
    assertNotNull(f.get(BOUND_SECONDS, TimeUnit.SECONDS), "the socket's lock is free");
  }

  @Test
  void everyEntryPointReleasesTheSectionAndTheSocket() throws Exception {
    HostOptions o =
        HostOptions.builder()
            .queueLength(4)
            .holdTimeout(Duration.ofMillis(100))
            .fragments(FragmentMode.ALWAYS_DEFRAGMENT)
            .build();
    DivertEngine e = net.engine(o);
    DivertHost h = e.openHost(o);
    assertFalse(net.lock.isLocked());
    InstalledRule r = h.addRule(DivertRule.parse("output -p udp -j DIVERT 100"));
    assertFalse(net.lock.isLocked());
    DivertSocket s = h.bind(100);
    free(s);
    assertTrue(e.originate(udp("10.0.0.1", "10.0.0.2", 1, 10)));
    free(s);
    assertEquals(3, e.room());
    free(s);
    assertEquals(1, e.pending());
    free(s);
    ByteBuffer buf = ByteBuffer.allocate(2048);
    DivertAddress a = s.receive(buf, Duration.ZERO);
    free(s);
    s.send(buf.flip(), a);
    free(s);
    assertTrue(e.originate(udp("10.0.0.1", "10.0.0.2", 2, 10)));
    DivertAddress b = s.receive(buf.clear(), Duration.ZERO);
    s.drop(b);
    free(s);
    s.send(udp("10.0.0.1", "10.0.0.2", 3, 10), DivertAddress.OUTBOUND); // a new packet
    free(s);
    assertTrue(e.originate(udp("10.0.0.1", "10.0.0.2", 4, 10)));
    PacketBatch batch = PacketBatch.allocate(4);
    assertEquals(1, s.receive(batch, Duration.ZERO));
    free(s);
    assertEquals(1, s.send(batch));
    free(s);
    assertTrue(e.originate(udp("10.0.0.1", "10.0.0.2", 5, 10)));
    assertNotNull(s.receive(buf.clear(), Duration.ZERO));
    net.advance(Duration.ofMillis(100));
    assertEquals(0, s.receive(batch, Duration.ZERO), "expires the held packet lazily");
    free(s);
    assertEquals(1, s.stats().dropped(org.divert4j.DropReason.HOLD_EXPIRED));
    assertTrue(e.originate(udp("10.0.0.1", "10.0.0.2", 6, 10)));
    assertNotNull(s.receive(buf.clear(), Duration.ZERO));
    net.advance(Duration.ofMillis(100));
    e.tick();
    free(s);
    e.receive(udp("10.0.0.9", "10.0.0.1", 7, 10), TestNet.ETH0);
    free(s);
    e.receiveInSection(udp("10.0.0.9", "10.0.0.1", 8, 10), TestNet.ETH0);
    free(s);
    assertEquals(2, net.local.size());
    new Fragmenter()
        .fragment(
            udp("10.0.0.9", "10.0.0.1", 9, 3000),
            1500,
            f -> {
              e.receive(f, TestNet.ETH0);
              assertTrue(e.reassemblyBytesHeld() > 0 || net.local.size() == 3);
            });
    free(s);
    assertEquals(3, net.local.size());
    assertEquals(2, e.state().size());
    free(s);
    h.stats();
    free(s);
    assertEquals(1, h.rules().size());
    free(s);
    s.close();
    free(s);
    r.remove();
    free(s);
    h.close();
    assertFalse(net.lock.isLocked());
  }

  @Test
  void aBlockedReceiverWakesWhenAPacketArrives() throws Exception {
    DivertEngine e = net.engine(HostOptions.defaults());
    DivertHost h = e.openHost(HostOptions.defaults());
    h.addRule(DivertRule.parse("output -p udp -j DIVERT 100"));
    DivertSocket s = h.bind(100);
    Future<DivertAddress> got = other.submit(() -> s.receive(ByteBuffer.allocate(2048)));
    // wait until the receiver is blocked inside receive
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(BOUND_SECONDS);
    while (!blockedInReceive() && System.nanoTime() < deadline) {
      Thread.sleep(1);
    }
    assertTrue(e.originate(udp("10.0.0.1", "10.0.0.2", 1, 10)));
    DivertAddress a = got.get(BOUND_SECONDS, TimeUnit.SECONDS);
    assertNotNull(a);
    assertEquals(1, s.stats().held());
  }

  @Test
  void aBlockedReceiverWakesWhenTheSocketCloses() throws Exception {
    DivertEngine e = net.engine(HostOptions.defaults());
    DivertHost h = e.openHost(HostOptions.defaults());
    DivertSocket s = h.bind(100);
    Future<DivertAddress> got = other.submit(() -> s.receive(ByteBuffer.allocate(2048)));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(BOUND_SECONDS);
    while (!blockedInReceive() && System.nanoTime() < deadline) {
      Thread.sleep(1);
    }
    s.close();
    ExecutionException x =
        assertThrows(ExecutionException.class, () -> got.get(BOUND_SECONDS, TimeUnit.SECONDS));
    assertTrue(x.getCause() instanceof DivertClosedException, x.getCause().toString());
  }

  /** Whether the other thread is parked inside the socket's receive. */
  private boolean blockedInReceive() {
    Thread t = worker;
    if (t == null || t.getState() != Thread.State.WAITING) {
      return false;
    }
    for (StackTraceElement f : t.getStackTrace()) {
      if (f.getClassName().startsWith("org.divert4j.stack.")
          && f.getMethodName().equals("receive")) {
        return true;
      }
    }
    return false;
  }
}
