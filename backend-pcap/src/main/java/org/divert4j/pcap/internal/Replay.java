package org.divert4j.pcap.internal;

import java.nio.file.Path;
import java.time.Duration;

/** A savefile replay as {@code org.divert4j.pcap.PcapReplay} sees it. Thread-safe. */
public interface Replay {
  /** Starts reading the input capture, if it has not started yet. Returns at once. */
  void start();

  /**
   * @return true once started
   */
  boolean started();

  /**
   * @return true once every packet of the input capture has entered the engine
   */
  boolean inputDone();

  /**
   * @return true once the input is done and no socket holds or queues a packet of it (every
   *     diverted packet was written back, dropped, expired or closed); the output is then flushed
   */
  boolean finished();

  /**
   * Waits until {@link #finished()}.
   *
   * @param timeout how long to wait
   * @return true if finished in time
   * @throws InterruptedException if interrupted
   */
  boolean awaitFinished(Duration timeout) throws InterruptedException;

  /**
   * @return packets read from the input capture so far
   */
  long packetsRead();

  /**
   * @return packets written to the output capture so far
   */
  long packetsWritten();

  /**
   * @return the input capture
   */
  Path input();

  /**
   * @return the output capture
   */
  Path output();

  /**
   * @return what stopped the replay early (a read or write error), or null
   */
  Throwable failure();
}
