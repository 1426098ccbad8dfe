package org.divert4j.rawsocket.internal;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;

/**
 * The IP identification numbers a host gives packets it sends with ID 0 (S39) and the datagrams it
 * cuts (S19): non-zero, counting up from a random start. Thread-safe; allocates nothing.
 */
final class IpIds implements IntSupplier {
  private final AtomicInteger last = new AtomicInteger((int) (System.nanoTime() & 0xffff));

  @Override
  public int getAsInt() {
    while (true) {
      int id = last.incrementAndGet() & 0xffff;
      if (id != 0) {
        return id;
      }
    }
  }
}
