package org.divert4j.rawsocket;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.divert4j.DivertAddress;
import org.divert4j.DivertSocket;
import org.divert4j.PacketBatch;

/**
 * A divert program for tests: receives in batches, records what it saw, and writes back (or drops)
 * every packet, on its own thread until closed.
 */
final class Reflector implements AutoCloseable {
  /** What was received: the packet bytes and its address. */
  record Seen(byte[] packet, DivertAddress address) {
    int fragmentOffset() {
      return ((packet[6] & 0x1f) << 8 | (packet[7] & 0xff)) * 8;
    }

    boolean moreFragments() {
      return (packet[6] & 0x20) != 0;
    }

    int protocol() {
      return packet[9] & 0xff;
    }
  }

  private final DivertSocket socket;
  private final Predicate<Seen> writeBack;
  private final List<Seen> seen = new ArrayList<>();
  private final List<Throwable> errors = new ArrayList<>();
  private final Thread thread;
  private volatile boolean stop;

  Reflector(DivertSocket socket) {
    this(socket, s -> true);
  }

  Reflector(DivertSocket socket, Predicate<Seen> writeBack) {
    this.socket = socket;
    this.writeBack = writeBack;
    this.thread = new Thread(this::run, "reflector-" + socket.port());
    thread.setDaemon(true);
    thread.start();
  }

  private void run() {
    PacketBatch batch = PacketBatch.allocate(16);
    while (!stop) {
      try {
        int n = socket.receive(batch, Duration.ofMillis(50));
        for (int i = 0; i < n; i++) {
          byte[] p = new byte[batch.packet(i).remaining()];
          batch.packet(i).get(0, p);
          Seen s = new Seen(p, batch.address(i));
          synchronized (seen) {
            seen.add(s);
            seen.notifyAll();
          }
          if (!writeBack.test(s)) {
            batch.drop(i);
          }
        }
        if (n > 0) {
          socket.send(batch);
          for (int i = 0; i < n; i++) {
            if (batch.error(i) != null) {
              synchronized (errors) {
                errors.add(batch.error(i));
              }
            }
          }
        }
      } catch (Exception e) {
        if (!stop && socket.isOpen()) {
          synchronized (errors) {
            errors.add(e);
          }
        }
        return;
      }
    }
  }

  List<Seen> seen() {
    synchronized (seen) {
      return new ArrayList<>(seen);
    }
  }

  List<Seen> await(int count, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (seen) {
      while (seen.size() < count) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          break;
        }
        seen.wait(Math.max(1, left / 1_000_000));
      }
      return new ArrayList<>(seen);
    }
  }

  List<Throwable> errors() {
    synchronized (errors) {
      return new ArrayList<>(errors);
    }
  }

  @Override
  public void close() {
    stop = true;
    try {
      thread.join(2000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
