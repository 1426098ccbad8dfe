package org.divert4j.testbed;

import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import org.divert4j.Capability;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.HostOptions;

/**
 * A disposable network for tests: a host under diversion, a peer on one side, and optionally a far
 * peer on the other side so that forwarding can be tested.
 *
 * <pre>
 *   peer --(link A, peerMtu)-- host --(link B, farPeerMtu)-- farPeer
 * </pre>
 *
 * <p>The TCK runs only through test beds, so it needs nothing backend-specific; programs use them
 * the same way to test their own divert code, on the simulation first and on the kernel in CI.
 *
 * <p>Thread-safe. {@link #close()} removes everything the test bed made (namespaces, links, rules,
 * processes), also when a test failed; it is idempotent.
 */
public interface TestBed extends AutoCloseable {
  /**
   * @return the backend's name
   */
  String backend();

  /**
   * @return the options the test bed was built with
   */
  TestBedOptions options();

  /**
   * @return the host under diversion, open with {@link TestBedOptions#host()}; closed by {@link
   *     #close()}
   */
  DivertHost host();

  /**
   * @return the host's own IP stack, to send from it and receive on it
   */
  TestNode hostNode();

  /**
   * @return the peer on link A
   */
  TestNode peer();

  /**
   * @return the far peer on link B, present when asked for and the backend has {@link
   *     Capability#FORWARD}
   */
  Optional<TestNode> farPeer();

  /**
   * @return the capabilities of the test bed's host
   */
  Set<Capability> capabilities();

  /**
   * @return how long to wait to be confident that something does not happen (zero on a simulation
   *     that processes every packet before the call that sent it returns)
   */
  Duration settleTime();

  /**
   * Lets time pass: on a virtual clock it advances at once and runs what falls due (reassembly
   * timeouts, hold timeouts); otherwise it sleeps.
   *
   * @param duration how much time passes
   * @throws InterruptedException if interrupted while sleeping
   */
  void advance(Duration duration) throws InterruptedException;

  /**
   * Opens a second, independent host handle on the same host, as another program would (S3).
   *
   * @param options its options
   * @return the handle; closed by the caller or by {@link #close()}
   * @throws UnsupportedOperationException if the backend lacks {@link Capability#SHARED_RULES}
   * @throws DivertException on failure
   */
  DivertHost openAnotherHost(HostOptions options) throws DivertException;

  /**
   * Opens the host the way a program lacking the privileges the backend needs would, to check S46.
   * Expected to fail with {@link org.divert4j.PermissionException} naming what is missing.
   *
   * @param options host options
   * @return the host, if the backend needs no privileges (then the caller closes it)
   * @throws DivertException the permission error, or another failure
   */
  DivertHost openUnprivileged(HostOptions options) throws DivertException;

  /**
   * A snapshot of the state the backend keeps for its hosts outside the JVM's objects, on the test
   * bed's host, as lines that compare equal when nothing changed (S51: after a host closes, none of
   * its state may remain). For a kernel backend: every table of {@code iptables-save}, the queue
   * bindings of {@code /proc/net/netfilter/nfnetlink_queue} and every sysctl the backend or its
   * test bed may change, all read in the host's namespace. For the simulation: the engine's rules
   * and bound ports. Taken between operations, not while packets are in flight; counters that
   * traffic changes are left out.
   *
   * @return the lines; empty (the default) for a backend whose hosts keep no state outside the
   *     process (the TCK then requires it not to declare {@link Capability#SHARED_RULES}, whose
   *     rules live outside any one process)
   * @throws java.io.IOException if the state cannot be read
   */
  default java.util.List<String> hostState() throws java.io.IOException {
    return java.util.List.of();
  }

  /**
   * The memory the host under diversion holds now for fragments waiting to be reassembled (S24: it
   * is bounded by {@link org.divert4j.HostOptions#reassemblyMemory()}), where the backend can
   * measure it.
   *
   * @return the bytes held, or empty (the default) when the backend cannot tell
   */
  default java.util.OptionalLong reassemblyBytesHeld() {
    return java.util.OptionalLong.empty();
  }

  /**
   * Host options under which the buffers between the wire and a program hold fewer than {@code
   * packets} datagrams of {@code size} bytes, so that a burst of that many, unread, exhausts them
   * (S50: buffer exhaustion is counted, not thrown). They are the backend's own options, applied by
   * the backend itself: the test bed only chooses values that its network makes scarce. The default
   * shortens the divert queue ({@link HostOptions#queueLength()}), the only buffer of a backend
   * that keeps packets in its own process; a backend that hands packets over through a kernel
   * socket overrides it with a long queue and a small socket buffer, so that the socket overflows
   * first.
   *
   * @param base the options to start from
   * @param packets the number of datagrams of the burst, at least 4
   * @param size the size of each, bytes
   * @return options under which the burst cannot all be held
   */
  default HostOptions scarceBuffers(HostOptions base, int packets, int size) {
    return base.toBuilder().queueLength(Math.max(1, packets / 4)).build();
  }

  /**
   * The options the test bed opens {@link #host()} with: {@link TestBedOptions#host()}, made scarce
   * by {@link #scarceBuffers} when {@link TestBedOptions#burstPackets()} asks for it.
   *
   * @return the host's options
   */
  default HostOptions hostOpenOptions() {
    TestBedOptions o = options();
    return o.burstPackets() == 0
        ? o.host()
        : scarceBuffers(o.host(), o.burstPackets(), o.burstSize());
  }

  /** Removes everything the test bed made. Idempotent; never throws. */
  @Override
  void close();
}
