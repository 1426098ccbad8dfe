package org.divert4j.sim;

import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.divert4j.testbed.Datagram;
import org.divert4j.testbed.UdpEndpoint;

/** A UDP port on a simulated node. Datagrams queue without bound (tests send few). */
final class SimUdpEndpoint implements UdpEndpoint {
  private final SimNode node;
  private final int port;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition arrived = lock.newCondition();
  private final ArrayDeque<Datagram> queue = new ArrayDeque<>();
  private volatile boolean open = true;

  SimUdpEndpoint(SimNode node, int port) {
    this.node = node;
    this.port = port;
  }

  void deliver(Datagram d) {
    lock.lock();
    try {
      if (open) {
        queue.add(d);
        arrived.signalAll();
      }
    } finally {
      lock.unlock();
    }
  }

  @Override
  public int port() {
    return port;
  }

  @Override
  public Datagram receive(Duration timeout) throws IOException {
    long left = Math.max(0, timeout.toNanos());
    lock.lock();
    try {
      while (queue.isEmpty()) {
        if (!open) {
          throw new IOException("UDP endpoint " + port + " on " + node.name() + " is closed");
        }
        if (left <= 0) {
          return null;
        }
        left = arrived.awaitNanos(left);
      }
      return queue.poll();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void send(InetAddress destination, int destinationPort, byte[] payload)
      throws IOException {
    node.sendUdp(destination, port, destinationPort, payload);
  }

  @Override
  public void close() {
    lock.lock();
    try {
      open = false;
      arrived.signalAll();
    } finally {
      lock.unlock();
    }
    node.closeUdp(this);
  }
}
