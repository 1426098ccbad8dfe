package org.divert4j.rawsocket.internal;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.List;
import java.util.concurrent.Callable;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertException;
import org.divert4j.PermissionException;
import org.divert4j.testbed.linux.NetnsThread;
import org.divert4j.testbed.linux.SyscallException;

/**
 * The host's thread in its network namespace: the shared {@link NetnsThread} (sockets belong to the
 * namespace of the thread that creates them; {@code /proc/thread-self/net} shows the thread's
 * namespace), with the failures the host reports turned into {@link DivertException}s.
 *
 * <p>The thread is created by the thread that calls {@link #start}, so it inherits that thread's
 * capabilities (a caller that dropped CAP_NET_ADMIN gets a namespace thread without it).
 * Thread-safe.
 */
public final class NsThread implements AutoCloseable {
  private final NetnsThread thread;
  private final String label;

  private NsThread(NetnsThread thread, String label) {
    this.thread = thread;
    this.label = label;
  }

  /**
   * Starts a thread in a namespace.
   *
   * @param nsPath the namespace file (e.g. {@code /var/run/netns/x}), or null to stay in the
   *     caller's namespace
   * @param label a name for the thread
   * @return the thread
   * @throws PermissionException if entering needs CAP_SYS_ADMIN the caller lacks
   * @throws DivertException if the namespace cannot be entered
   */
  public static NsThread start(String nsPath, String label) throws DivertException {
    try {
      return new NsThread(NetnsThread.start(Native.SYSCALLS, nsPath, label), label);
    } catch (SyscallException e) {
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
   * @return the inode number of the namespace, which identifies it machine-wide
   */
  public String inode() {
    return thread.inode();
  }

  /**
   * @return a path to the namespace usable by other processes ({@code nsenter --net=}) while this
   *     thread runs
   */
  public String nsPath() {
    return thread.nsPath();
  }

  /**
   * Runs a task on the namespace thread and waits for it.
   *
   * @param task the task
   * @param <T> its result type
   * @return its result
   * @throws DivertClosedException if the thread was closed
   * @throws DivertException what the task threw, or a wrapper of another checked exception
   */
  public <T> T call(Callable<T> task) throws DivertException {
    try {
      return thread.call(task::call);
    } catch (DivertException | RuntimeException e) {
      throw e;
    } catch (InterruptedIOException e) {
      throw new DivertException("interrupted while working in network namespace " + label);
    } catch (Exception e) {
      if (thread.isClosed()) {
        throw new DivertClosedException("network namespace thread " + label);
      }
      throw new DivertException(
          "failed in network namespace " + label + ": " + e, DivertException.NO_ERRNO, e);
    }
  }

  /** Stops the thread. Idempotent. */
  @Override
  public void close() {
    thread.close();
  }
}
