package org.divert4j.tck.reliability;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.BitSet;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertException;
import org.divert4j.DivertSocket;
import org.divert4j.PacketBatch;
import org.divert4j.testbed.Datagram;
import org.divert4j.testbed.UdpEndpoint;

/**
 * Tagged traffic for reliability tests: every UDP payload carries a stream number and a sequence
 * number, so a sink can tell lost, duplicated and foreign datagrams apart.
 */
final class Traffic {
  static final int TAG_BYTES = 12;
  static final int MAGIC = 0xD4A1_7E57;

  private Traffic() {}

  static byte[] tag(int stream, int seq) {
    return tag(stream, seq, 0);
  }

  static byte[] tag(int stream, int seq, int padding) {
    return ByteBuffer.allocate(TAG_BYTES + padding)
        .putInt(MAGIC)
        .putInt(stream)
        .putInt(seq)
        .array();
  }

  /** Counts tagged datagrams arriving at an endpoint, per stream, on its own thread. */
  static final class Sink implements AutoCloseable {
    private final UdpEndpoint endpoint;
    private final BitSet[] seen;
    private final long[] distinct;
    private final AtomicLong total = new AtomicLong();
    private final AtomicLong duplicates = new AtomicLong();
    private final AtomicLong foreign = new AtomicLong();
    private final Thread thread;
    private volatile boolean running = true;
    private volatile IOException failure;

    Sink(UdpEndpoint endpoint, int streams) {
      this.endpoint = endpoint;
      this.seen = new BitSet[streams];
      this.distinct = new long[streams];
      for (int i = 0; i < streams; i++) {
        seen[i] = new BitSet();
      }
      thread = new Thread(this::run, "reliability-sink-" + endpoint.port());
      thread.setDaemon(true);
      thread.start();
    }

    private void run() {
      try {
        while (running) {
          Datagram d = endpoint.receive(Duration.ofMillis(50));
          if (d != null) {
            record(d.payload());
          }
        }
      } catch (IOException e) {
        if (running) {
          failure = e;
        }
      }
    }

    private void record(byte[] p) {
      total.incrementAndGet();
      if (p.length < TAG_BYTES) {
        foreign.incrementAndGet();
        return;
      }
      ByteBuffer b = ByteBuffer.wrap(p);
      int stream = b.getInt(4);
      int seq = b.getInt(8);
      if (b.getInt(0) != MAGIC || stream < 0 || stream >= seen.length || seq < 0) {
        foreign.incrementAndGet();
        return;
      }
      synchronized (this) {
        if (seen[stream].get(seq)) {
          duplicates.incrementAndGet();
        } else {
          seen[stream].set(seq);
          distinct[stream]++;
        }
      }
    }

    long total() {
      return total.get();
    }

    long duplicates() {
      return duplicates.get();
    }

    long foreign() {
      return foreign.get();
    }

    synchronized long distinct(int stream) {
      return distinct[stream];
    }

    synchronized long distinct() {
      long s = 0;
      for (long d : distinct) {
        s += d;
      }
      return s;
    }

    /**
     * Waits until the total stops changing for {@code quiet}, or {@code max} passes.
     *
     * @return the total
     */
    long awaitQuiet(Duration quiet, Duration max) throws InterruptedException {
      long deadline = System.nanoTime() + max.toNanos();
      long last = -1;
      long since = System.nanoTime();
      while (System.nanoTime() < deadline) {
        long now = total();
        if (now != last) {
          last = now;
          since = System.nanoTime();
        } else if (System.nanoTime() - since >= quiet.toNanos()) {
          break;
        }
        Thread.sleep(20);
      }
      return total();
    }

    /** Waits until at least {@code n} datagrams arrived, or {@code max} passes. */
    long awaitAtLeast(long n, Duration max) throws InterruptedException {
      long deadline = System.nanoTime() + max.toNanos();
      while (total() < n && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      return total();
    }

    void check() throws IOException {
      if (failure != null) {
        throw failure;
      }
    }

    @Override
    public void close() {
      running = false;
      try {
        thread.join(2000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * Sends tagged datagrams at a fixed rate from an endpoint. Counts what the sending stack accepted
   * ({@link #offered()}) and what it refused ({@link #refused()}, e.g. ENOBUFS from the sender's
   * own stack: never offered to the divert host).
   */
  static final class Sender {
    private final UdpEndpoint from;
    private final InetAddress to;
    private final int port;
    private final int stream;
    private int seq;
    private long refused;
    private int padding;

    Sender(UdpEndpoint from, InetAddress to, int port, int stream) {
      this.from = from;
      this.to = to;
      this.port = port;
      this.stream = stream;
    }

    Sender padding(int bytes) {
      this.padding = bytes;
      return this;
    }

    /** Sends at {@code perSecond} for {@code duration}, on the calling thread. */
    void run(int perSecond, Duration duration) {
      long start = System.nanoTime();
      long nanos = duration.toNanos();
      int sent = 0;
      while (true) {
        long elapsed = System.nanoTime() - start;
        if (elapsed >= nanos) {
          break;
        }
        long due = elapsed * perSecond / 1_000_000_000L;
        while (sent < due) {
          sendOne();
          sent++;
        }
        LockSupport.parkNanos(500_000);
      }
    }

    /** Sends {@code n} datagrams as fast as the stack accepts them. */
    void burst(int n) {
      for (int i = 0; i < n; i++) {
        sendOne();
      }
    }

    private void sendOne() {
      try {
        from.send(to, port, tag(stream, seq, padding));
        seq++;
      } catch (IOException e) {
        refused++;
      }
    }

    long offered() {
      return seq;
    }

    long refused() {
      return refused;
    }
  }

  /**
   * A divert program that consumes at a fixed rate: it receives a batch, writes it back, then
   * sleeps as long as that many packets take at its rate. Runs on its own thread until the socket
   * closes or {@link #stop()}.
   */
  static final class SlowProgram implements AutoCloseable {
    private final DivertSocket socket;
    private final int perSecond;
    private final PacketBatch batch;
    private final Thread thread;
    private final AtomicLong consumed = new AtomicLong();
    private volatile boolean running = true;
    private volatile Exception failure;

    SlowProgram(DivertSocket socket, int perSecond, int batchSize) {
      this.socket = socket;
      this.perSecond = perSecond;
      this.batch = PacketBatch.allocate(batchSize, 2048, false);
      thread = new Thread(this::run, "reliability-program-" + socket.port());
      thread.setDaemon(true);
      thread.start();
    }

    private void run() {
      try {
        while (running) {
          int n = socket.receive(batch, Duration.ofMillis(50));
          if (n > 0) {
            socket.send(batch);
            consumed.addAndGet(n);
            LockSupport.parkNanos(n * 1_000_000_000L / perSecond);
          }
        }
      } catch (DivertClosedException e) {
        // the socket closed: done
      } catch (DivertException | RuntimeException e) {
        failure = e;
      }
    }

    long consumed() {
      return consumed.get();
    }

    void stop() throws InterruptedException {
      running = false;
      thread.join(5000);
    }

    void check() throws Exception {
      if (failure != null) {
        throw failure;
      }
    }

    @Override
    public void close() throws InterruptedException {
      stop();
    }
  }
}
