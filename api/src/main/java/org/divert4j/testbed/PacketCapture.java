package org.divert4j.testbed;

import java.time.Duration;
import java.util.List;
import java.util.function.Predicate;

/** IPv4 packets captured as they arrived at a test node, in arrival order. Thread-safe. */
public interface PacketCapture extends AutoCloseable {
  /**
   * @return a snapshot of the packets captured so far; each array is one IP packet, owned by the
   *     caller
   */
  List<byte[]> packets();

  /**
   * Waits until at least {@code count} captured packets satisfy {@code filter}.
   *
   * @param filter which packets count
   * @param count how many are wanted
   * @param timeout how long to wait
   * @return the matching packets captured when the wait ended (possibly fewer than {@code count})
   * @throws InterruptedException if interrupted
   */
  List<byte[]> await(Predicate<byte[]> filter, int count, Duration timeout)
      throws InterruptedException;

  /** Stops capturing. Idempotent. */
  @Override
  void close();
}
