package org.divert4j.pcap.internal;

import java.io.IOException;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A thread that lives in one network namespace (it entered it with {@code setns(2)}) and runs tasks
 * there: sockets and pcap handles are bound to the namespace of the thread that creates them, and
 * keep it whatever thread uses them afterwards. Optionally the thread also drops its effective
 * capabilities first, to act as an unprivileged program would (S46).
 *
 * <p>Thread-safe. {@link #call(Callable)} blocks until the task ran. {@link #close()} ends the
 * thread; idempotent.
 */
final class NetnsThread implements AutoCloseable {
  private static final Runnable STOP = () -> {};

  private final String description;
  private final BlockingQueue<Runnable> tasks = new LinkedBlockingQueue<>();
  private final Thread thread;
  private volatile boolean closed;

  private NetnsThread(String nsPath, boolean unprivileged) throws IOException {
    this.description =
        (nsPath == null ? "this namespace" : "netns " + nsPath)
            + (unprivileged ? ", no capabilities" : "");
    CompletableFuture<Void> started = new CompletableFuture<>();
    this.thread =
        new Thread(
            () -> {
              try {
                if (nsPath != null) {
                  Native.enterNetns(nsPath);
                }
                if (unprivileged) {
                  Native.dropEffectiveCapabilities();
                }
              } catch (IOException | RuntimeException | LinkageError e) {
                started.completeExceptionally(e);
                return;
              }
              started.complete(null);
              run();
            },
            "d4j-pcap-netns");
    thread.setDaemon(true);
    thread.start();
    try {
      started.get(30, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof IOException io) {
        throw io;
      }
      throw new IOException("cannot enter " + description + ": " + c, c);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      close();
      throw new IOException("interrupted while entering " + description, e);
    } catch (TimeoutException e) {
      close();
      throw new IOException("timed out entering " + description, e);
    }
  }

  /**
   * Starts a thread in a namespace.
   *
   * @param nsPath the namespace file ({@code /var/run/netns/NAME} or {@code /proc/PID/ns/net}), or
   *     null for the caller's namespace
   * @param unprivileged true to clear the thread's effective capabilities
   * @return the thread, ready for tasks
   * @throws IOException if the namespace cannot be entered
   */
  static NetnsThread start(String nsPath, boolean unprivileged) throws IOException {
    return new NetnsThread(nsPath, unprivileged);
  }

  /**
   * Turns a {@code pcap.netns} value into a namespace file: a name of {@code ip netns} or a path.
   *
   * @param netns the value, or null
   * @return the path, or null for the caller's namespace
   */
  static String pathOf(String netns) {
    if (netns == null || netns.isEmpty()) {
      return null;
    }
    return netns.startsWith("/") ? netns : "/var/run/netns/" + netns;
  }

  private void run() {
    while (true) {
      Runnable r;
      try {
        r = tasks.take();
      } catch (InterruptedException e) {
        return;
      }
      if (r == STOP) {
        return;
      }
      r.run();
    }
  }

  /**
   * Runs a task on the thread, inside the namespace, and waits for it.
   *
   * @param task the task
   * @param <T> its result type
   * @return its result
   * @throws Exception what the task threw
   */
  <T> T call(Callable<T> task) throws Exception {
    if (closed) {
      throw new IOException("the thread in " + description + " has ended");
    }
    CompletableFuture<T> f = new CompletableFuture<>();
    tasks.add(
        () -> {
          try {
            f.complete(task.call());
          } catch (Throwable t) {
            f.completeExceptionally(t);
          }
        });
    try {
      return f.get();
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof Exception ex) {
        throw ex;
      }
      if (c instanceof Error err) {
        throw err;
      }
      throw new IOException(c);
    }
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    tasks.add(STOP);
  }

  @Override
  public String toString() {
    return "thread in " + description;
  }
}
