package org.divert4j.linux;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertException;
import org.divert4j.PermissionException;

/**
 * A thread that lives in one network namespace and runs tasks there: a socket (or a pcap handle)
 * belongs to the namespace of the thread that creates it, and keeps it whatever thread uses it
 * afterwards, and {@code /proc/thread-self/net} shows the thread's namespace. The thread does
 * {@code setns(CLONE_NEWNET)} once when it starts; network namespaces are per thread on Linux, so
 * the rest of the JVM is not affected.
 *
 * <p>The thread is created by the thread that calls {@link #start}, so it inherits that thread's
 * capabilities (per thread on Linux too: a caller that dropped CAP_NET_ADMIN gets a namespace
 * thread without it; entering needs CAP_SYS_ADMIN).
 *
 * <p>Two faces over one thread: the test beds use {@link #open} and {@link #run}, which report
 * failures as {@link IOException}s; the backends use {@link #start} and {@link #call}, which turn
 * them into the {@link DivertException}s the public API promises.
 *
 * <p>Thread-safe: any thread may call {@link #run} or {@link #call}, which block until the task has
 * run; tasks run one at a time in submission order. {@link #close()} ends the thread (idempotent);
 * calls after it fail ({@link IOException}, or {@link DivertClosedException} from {@link #call}).
 */
public final class NetnsThread implements AutoCloseable {
  private static final AtomicInteger COUNT = new AtomicInteger();

  /**
   * Work for the namespace thread.
   *
   * @param <T> the result type
   * @param <E> the checked exception the work may throw
   */
  @FunctionalInterface
  public interface Task<T, E extends Exception> {
    /**
     * @return the result
     * @throws E on failure
     */
    T run() throws E;
  }

  private final ExecutorService exec;
  private final String label;
  private volatile int tid;
  private volatile String inode = "unknown";

  private NetnsThread(String label) {
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
   * Starts a thread in a namespace and waits until it is there.
   *
   * @param nsPath the namespace file ({@code /var/run/netns/NAME} or {@code /proc/PID/ns/net}), or
   *     null to stay in the caller's namespace
   * @param label a short name for the thread and for messages
   * @return the thread; the caller closes it
   * @throws ErrnoException if the namespace cannot be entered (EPERM without CAP_SYS_ADMIN)
   * @throws IOException if interrupted while waiting
   */
  public static NetnsThread open(String nsPath, String label) throws IOException {
    NetnsThread t = new NetnsThread(label);
    try {
      t.run(
          () -> {
            if (nsPath != null) {
              Native.enterNetns(nsPath);
            }
            t.tid = threadId();
            t.inode = readInode("/proc/thread-self/ns/net");
            return null;
          });
    } catch (IOException | RuntimeException | Error e) {
      t.close();
      throw e;
    }
    return t;
  }

  /**
   * Starts a thread in a namespace, for a backend: {@link #open} with its failures turned into
   * {@link DivertException}s.
   *
   * @param nsPath the namespace file (e.g. {@code /var/run/netns/x}), or null to stay in the
   *     caller's namespace
   * @param label a name for the thread
   * @return the thread; the caller closes it
   * @throws PermissionException if entering needs CAP_SYS_ADMIN the caller lacks
   * @throws DivertException if the namespace cannot be entered
   */
  public static NetnsThread start(String nsPath, String label) throws DivertException {
    try {
      return open(nsPath, label);
    } catch (ErrnoException e) {
      if (e.isPermission()) {
        throw new PermissionException(
            "enter network namespace " + nsPath, List.of("CAP_SYS_ADMIN"), e.errno(), e);
      }
      throw new DivertException(
          "cannot enter network namespace " + nsPath + ": " + e.getMessage(), e.errno(), e);
    } catch (IOException e) {
      throw new DivertException(
          "cannot enter network namespace " + nsPath + ": " + e.getMessage(),
          DivertException.NO_ERRNO,
          e);
    }
  }

  /**
   * Turns a namespace setting (a name of {@code ip netns}, or a path) into a namespace file.
   *
   * @param netns the setting, or null or empty for the caller's namespace
   * @return the path, or null for the caller's namespace
   */
  public static String pathOf(String netns) {
    if (netns == null || netns.isBlank()) {
      return null;
    }
    return netns.startsWith("/") ? netns : "/var/run/netns/" + netns;
  }

  /** The kernel thread id of the calling thread, from {@code /proc/thread-self -> PID/task/TID}. */
  private static int threadId() {
    try {
      Path p = Files.readSymbolicLink(Path.of("/proc/thread-self"));
      return Integer.parseInt(p.getFileName().toString());
    } catch (IOException | RuntimeException e) {
      return 0;
    }
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
   * @return the inode number of the namespace, which names it machine-wide, or {@code unknown}
   */
  public String inode() {
    return inode;
  }

  /**
   * @return a path to the namespace that other processes can use ({@code nsenter --net=}) while
   *     this thread runs
   */
  public String nsPath() {
    return "/proc/" + ProcessHandle.current().pid() + "/task/" + tid + "/ns/net";
  }

  /**
   * @return the kernel thread id of the namespace thread, which {@code ip link ... netns ID} and
   *     the kernel's {@code IFLA_NET_NS_PID} accept as a way to name its namespace (a thread id is
   *     found like a process id: kernel/pid.c, {@code find_task_by_vpid})
   */
  public int tid() {
    return tid;
  }

  /**
   * @return true once {@link #close()} was called
   */
  public boolean isClosed() {
    return exec.isShutdown();
  }

  /**
   * Runs a task on the namespace thread and waits for it. Blocks until the task has run.
   *
   * @param task the task
   * @param <T> its result type
   * @param <E> the checked exception it may throw
   * @return its result
   * @throws E what the task threw (unchecked exceptions and errors pass through as well)
   * @throws IOException if the thread was closed, or {@link InterruptedIOException} if the caller
   *     was interrupted while waiting (its interrupt flag is set again; the task may still run)
   */
  public <T, E extends Exception> T run(Task<T, E> task) throws E, IOException {
    Future<T> f;
    try {
      f = exec.submit(task::run);
    } catch (RejectedExecutionException e) {
      throw new IOException("the thread in network namespace " + label + " has ended");
    }
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while working in network namespace " + label);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof RuntimeException r) {
        throw r;
      }
      if (c instanceof Error err) {
        throw err;
      }
      @SuppressWarnings("unchecked") // the task's only checked exceptions are E
      E checked = (E) c;
      throw checked;
    }
  }

  /**
   * Runs a task on the namespace thread and waits for it, for a backend: {@link #run} with its
   * failures turned into {@link DivertException}s.
   *
   * @param task the task
   * @param <T> its result type
   * @return its result
   * @throws DivertClosedException if the thread was closed
   * @throws DivertException what the task threw, or a wrapper of another checked exception
   */
  public <T> T call(Callable<T> task) throws DivertException {
    try {
      return run(task::call);
    } catch (DivertException | RuntimeException e) {
      throw e;
    } catch (InterruptedIOException e) {
      throw new DivertException("interrupted while working in network namespace " + label);
    } catch (Exception e) {
      if (isClosed()) {
        throw new DivertClosedException("network namespace thread " + label);
      }
      throw new DivertException(
          "failed in network namespace " + label + ": " + e, DivertException.NO_ERRNO, e);
    }
  }

  /** Ends the thread once the task it runs (if any) is done. Idempotent; never blocks. */
  @Override
  public void close() {
    exec.shutdownNow();
  }

  @Override
  public String toString() {
    return "thread in network namespace " + label;
  }
}
