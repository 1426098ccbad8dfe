package org.divert4j.tck;

import static org.divert4j.tck.Packets.pattern;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.divert4j.Capability;
import org.divert4j.DivertAddress;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertHost;
import org.divert4j.DivertSocket;
import org.divert4j.InstalledRule;
import org.divert4j.PacketBatch;
import org.divert4j.tck.Probe.Received;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Lifecycle: what closing sockets and hosts does (S14, S51). */
@SpecArea(id = "L", title = "Lifecycle")
public class LifecycleVerification extends TckVerification {
  /** For the JUnit engine and subclasses. */
  public LifecycleVerification() {}

  /**
   * <b>S14</b>: packets held (received, not written back) or queued (not yet received) when the
   * socket closes are dropped: with DROP policy, of five diverted datagrams (two received and held,
   * three queued) none reaches the host's endpoint after the close.
   *
   * <p>If it fails: the backend reinjects pending packets on close (WinDivert-like) or lets the
   * kernel accept them (Linux {@code nfqnl_flush} drops them; a fail-open flag must not apply).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S14")
  public void S14_heldAndQueuedPacketsAreDroppedWhenTheSocketCloses(TckContext tck)
      throws Exception {
    closeWithPending(tck, TestBedOptions.defaults());
  }

  /**
   * <b>S14</b>: the same holds with PASS_THROUGH: pending packets are dropped, not passed through,
   * when the socket closes; only packets that match after the close pass (S13).
   *
   * <p>If it fails: the backend hands pending packets to the no-listener path on close; they were
   * already diverted and must be dropped (Linux drops them even with {@code --queue-bypass}).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S14")
  public void S14_pendingPacketsAreDroppedOnCloseEvenWithPassThrough(TckContext tck)
      throws Exception {
    closeWithPending(tck, passThrough());
  }

  private static void closeWithPending(TckContext tck, TestBedOptions options) throws Exception {
    try (TestBed bed = tck.testBed(options);
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      bed.host().addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      DivertSocket socket = bed.host().bind(PORT);
      peerSends(bed, 5, 100);
      Received held1 = p.receive(socket, "the first datagram");
      p.receive(socket, "the second datagram");
      // the other three must be pending (queued to the socket) when it closes; a backend that
      // captures on a thread of its own (pcap) may not have queued them yet, and a datagram that
      // first meets the rule after the close rightly finds no listener (S13)
      bed.advance(bed.settleTime());
      socket.close();
      p.expectNoDatagram(endpoint, "held and queued packets are dropped when the socket closes");
      assertThrows(
          DivertClosedException.class,
          () -> socket.send(held1.buffer(), held1.address()),
          "writing a held packet back after close must fail with 'closed'");
      p.expectNoDatagram(endpoint, "held and queued packets are dropped when the socket closes");
    }
  }

  /**
   * <b>S51</b>: closing a host removes every rule it installed and unbinds every socket: after
   * {@code close()} the host, its socket and its rule report closed / not installed, and traffic
   * the rule diverted (and, having no listener, would drop) reaches the host's endpoint again.
   *
   * <p>If it fails: rules survive their host (the kernel backend must delete every iptables rule it
   * tagged), or sockets are left bound.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S51")
  public void S51_closingTheHostRemovesItsRulesAndSockets(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      DivertHost host = bed.host();
      InstalledRule installed = host.addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      DivertSocket socket = host.bind(PORT);
      host.close();
      assertFalse(host.isOpen(), "the host reports closed");
      assertFalse(socket.isOpen(), "closing the host closes its sockets");
      assertFalse(installed.isInstalled(), "closing the host removes its rules");
      byte[] data = pattern(100, 51);
      bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, data);
      p.datagram(endpoint, data, "the datagram once the host and its rule are gone");
    }
  }

  /**
   * <b>S51</b> [cap: SHARED_RULES]: nothing of a closed host remains for the next one: after the
   * first host closes, a second host on the same machine can bind the first's port, and the first
   * host's rule no longer diverts anything to it.
   *
   * <p>If it fails: kernel state (queues, rules) of the closed host survived it.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S51", capabilities = Capability.SHARED_RULES)
  public void S51_closedHostLeavesNothingForTheNextHost(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      bed.host().addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      bed.host().bind(PORT);
      bed.host().close();
      try (DivertHost next = bed.openAnotherHost(bed.options().host());
          DivertSocket socket = next.bind(PORT)) {
        byte[] data = pattern(100, 52);
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, data);
        p.datagram(endpoint, data, "the datagram, not diverted by the closed host's rule");
        p.expectNothing(socket, "the closed host's rule is gone");
      }
    }
  }

  /**
   * <b>S51</b> [cap: SHARED_RULES]: no state of a closed host remains outside the process. The test
   * bed's {@link TestBed#hostState()} snapshot (for a kernel backend: every iptables table, the
   * NFQUEUE bindings, the touched sysctls and the network devices) is taken before a second host
   * opens; that host adds rules on every chain, binds two sockets and injects a datagram inbound,
   * and the snapshot must then show them (else it checks nothing); once the host is closed, the
   * snapshot must equal the one before, line for line.
   *
   * <p>If it fails with "shows nothing": the test bed does not implement {@code hostState()}, and a
   * backend whose rules live outside the process (SHARED_RULES) must. If the snapshots differ: the
   * listed lines are what the closed host left behind.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S51", capabilities = Capability.SHARED_RULES)
  public void S51_closedHostLeavesNoStateOutsideTheProcess(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      List<String> before = bed.hostState();
      List<String> during;
      try (DivertHost other = bed.openAnotherHost(bed.options().host())) {
        other.addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT2));
        other.addRule(rule("output -p udp --dport 7000 -j DIVERT " + PORT2));
        if (other.capabilities().contains(Capability.FORWARD)) {
          other.addRule(rule("forward -p udp --dport 7000 -j DIVERT " + PORT2));
        }
        other.addRule(rule("input -p icmp -j DIVERT " + PORT3));
        other.bind(PORT2);
        DivertSocket injector = other.bind(PORT3);
        // an inbound injection too, whatever the backend builds for it (a kernel backend's
        // injection path into an interface's receive path) must go with the host
        Probe p = probe(bed, tck);
        byte[] probe = Packets.udp(p.peer(), p.host(), SRC_PORT, 9, pattern(20, 51)).build();
        injector.send(ByteBuffer.wrap(probe), DivertAddress.inbound(p.host()));
        during = bed.hostState();
      }
      List<String> after = bed.hostState();
      assertNotEquals(
          before,
          during,
          "the test bed's hostState() shows nothing of the rules and sockets an open host added,"
              + " so it cannot show what a closed one leaves behind: "
              + during);
      List<String> left = new java.util.ArrayList<>(after);
      left.removeAll(before);
      List<String> gone = new java.util.ArrayList<>(before);
      gone.removeAll(after);
      assertEquals(
          before,
          after,
          "state changed by the closed host: left behind " + left + ", gone " + gone);
    }
  }

  /**
   * <b>S51</b>: operations on a closed socket fail with {@link DivertClosedException}: every kind
   * of receive, send and drop. {@code close()} again does nothing; {@code isOpen}, {@code port} and
   * {@code stats} still work.
   *
   * <p>If it fails: a closed socket returns null/0 or a native error instead of the clear "closed"
   * error.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S51")
  public void S51_operationsOnAClosedSocketFailWithClosed(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      DivertSocket socket = bed.host().bind(PORT);
      socket.close();
      ByteBuffer buf = ByteBuffer.allocate(65535);
      byte[] packet = Packets.udp(p.host(), p.peer(), SRC_PORT, UDP_PORT, pattern(10, 1)).build();
      PacketBatch batch = PacketBatch.allocate(2, 2048, false);
      closed("receive(buffer)", () -> socket.receive(buf));
      closed("receive(buffer, timeout)", () -> socket.receive(buf, Duration.ZERO));
      closed("receive(batch, timeout)", () -> socket.receive(batch, Duration.ZERO));
      closed("send(packet)", () -> socket.send(ByteBuffer.wrap(packet)));
      closed(
          "send(packet, address)",
          () -> socket.send(ByteBuffer.wrap(packet), DivertAddress.OUTBOUND));
      batch.clear();
      batch.add(ByteBuffer.wrap(packet), DivertAddress.OUTBOUND);
      closed("send(batch)", () -> socket.send(batch));
      closed("drop(address)", () -> socket.drop(DivertAddress.OUTBOUND));
      assertDoesNotThrow(socket::close, "close() again must do nothing");
      assertFalse(socket.isOpen(), "isOpen after close");
      assertTrue(socket.port() == PORT, "port() works after close");
      assertNotNull(socket.stats(), "stats() works after close");
    }
  }

  /**
   * <b>S51</b>: operations on a closed host fail with {@link DivertClosedException}: adding and
   * inserting rules, binding, listing interfaces. {@code close()} again does nothing, removing a
   * rule of the closed host does nothing, and the informational methods still work.
   *
   * <p>If it fails: a closed host still accepts rules or sockets (which then leak).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S51")
  public void S51_operationsOnAClosedHostFailWithClosed(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      DivertHost host = bed.host();
      InstalledRule installed = host.addRule(rule("input -p udp -j DIVERT " + PORT));
      host.close();
      closed("addRule", () -> host.addRule(rule("input -p udp -j DIVERT " + PORT2)));
      closed("insertRule", () -> host.insertRule(0, rule("input -p udp -j DIVERT " + PORT2)));
      closed("bind", () -> host.bind(PORT2));
      closed("interfaces", host::interfaces);
      assertDoesNotThrow(host::close, "close() again must do nothing");
      assertDoesNotThrow(installed::remove, "removing a rule of a closed host does nothing");
      assertFalse(host.isOpen(), "isOpen after close");
      assertNotNull(host.stats(), "stats() works after close");
      assertNotNull(host.options(), "options() works after close");
      assertNotNull(host.name(), "name() works after close");
      assertNotNull(host.backend(), "backend() works after close");
      assertNotNull(host.capabilities(), "capabilities() works after close");
    }
  }

  /**
   * <b>S51</b>: a receive blocked in another thread returns promptly with {@link
   * DivertClosedException} when the socket is closed, and when its host is closed.
   *
   * <p>If it fails (the thread is still blocked after the TCK timeout): the blocking call does not
   * wake on close (a netlink {@code recv} is not interrupted by closing the descriptor in another
   * thread; use a wake-up pipe or shutdown). This is the most common complaint about divert
   * libraries (peers.md c.1).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S51")
  public void S51_blockedReceiveReturnsPromptlyOnClose(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      DivertSocket first = bed.host().bind(PORT);
      CompletableFuture<Throwable> woken = blockedReceive(first, tck.timeout());
      first.close();
      expectClosed(woken, tck.timeout(), "closing the socket");

      DivertSocket second = bed.host().bind(PORT2);
      CompletableFuture<Throwable> woken2 = blockedReceive(second, tck.timeout());
      bed.host().close();
      expectClosed(woken2, tck.timeout(), "closing the host");
    }
  }

  private static CompletableFuture<Throwable> blockedReceive(DivertSocket socket, Duration timeout)
      throws InterruptedException {
    CompletableFuture<Throwable> result = new CompletableFuture<>();
    CountDownLatch started = new CountDownLatch(1);
    Thread t =
        new Thread(
            () -> {
              started.countDown();
              try {
                DivertAddress a = socket.receive(ByteBuffer.allocate(65535));
                result.complete(new AssertionError("receive returned a packet: " + a));
              } catch (Throwable e) {
                result.complete(e);
              }
            },
            "tck-blocked-receive-" + socket.port());
    t.setDaemon(true);
    t.start();
    started.await();
    awaitBlockedInReceive(t, result, timeout);
    return result;
  }

  /**
   * Waits until {@code t} is provably blocked inside {@code receive}: its stack has a {@code
   * receive} frame, and it is parked (WAITING, TIMED_WAITING, BLOCKED) or running a native method
   * (a blocking system call), in two samples in a row. Without this, the close could win the race
   * and the test would check a receive on an already closed socket instead of a blocked one.
   */
  /** The most a precondition (a thread blocked in receive) may take to be observed. */
  private static final Duration PRECONDITION_WAIT = Duration.ofSeconds(30);

