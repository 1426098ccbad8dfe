package org.divert4j.junit;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertSocket;
import org.divert4j.PacketBatch;

/**
 * A packet program running on a thread of its own, and the handle that stops it: {@link #stop()}
 * closes what the program reads from (its divert socket), which wakes it with {@link
 * DivertClosedException}, waits for the thread to end, and rethrows what the program failed with. A
 * test thus never writes its own reader thread, stop flag or join.
 *
 * <pre>{@code
 * try (DivertProgram program = DivertProgram.loop(socket, 64, batch -> {
 *       for (int i = 0; i < batch.size(); i++) {
 *         if (isUnwanted(batch.packet(i))) {
 *           batch.drop(i);
 *         }
 *       }
 *     })) {
 *   // traffic through the host; the program diverts it meanwhile
 * } // stopped: the socket is closed, the thread has ended, a failure of the program is thrown
 * }</pre>
 *
 * <p>Thread-safe: {@link #stop()} may be called from any thread, more than once; the second and
 * later calls return at once (after rethrowing the same failure, if any). The program's own
 * exceptions are kept, not printed: the thread ends with the first one, and {@link #stop()} throws
 * it. A {@link DivertClosedException} after {@link #stop()} began is the normal end, not a failure;
 * one before (the host closed under the program) is a failure.
 */
public final class DivertProgram implements AutoCloseable {
  /** How long {@link #stop()} waits for the program's thread to end after closing its socket. */
  public static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);

  /**
   * A program's body: runs until the resource it reads from is closed, or fails.
   *
   * @see DivertProgram#start(String, AutoCloseable, Body)
   */
  @FunctionalInterface
  public interface Body {
    /**
     * Runs the program; returns or throws when done.
     *
     * @throws Exception a failure, which {@link DivertProgram#stop()} rethrows
     */
    void run() throws Exception;
  }

  /**
   * Decides about each batch of diverted packets before it is written back: change packets in
   * place, or mark them with {@link PacketBatch#drop(int)}.
   *
   * @see DivertProgram#loop(DivertSocket, int, BatchHandler)
   */
  @FunctionalInterface
  public interface BatchHandler {
    /**
     * Handles one batch, on the program's thread. The batch and its buffers belong to the loop and
     * are reused for the next receive: keep no reference to them after returning.
     *
     * @param batch the packets received, {@code batch.size()} of them
     * @throws Exception a failure, which ends the loop; {@link DivertProgram#stop()} rethrows it
     */
    void handle(PacketBatch batch) throws Exception;
  }

  private final Thread thread;
  private final AutoCloseable resource;
  private volatile boolean stopping;
  private volatile Throwable failure;

  private DivertProgram(String name, AutoCloseable resource, Body body) {
    this.resource = Objects.requireNonNull(resource, "resource");
    Objects.requireNonNull(body, "body");
    this.thread =
        new Thread(
            () -> {
              try {
                body.run();
              } catch (DivertClosedException e) {
                if (!stopping) {
                  failure = e;
                }
              } catch (Throwable t) {
                failure = t;
              }
            },
            Objects.requireNonNull(name, "name"));
    thread.setDaemon(true);
  }

  /**
   * Starts a program on a new daemon thread.
   *
   * @param name the thread's name, shown in thread dumps and in a failure to stop
   * @param resource what {@link #stop()} closes to end the program, usually its {@link
   *     DivertSocket}; its {@code close()} must wake the program
   * @param body the program
   * @return the running program's handle
   */
  public static DivertProgram start(String name, AutoCloseable resource, Body body) {
    DivertProgram program = new DivertProgram(name, resource, body);
    program.thread.start();
    return program;
  }

  /**
   * Starts the usual divert loop on a new thread: receive a batch from {@code socket}, let {@code
   * handler} change or drop packets, write the rest back, again until the socket is closed. The
   * loop allocates its batch once.
   *
   * @param socket the socket to read; closed by {@link #stop()}
   * @param batchSize how many packets one receive takes at most, at least 1
   * @param handler what the program does with each batch
   * @return the running program's handle
   * @throws IllegalArgumentException if {@code batchSize} is less than 1
   */
  public static DivertProgram loop(DivertSocket socket, int batchSize, BatchHandler handler) {
    Objects.requireNonNull(socket, "socket");
    Objects.requireNonNull(handler, "handler");
    PacketBatch batch = PacketBatch.allocate(batchSize);
    return start(
        "divert-program-port-" + socket.port(),
        socket,
        () -> {
          while (true) {
            if (socket.receive(batch, Duration.ofSeconds(1)) > 0) {
              handler.handle(batch);
              socket.send(batch);
            }
          }
        });
  }

  /**
   * @return true while the program's thread runs
   */
  public boolean isRunning() {
    return thread.isAlive();
  }

  /**
   * Stops the program: closes its resource, waits up to {@link #STOP_TIMEOUT} for its thread to
   * end, and rethrows its failure. Blocks the calling thread meanwhile.
   *
   * @throws Exception the program's failure (as it was thrown, an {@link Error} too), or the
   *     resource's failure to close
   * @throws IllegalStateException if the thread is still running after {@link #STOP_TIMEOUT}: the
   *     program does not end when its resource closes; the message holds the thread's stack
   * @throws InterruptedException if the calling thread is interrupted while waiting
   */
  public void stop() throws Exception {
    stopping = true;
    Exception closeFailure = null;
    try {
      resource.close();
    } catch (Exception e) {
      closeFailure = e;
    }
    thread.join(TimeUnit.NANOSECONDS.toMillis(STOP_TIMEOUT.toNanos()));
    if (thread.isAlive()) {
      IllegalStateException e =
          new IllegalStateException(
              "packet program "
                  + thread.getName()
                  + " did not end within "
                  + STOP_TIMEOUT.toMillis()
                  + " ms of closing its socket");
      e.setStackTrace(thread.getStackTrace());
      throw e;
    }
    Throwable t = failure;
    if (t instanceof Exception ex) {
      if (closeFailure != null) {
        ex.addSuppressed(closeFailure);
      }
      throw ex;
    }
    if (t instanceof Error err) {
      throw err;
    }
    if (t != null) {
      throw new IllegalStateException("packet program " + thread.getName() + " failed", t);
    }
    if (closeFailure != null) {
      throw closeFailure;
    }
  }

  /**
   * The same as {@link #stop()}, for try-with-resources.
   *
   * @throws Exception as {@link #stop()}
   */
  @Override
  public void close() throws Exception {
    stop();
  }
}
