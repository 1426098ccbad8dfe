package org.divert4j.sim;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.divert4j.testbed.PacketCapture;

/** Packets that arrived at a simulated node, copied as they were on the wire. */
final class SimCapture implements PacketCapture {
  private final List<SimCapture> registry;
  private final List<byte[]> packets = new ArrayList<>();
  private volatile boolean open = true;

  SimCapture(List<SimCapture> registry) {
    this.registry = registry;
  }

  synchronized void add(ByteBuffer b) {
    if (open) {
      byte[] copy = new byte[b.remaining()];
      b.get(b.position(), copy);
      packets.add(copy);
      notifyAll();
    }
  }

  @Override
  public synchronized List<byte[]> packets() {
    List<byte[]> out = new ArrayList<>(packets.size());
    for (byte[] p : packets) {
      out.add(p.clone());
    }
    return out;
  }

  @Override
  public synchronized List<byte[]> await(Predicate<byte[]> filter, int count, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + Math.max(0, timeout.toNanos());
    while (true) {
      List<byte[]> match = new ArrayList<>();
      for (byte[] p : packets) {
        if (filter.test(p)) {
          match.add(p.clone());
        }
      }
      long left = deadline - System.nanoTime();
      if (match.size() >= count || left <= 0 || !open) {
        return match;
      }
      wait(Math.max(1, left / 1_000_000), 0);
    }
  }

  @Override
  public void close() {
    synchronized (this) {
      open = false;
      notifyAll();
    }
    registry.remove(this);
  }
}