  private static void awaitBlockedInReceive(
      Thread t, CompletableFuture<Throwable> result, Duration timeout) throws InterruptedException {
    // This waits for the test's precondition, not for the rule: "promptly" is measured after the
    // close, against the TCK timeout. Sampling another thread's stack needs a safepoint, which on
    // a loaded machine can take longer than a short TCK timeout; the receiver is normally seen
    // blocked within milliseconds.
    long deadline = System.nanoTime() + PRECONDITION_WAIT.plus(timeout).toNanos();
    int inARow = 0;
    String last = "";
    while (System.nanoTime() < deadline) {
      if (result.isDone()) {
        fail("the receive returned before the close: " + result.getNow(null));
      }
      Thread.State state = t.getState();
      StackTraceElement[] stack = t.getStackTrace();
      boolean inReceive = false;
      for (StackTraceElement e : stack) {
        inReceive |= e.getMethodName().equals("receive");
      }
      boolean parked =
          state == Thread.State.WAITING
              || state == Thread.State.TIMED_WAITING
              || state == Thread.State.BLOCKED
              || (state == Thread.State.RUNNABLE && stack.length > 0 && stack[0].isNativeMethod());
      inARow = inReceive && parked ? inARow + 1 : 0;
      if (inARow == 2) {
        return;
      }
      last = state + " at " + (stack.length > 0 ? stack[0] : "?");
      Thread.sleep(5);
    }
    fail(
        "the receiving thread was never seen blocked inside receive within "
            + PRECONDITION_WAIT.plus(timeout).toMillis()
            + " ms (last: "
            + last
            + ")");
  }

  private static void expectClosed(CompletableFuture<Throwable> woken, Duration timeout, String how)
      throws Exception {
    Throwable t;
    try {
      t = woken.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      fail(
          "a receive blocked in another thread did not return within "
              + timeout.toMillis()
              + " ms of "
              + how);
      return;
    }
    assertInstanceOf(
        DivertClosedException.class, t, "the blocked receive must end with 'closed' on " + how);
  }

  private static void closed(String what, Executable call) {
    DivertClosedException e =
        assertThrows(
            DivertClosedException.class,
            call,
            what + " on a closed object must fail with 'closed'");
    assertTrue(
        e.getMessage() != null && e.getMessage().contains("closed"),
        what + ": the message must say closed: " + e.getMessage());
  }
}
