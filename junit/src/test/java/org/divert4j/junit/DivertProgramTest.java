package org.divert4j.junit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.divert4j.DivertClosedException;
import org.junit.jupiter.api.Test;

/** DivertProgram's thread handling, with a latch standing for the socket. */
class DivertProgramTest {
  /** A resource whose close wakes the program, as a divert socket's does. */
  static final class Gate implements AutoCloseable {
    final CountDownLatch closed = new CountDownLatch(1);
    final AtomicInteger closes = new AtomicInteger();

    @Override
    public void close() {
      closes.incrementAndGet();
      closed.countDown();
    }

    void await() throws DivertClosedException, InterruptedException {
      closed.await();
      throw new DivertClosedException("closed");
    }
  }

  @Test
  void stopClosesTheResourceAndWaitsForTheThread() throws Exception {
    Gate gate = new Gate();
    CountDownLatch started = new CountDownLatch(1);
    DivertProgram program =
        DivertProgram.start(
            "test-program",
            gate,
            () -> {
              started.countDown();
              gate.await();
            });
    assertTrue(started.await(5, TimeUnit.SECONDS));
    assertTrue(program.isRunning());
    program.stop();
    assertFalse(program.isRunning(), "stop returned before the thread ended");
    assertEquals(1, gate.closes.get());
    program.stop(); // again: returns at once
    assertEquals(2, gate.closes.get());
  }

  @Test
  void stopRethrowsTheProgramsFailure() throws Exception {
    Gate gate = new Gate();
    IOException boom = new IOException("boom");
    DivertProgram program =
        DivertProgram.start(
            "test-program",
            gate,
            () -> {
              throw boom;
            });
    IOException thrown = assertThrows(IOException.class, program::stop);
    assertSame(boom, thrown);
    assertSame(boom, assertThrows(IOException.class, program::close), "and again on close");
  }

  @Test
  void aCloseBeforeStopIsAFailure() throws Exception {
    Gate gate = new Gate();
    DivertProgram program = DivertProgram.start("test-program", gate, gate::await);
    gate.close(); // someone else closes the socket under the program
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (program.isRunning() && System.nanoTime() < deadline) {
      Thread.onSpinWait();
    }
    assertFalse(program.isRunning());
    assertThrows(DivertClosedException.class, program::stop);
  }

  @Test
  void aResourceThatFailsToCloseIsReported() {
    CountDownLatch done = new CountDownLatch(1);
    AutoCloseable resource =
        () -> {
          done.countDown();
          throw new IOException("close failed");
        };
    DivertProgram program = DivertProgram.start("test-program", resource, done::await);
    IOException e = assertThrows(IOException.class, program::stop);
    assertEquals("close failed", e.getMessage());
  }
}
