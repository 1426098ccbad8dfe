package org.divert4j.cli;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * How a long-running command ends on Ctrl-C or SIGTERM: a JVM shutdown hook that stops the command
 * (which must wake its loop without relying on the signal: peers.md c.1), then waits until the
 * command {@linkplain #release() releases} it, so its summary is printed before the JVM exits.
 *
 * <p>Threads: {@link #install()} and {@link #release()} on the command's thread; the stop action
 * runs on the hook's thread.
 */
final class ShutdownHook {
  private final Thread thread;
  private final CountDownLatch released = new CountDownLatch(1);

  /**
   * @param name the hook thread's name, e.g. {@code divert-dump-shutdown}
   * @param stop ends the command's loop; runs on the hook's thread
   * @param wait how long the hook waits for the command to finish after {@code stop}
   */
  ShutdownHook(String name, Runnable stop, Duration wait) {
    thread =
        new Thread(
            () -> {
              stop.run();
              try {
                released.await(wait.toMillis(), TimeUnit.MILLISECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            name);
  }

  /** Adds the hook to the JVM: from now on Ctrl-C stops the command. */
  void install() {
    Runtime.getRuntime().addShutdownHook(thread);
  }

  /**
   * Removes the hook, or, if the JVM is already shutting down and the hook runs, lets it return.
   * Call it once the command is done (its summary printed); safe if it was never installed.
   */
  void release() {
    try {
      // Returns false if it was never added (Runtime.removeShutdownHook's javadoc): fine too.
      Runtime.getRuntime().removeShutdownHook(thread);
    } catch (IllegalStateException e) {
      // The JVM is shutting down (Ctrl-C): the hook is running and waits for the latch below.
    } finally {
      released.countDown();
    }
  }
}
