package org.divert4j.cli;

import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertException;
import org.divert4j.DivertSocket;
import org.divert4j.PacketBatch;
import org.divert4j.packet.Ipv4View;

/**
 * The demo's divert program: on its own thread it receives batches from a divert socket, prints a
 * line per packet, asks a {@link Policy} what to do with it (reinject, drop, or change and then
 * reinject) and writes the batch back in one call. It counts what it did per rule, and lets the
 * demo's main thread wait until it has handled a number of packets, so the trace is deterministic
 * on the simulation.
 */
final class DemoProgram implements AutoCloseable {
  /** What the program does with a packet. */
  enum Verdict {
    REINJECT,
    DROP,
    CHANGE
  }

  /**
   * @param verdict what to do
   * @param note what to print after the packet's line
   * @param detail what to print on a line of its own below it, or empty
   */
  record Decision(Verdict verdict, String note, String detail) {
    static Decision reinject() {
      return new Decision(Verdict.REINJECT, "reinject", "");
    }

    static Decision drop() {
      return new Decision(Verdict.DROP, "drop", "");
    }
  }

  /** Decides about one packet; may change its bytes (then answers {@link Verdict#CHANGE}). */
  @FunctionalInterface
  interface Policy {
    /**
     * @param packet the packet, position 0, limit its length; writable
     * @param view a view already wrapped around it
     * @return the decision
     */
    Decision decide(ByteBuffer packet, Ipv4View view);
  }

  /** Per-rule counts: diverted, reinjected (changed ones included), dropped, changed. */
  static final int DIVERTED = 0;

  static final int REINJECTED = 1;
  static final int DROPPED = 2;
  static final int CHANGED = 3;

  private static final Duration POLL = Duration.ofMillis(50);

  private final DivertSocket socket;
  private final PrintWriter out;
  private final Policy policy;
  private final Thread thread;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition progress = lock.newCondition();
  private final Map<Integer, long[]> perRule = new TreeMap<>();
  private long handled;
  private volatile boolean stopping;
  private volatile Exception failure;

  DemoProgram(DivertSocket socket, PrintWriter out, Policy policy) {
    this.socket = socket;
    this.out = out;
    this.policy = policy;
    this.thread = new Thread(this::loop, "divert-demo-program-" + socket.port());
    this.thread.setDaemon(true);
  }

  DemoProgram start() {
    thread.start();
    return this;
  }

  private void loop() {
    PacketBatch batch = PacketBatch.allocate(16);
    Ipv4View view = new Ipv4View();
    PacketLine line = new PacketLine();
    try {
      while (!stopping) {
        int n = socket.receive(batch, POLL);
        if (n == 0) {
          continue;
        }
        String[] lines = new String[n];
        for (int i = 0; i < n; i++) {
          ByteBuffer p = batch.packet(i);
          String described = line.describe(batch, i);
          Decision d = policy.decide(p, view.wrap(p));
          if (d.verdict() == Verdict.DROP) {
            batch.drop(i);
          }
          lines[i] =
              "  "
                  + described
                  + "  -> "
                  + d.note()
                  + (d.detail().isEmpty() ? "" : "\n      " + d.detail());
          count(batch.ruleId(i), d.verdict());
        }
        socket.send(batch);
        for (int i = 0; i < n; i++) {
          if (batch.error(i) != null) {
            lines[i] += " (write-back failed: " + batch.error(i).getMessage() + ")";
          }
        }
        synchronized (out) {
          for (String l : lines) {
            out.println(l);
          }
          out.flush();
        }
        lock.lock();
        try {
          handled += n;
          progress.signalAll();
        } finally {
          lock.unlock();
        }
      }
    } catch (DivertClosedException e) {
      // closed by close(): the normal end
    } catch (DivertException | RuntimeException e) {
      // Reported by the demo as an unexpected step, in one line; a backend bug must not print a
      // stack trace from this thread.
      failure = e;
    } finally {
      lock.lock();
      try {
        stopping = true;
        progress.signalAll();
      } finally {
        lock.unlock();
      }
    }
  }

  private void count(int ruleId, Verdict v) {
    lock.lock();
    try {
      long[] c = perRule.computeIfAbsent(ruleId, k -> new long[4]);
      c[DIVERTED]++;
      switch (v) {
        case REINJECT -> c[REINJECTED]++;
        case DROP -> c[DROPPED]++;
        case CHANGE -> {
          c[REINJECTED]++;
          c[CHANGED]++;
        }
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits until the program has handled (printed and written back or dropped) at least {@code n}
   * packets in all.
   *
   * @return true if it has, false if the wait timed out or the program stopped first
   */
  boolean awaitHandled(long n, Duration timeout) throws InterruptedException {
    long left = timeout.toNanos();
    lock.lock();
    try {
      while (handled < n) {
        if (left <= 0 || stopping) {
          return false;
        }
        left = progress.awaitNanos(left);
      }
      return true;
    } finally {
      lock.unlock();
    }
  }

  long handled() {
    lock.lock();
    try {
      return handled;
    } finally {
      lock.unlock();
    }
  }

  /**
   * @return counts for a rule id: {diverted, reinjected, dropped, changed}
   */
  long[] tally(int ruleId) {
    lock.lock();
    try {
      return perRule.getOrDefault(ruleId, new long[4]).clone();
    } finally {
      lock.unlock();
    }
  }

  /**
   * @return the error that stopped the program, or null
   */
  Exception failure() {
    return failure;
  }

  /** Stops the program: closes its socket, which wakes its receive, and waits for the thread. */
  @Override
  public void close() {
    stopping = true;
    socket.close();
    try {
      thread.join(TimeUnit.SECONDS.toMillis(5));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
