package org.divert4j.pcap.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;

/**
 * The capture side of an {@link InlineSegment}: one thread per interface that copies each captured
 * frame into that side's bounded handoff ring ({@link HandoffRing}) for the segment's processing
 * thread, and the count of every frame lost on the way: a full ring, a frame longer than the
 * snapshot length, and frames the kernel could not put in libpcap's capture ring (read on demand).
 *
 * <p>Threads: the two capture threads write their side's ring and counters; the processing thread
 * drains the rings and says when it goes idle ({@link #idle(boolean)}), so that a new frame wakes
 * it; any thread may read the counts and wait for the captures to settle.
 */
final class SegmentCapture {
  private static final long RETRY_NANOS = 20_000_000L;
  private static final long QUIET_NANOS = 50_000L;

  private final String[] names;
  private final CaptureHandle[] handles;
  private final HandoffRing[] rings;
  private final ByteBuffer[] views;
  private final boolean countInterfaceDrops;
  private final Thread[] threads = new Thread[2];
  private final State[] states = {new State(), new State()};
  private volatile Thread processor;
  private volatile boolean running;
  private volatile boolean idle;
  private volatile String lastError;

  // Written by one capture thread each, read by any thread.
  private final AtomicLongArray handoffDrops = new AtomicLongArray(2);
  // Frames longer than the snapshot length, per side; written by that side's capture thread.
  private final AtomicLongArray truncated = new AtomicLongArray(2);
  private final Object pcapStatsLock = new Object();
  private final long[] pcapDrops = new long[2]; // guarded by pcapStatsLock
  private boolean pcapStatsClosed; // guarded by pcapStatsLock

  /** What a capture thread is doing, for {@link #awaitSettled}. Written by that thread only. */
  private static final class State {
    volatile boolean waiting;
    volatile long returns;
  }

  /**
   * @param names the two interfaces' names, for the threads
   * @param handles the two open captures, owned from now on (closed by {@link #close()})
   * @param handoffBytes each handoff ring's size
   * @param countInterfaceDrops true if libpcap's interface drop count ({@code ps_ifdrop}, read from
   *     sysfs of the JVM's namespace) describes these interfaces
   */
  SegmentCapture(
      String[] names, CaptureHandle[] handles, int handoffBytes, boolean countInterfaceDrops) {
    this.names = names;
    this.handles = handles;
    this.rings = new HandoffRing[] {new HandoffRing(handoffBytes), new HandoffRing(handoffBytes)};
    this.views =
        new ByteBuffer[] {ByteBuffer.wrap(rings[0].array()), ByteBuffer.wrap(rings[1].array())};
    this.countInterfaceDrops = countInterfaceDrops;
  }

  HandoffRing ring(int side) {
    return rings[side];
  }

  /** The buffer over {@link #ring(int)}'s array, for the processing thread. */
  ByteBuffer view(int side) {
    return views[side];
  }

  CaptureHandle handle(int side) {
    return handles[side];
  }

  /**
   * Starts both capture threads.
   *
   * @param wake the processing thread, unparked when a frame arrives while it is {@link #idle}
   */
  void start(Thread wake) {
    processor = wake;
    running = true;
    for (int side = 0; side < 2; side++) {
      int sd = side;
      Thread t = new Thread(() -> capture(sd), "d4j-pcap-capture-" + names[side]);
      t.setDaemon(true);
      threads[side] = t;
    }
    threads[0].start();
    threads[1].start();
  }

  /** Called by the processing thread around its sleep: while idle, a new frame unparks it. */
  void idle(boolean value) {
    idle = value;
  }

  /**
   * @return true if both handoff rings are empty
   */
  boolean isEmpty() {
    return rings[0].isEmpty() && rings[1].isEmpty();
  }

