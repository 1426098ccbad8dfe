package org.divert4j.rawsocket.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.divert4j.DivertException;

/**
 * A thread that lives in one network namespace, for work that must happen there: creating sockets
 * (a socket belongs to the namespace of the thread that creates it, and keeps it when used from any
 * other thread) and reading per-namespace {@code /proc/thread-self/net} files. The thread does
 * {@code setns(CLONE_NEWNET)} once when it starts; network namespaces are per thread on Linux, so
 * the rest of the JVM is not affected.
 *
 * <p>The thread is created by the thread that calls {@link #start}, so it inherits that thread's
 * namespace and capabilities (capabilities are per thread too: a caller that dropped CAP_NET_ADMIN
 * gets a namespace thread without it). Thread-safe.
 */
public final class NsThread implements AutoCloseable {
  private static final AtomicInteger COUNT = new AtomicInteger();

  private final ExecutorService exec;
  private final String label;
  private volatile int tid;
  private volatile String inode;

  private NsThread(String label) {
    this.label = label;
    int n = COUNT.incrementAndGet();
    this.exec =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "d4j-netns-" + n + "-" + label);
              t.setDaemon(true);
              return t;
            });
  }

  /**
   * Starts a thread in a namespace.
   *
   * @param nsPath the namespace file (e.g. {@code /var/run/netns/x}), or null to stay in the
   *     caller's namespace
   * @param label a name for the thread
   * @return the thread
   * @throws DivertException if the namespace cannot be entered
   */
  public static NsThread start(String nsPath, String label) throws DivertException {
    NsThread t = new NsThread(label);
    try {
      t.call(
          () -> {
            if (nsPath != null) {
              int fd;
              try {
                fd = Native.openReadOnly(nsPath);
              } catch (ErrnoException e) {
                throw new DivertException(
                    "cannot open network namespace " + nsPath + ": " + e.getMessage(),
                    e.errno(),
                    e);
              }
              try {
                Native.setnsNet(fd);
              } catch (ErrnoException e) {
                if (Errors.isPermission(e.errno())) {
                  throw new org.divert4j.PermissionException(
                      "enter network namespace " + nsPath,
                      java.util.List.of("CAP_SYS_ADMIN"),
                      e.errno(),
                      e);
                }
                throw new DivertException(
                    "cannot enter network namespace " + nsPath + ": " + e.getMessage(),
                    e.errno(),
                    e);
              } finally {
                Native.close(fd);
              }
            }
            t.tid = Native.gettid();
            t.inode = readInode("/proc/thread-self/ns/net");
            return null;
          });
    } catch (DivertException | RuntimeException e) {
      t.close();
      throw e;
    }
    return t;
  }

  private static String readInode(String link) {
    try {
      String target = Files.readSymbolicLink(Path.of(link)).toString(); // net:[4026531840]
      int a = target.indexOf('[');
      int b = target.indexOf(']');
      return a >= 0 && b > a ? target.substring(a + 1, b) : target;
    } catch (IOException | RuntimeException e) {
      return "unknown";
    }
  }

  /**
   * @return the inode number of the namespace, which identifies it machine-wide
   */
  public String inode() {
    return inode;
  }

  /**
   * @return a path to the namespace usable by other processes ({@code nsenter --net=}) while this
   *     thread runs
   */
  public String nsPath() {
    return "/proc/" + ProcessHandle.current().pid() + "/task/" + tid + "/ns/net";
  }

  /**
   * Runs a task on the namespace thread and waits for it.
   *
   * @param task the task
   * @param <T> its result type
   * @return its result
   * @throws DivertException what the task threw, or a wrapper of another checked exception
   */
  public <T> T call(Callable<T> task) throws DivertException {
    Future<T> f;
    try {
      f = exec.submit(task);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      throw new org.divert4j.DivertClosedException("network namespace thread " + label);
    }
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DivertException("interrupted while working in network namespace " + label);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof DivertException d) {
        throw d;
      }
      if (c instanceof RuntimeException r) {
        throw r;
      }
      if (c instanceof Error err) {
        throw err;
      }
      throw new DivertException(
          "failed in network namespace " + label + ": " + c, DivertException.NO_ERRNO, c);
    }
  }

  /** Stops the thread. Idempotent. */
  @Override
  public void close() {
    exec.shutdownNow();
  }
}
