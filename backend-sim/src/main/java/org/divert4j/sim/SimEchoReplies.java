package org.divert4j.sim;

import java.io.IOException;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The echo replies a simulated node has received and a pinging thread has not yet taken, keyed by
 * family bit, identifier and sequence: the network's section adds them, a {@code ping} waits for
 * its own. Thread-safe.
 */
final class SimEchoReplies {
  private final Set<Long> replies = new HashSet<>();
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition arrived = lock.newCondition();

  /** An echo reply arrived; wakes the threads waiting for one. */
  void arrived(long key) {
    lock.lock();
    try {
      replies.add(key);
      arrived.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Blocks until the reply with this key has arrived, and takes it.
   *
   * @return true if it arrived within the timeout
   * @throws IOException if the thread is interrupted (its interrupt flag is set again)
   */
  boolean await(long key, Duration timeout) throws IOException {
    long left = timeout.toNanos();
    lock.lock();
    try {
      while (!replies.remove(key)) {
        if (left <= 0) {
          return false;
        }
        left = arrived.awaitNanos(left);
      }
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while waiting for an echo reply", e);
    } finally {
      lock.unlock();
    }
  }
}