  private void capture(int side) {
    CaptureHandle h = handles[side];
    HandoffRing ring = rings[side];
    State state = states[side];
    while (running) {
      int rc;
      state.waiting = true;
      try {
        rc = h.next();
      } catch (IOException e) {
        lastError = e.toString();
        LockSupport.parkNanos(RETRY_NANOS);
        continue;
      } finally {
        state.waiting = false;
        state.returns = state.returns + 1;
      }
      if (rc == CaptureHandle.PACKET) {
        int len = Math.min(h.length(), CaptureHandle.MAX_FRAME);
        if (h.wireLength() > len) {
          // Longer than the snapshot length (Pcap.liveSnaplen): forwarding the cut frame would
          // corrupt it, so it is lost, and counted with the capture's losses.
          truncated.lazySet(side, truncated.get(side) + 1); // single writer
        } else if (ring.reserve(len)) {
          h.copyTo(ring.array(), ring.dataOffset(), len);
          ring.publish(h.timestampNanos());
          if (idle) {
            LockSupport.unpark(processor);
          }
        } else {
          handoffDrops.lazySet(side, handoffDrops.get(side) + 1); // single writer
        }
      }
    }
  }

  /**
   * Reads libpcap's drop counters now, on the calling thread. They are read on demand and not by
   * the capture threads, because a capture thread only runs when a packet arrives: libpcap 1.10 on
   * Linux does not return from {@code pcap_next_ex} when its read timeout passes without a packet
   * (pcap_wait_for_frames_mmap polls again; pcap_set_timeout(3PCAP): "the timer doesn't start until
   * at least one packet arrives"), so frames the kernel dropped from a full capture ring during a
   * burst would stay uncounted until the next packet. Serialized: {@code pcap_stats} adds the
   * kernel's counters (which {@code PACKET_STATISTICS} resets on every read) into the handle, so
   * two concurrent calls could lose a count. Monotonic, and kept after close.
   */
  private long readCaptureDrops() {
    synchronized (pcapStatsLock) {
      if (!pcapStatsClosed) {
        for (int side = 0; side < 2; side++) {
          CaptureHandle h = handles[side];
          // ps_ifdrop comes from sysfs, which shows the JVM's namespace, not the capture's:
          // only meaningful when the interfaces are in the JVM's own namespace.
          long d = countInterfaceDrops ? h.drops() : h.droppedByKernel();
          pcapDrops[side] = Math.max(pcapDrops[side], d);
        }
      }
      return pcapDrops[0] + pcapDrops[1];
    }
  }

  /**
   * @return frames lost below the engine: the handoff rings' drops, frames longer than the snapshot
   *     length, plus libpcap's drop counters (frames the kernel could not put in a full capture
   *     ring), read now
   */
  long drops() {
    return handoffDrops.get(0)
        + handoffDrops.get(1)
        + truncated.get(0)
        + truncated.get(1)
        + readCaptureDrops();
  }

  /**
   * Waits until every frame that had reached the capture before the call was handed off and
   * drained: both capture threads have been waiting in {@code pcap_next_ex} for a quiet period
   * without returning (the kernel has nothing more for them) and both rings are drained.
   *
   * @param limitNanos how long to try under a continuous flood before giving up
   */
  void awaitSettled(long limitNanos) {
    long deadline = System.nanoTime() + limitNanos;
    while (System.nanoTime() - deadline < 0 && running) {
      long r0 = states[0].returns;
      long r1 = states[1].returns;
      if (quiet()) {
        LockSupport.parkNanos(QUIET_NANOS);
        if (quiet() && r0 == states[0].returns && r1 == states[1].returns) {
          return;
        }
      } else {
        LockSupport.parkNanos(QUIET_NANOS / 2);
      }
    }
  }

  private boolean quiet() {
    return states[0].waiting && states[1].waiting && rings[0].isDrained() && rings[1].isDrained();
  }

  /** Stops both capture threads and waits for them (at most 5 s each). */
  void stop() {
    running = false;
    for (CaptureHandle h : handles) {
      h.breakLoop();
    }
    join(threads[0]);
    join(threads[1]);
  }

  /** After {@link #stop()}: takes libpcap's last counts, then closes both captures. */
  void close() {
    synchronized (pcapStatsLock) {
      readCaptureDrops(); // the last counts, before the handles go
      pcapStatsClosed = true;
    }
    InlineSegment.closeAll(handles);
  }

  /**
   * @return the last capture error, or null
   */
  String lastError() {
    return lastError;
  }

  static void join(Thread t) {
    if (t == null) {
      return;
    }
    try {
      t.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
