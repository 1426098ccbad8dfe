package org.divert4j.tck.reliability;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.PacketBatch;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.junit.jupiter.api.BeforeEach;

/**
 * What the reliability verifications share: the backend they run on, its availability check, the
 * ports of their traffic, the rule that diverts it, and their figure lines.
 *
 * <p>Short by default (CI); {@code -Ddivert.reliability=long} runs the long versions. Each test
 * prints its figures on a line starting with {@code RELIABILITY} and appends it to {@code
 * target/reliability/<backend>.txt}.
 */
public abstract class ReliabilityVerification {
  /** The divert port of the tests (several-socket tests use the ports after it). */
  protected static final int PORT = 4700;

  /** The UDP port of the sink on the host node (several-socket tests use the ports after it). */
  protected static final int SINK = 47000;

  /** The UDP source port of the peer's senders. */
  protected static final int SOURCE = 46000;

  /** The UDP port of the sink on the peer, for packets the program injects. */
  protected static final int PEER_SINK = 45000;

  /** The backend under test. */
  protected final ReliabilityBackend backend;

  /**
   * @param backend the backend under test
   */
  protected ReliabilityVerification(ReliabilityBackend backend) {
    this.backend = backend;
  }

  /** Skips (with the reason) when the backend cannot run here. */
  @BeforeEach
  final void assumeBackendAvailable() {
    backend.assumeAvailable();
  }

  /**
   * @param options the test bed's options
   * @return a new test bed of the backend
   * @throws Exception if it cannot be built
   */
  final TestBed newBed(TestBedOptions options) throws Exception {
    return backend.newBed(options);
  }

  /**
   * @param test the test's name in the figures
   * @return a figure line of this backend
   */
  final Figures figures(String test) {
    return new Figures(backend.provider().name(), test);
  }

  /**
   * @param shortValue seconds in CI
   * @param longValue seconds with {@code -Ddivert.reliability=long}
   * @return the duration of this run
   */
  static Duration seconds(int shortValue, int longValue) {
    return Duration.ofSeconds(Figures.pick(shortValue, longValue));
  }

  /**
   * @param sinkPort UDP destination port
   * @param divertPort divert port
   * @return the rule diverting UDP input to {@code sinkPort}
   */
  static DivertRule udpTo(int sinkPort, int divertPort) {
    return DivertRule.parse("input -p udp --dport " + sinkPort + " -j DIVERT " + divertPort);
  }

  /**
   * Starts a daemon thread that receives batches on {@code s} and writes each back, until the
   * socket closes.
   *
   * @param s the socket
   * @param writeBackErrors counts the packets a write-back did not send
   * @param failure gets the first unexpected error
   * @param name the thread's name
   * @return the started thread
   */
  static Thread writeBack(
      DivertSocket s, AtomicLong writeBackErrors, AtomicReference<Throwable> failure, String name) {
    Thread t =
        new Thread(
            () -> {
              PacketBatch batch = PacketBatch.allocate(16, 2048, false);
              try {
                while (true) {
                  int n = s.receive(batch, Duration.ofSeconds(1));
                  if (n > 0) {
                    writeBackErrors.addAndGet(n - s.send(batch));
                  }
                }
              } catch (DivertClosedException e) {
                // done
              } catch (Throwable e) {
                failure.compareAndSet(null, e);
              }
            },
            name);
    t.setDaemon(true);
    t.start();
    return t;
  }
}
