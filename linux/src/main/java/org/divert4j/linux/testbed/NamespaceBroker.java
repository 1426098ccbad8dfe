package org.divert4j.linux.testbed;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.divert4j.linux.Shell;
import org.divert4j.linux.UnixSeqpacket;

/**
 * A root process that builds network namespaces for a test bed running in a JVM that holds only
 * CAP_NET_ADMIN and CAP_NET_RAW (issue 16: the kernel TCK as a service user). The unprivileged JVM
 * ({@link NamespaceBrokerClient}) cannot create namespaces nor enter them (setns needs
 * CAP_SYS_ADMIN), so it asks this broker, over a Unix-domain socket, to create and delete peer
 * namespaces, join them to its own namespace with veth pairs, run {@code ip}, {@code ping} and
 * iptables and set sysctls in them, and make sockets inside them, which come back with {@code
 * SCM_RIGHTS} and stay in the namespace they were made in. The backend under test does none of
 * this: it runs in the client's own namespace with the client's two capabilities.
 *
 * <p>What it may touch: the namespaces it created for a connection ({@code d4j-<broker pid>-...},
 * so {@link Netns#deleteOrphans()} removes them if the broker is killed), and the one namespace it
 * was started for, only when the connecting process runs in it ({@code SO_PEERCRED}: pid, and
 * {@code /proc/PID/ns/net}), never the broker's own. Each connection is a {@link BrokerSession};
 * when it ends (the client closes or dies) everything it made goes: its namespaces, the veths it
 * put into the client's namespace and the sysctls it changed there, restored.
 *
 * <p>Run as a program: {@code NamespaceBroker SOCKET CLIENT_NETNS [UID]}; it prints {@code READY}
 * once it listens and stops, removing everything, when its standard input ends (the process that
 * started it closed it or died). Thread-safe; one thread per connection.
 */
public final class NamespaceBroker implements AutoCloseable {
  private final UnixSeqpacket listener;
  private final Path socketPath;
  private final String clientNetns;
  private final int allowedUid;
  private final Thread acceptor;
  private final List<BrokerSession> sessions = new CopyOnWriteArrayList<>();
  private volatile boolean closed;

  private NamespaceBroker(
      UnixSeqpacket listener, Path socketPath, String clientNetns, int allowedUid) {
    this.listener = listener;
    this.socketPath = socketPath;
    this.clientNetns = clientNetns;
    this.allowedUid = allowedUid;
    this.acceptor = new Thread(this::acceptLoop, "d4j-broker-accept");
    acceptor.setDaemon(true);
  }

  /**
   * Starts a broker in this process (a root JVM).
   *
   * @param socket where to listen; must not exist; made connectable by anyone ({@code 0666}): the
   *     peer's uid is checked
   * @param clientNetns the namespace file of the one namespace besides its own that it may
   *     configure, for a client that runs in it; or null for none
   * @param allowedUid the uid of the clients it serves besides root, or -1 for root only
   * @return the broker; close it to stop and remove everything
   * @throws IOException if it cannot listen
   */
  public static NamespaceBroker start(Path socket, String clientNetns, int allowedUid)
      throws IOException {
    if (!Shell.isRoot()) {
      throw new IOException("the namespace broker needs root");
    }
    UnixSeqpacket l = UnixSeqpacket.listen(socket);
    try {
      Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-rw-rw-"));
    } catch (IOException | RuntimeException e) {
      l.close();
      throw e;
    }
    NamespaceBroker b = new NamespaceBroker(l, socket, clientNetns, allowedUid);
    b.acceptor.start();
    return b;
  }

  private void acceptLoop() {
    while (!closed) {
      UnixSeqpacket c;
      try {
        c = listener.accept(200);
      } catch (IOException e) {
        if (!closed) {
          System.err.println("namespace broker: accept failed: " + e);
        }
        return;
      }
      if (c == null) {
        continue;
      }
      try {
        int[] cred = c.peerCredentials();
        if (cred[1] != 0 && cred[1] != allowedUid) {
          System.err.println("namespace broker: refused uid " + cred[1]);
          c.close();
          continue;
        }
        BrokerSession s = new BrokerSession(c, cred[0], clientNetns, this::ended);
        sessions.add(s);
        s.start();
      } catch (IOException | RuntimeException e) {
        System.err.println("namespace broker: cannot serve a connection: " + e);
        c.close();
      }
    }
  }

  /**
   * @return the sessions still open
   */
  int sessionCount() {
    return sessions.size();
  }

  /** Called by a session after it removed everything it made. */
  private void ended(BrokerSession s) {
    sessions.remove(s);
    synchronized (sessions) {
      sessions.notifyAll();
    }
  }

  /**
   * Waits until every session has ended, i.e. each has removed what it made (a session leaves the
   * list only after its clean-up).
   *
   * @param timeout the longest wait
   * @return true if no session is open, false if one still is after the timeout
   * @throws InterruptedException if interrupted
   */
  boolean awaitNoSessions(java.time.Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (sessions) {
      while (!sessions.isEmpty()) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        java.util.concurrent.TimeUnit.NANOSECONDS.timedWait(sessions, left);
      }
    }
    return true;
  }

  /**
   * Stops listening, ends every connection and removes everything made for them. Idempotent; blocks
   * while namespaces are deleted.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      acceptor.join(2000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    listener.close();
    for (BrokerSession s : sessions) {
      s.close();
    }
    try {
      Files.deleteIfExists(socketPath);
    } catch (IOException e) {
      // a socket file in a test's directory
    }
  }

  /**
   * {@code NamespaceBroker SOCKET CLIENT_NETNS [UID]}: serves until standard input ends.
   *
   * @param args the socket path, the client's namespace file ({@code -} for none), the uid served
   */
  public static void main(String[] args) {
    System.exit(run(args, System.in, System.out));
  }

  static int run(String[] args, InputStream in, PrintStream out) {
    if (args.length < 2 || args.length > 3) {
      out.println("usage: NamespaceBroker SOCKET CLIENT_NETNS|- [UID]");
      return 64;
    }
    String client = args[1].equals("-") ? null : args[1];
    int uid = args.length == 3 ? Integer.parseInt(args[2]) : -1;
    NamespaceBroker b;
    try {
      b = start(Path.of(args[0]), client, uid);
    } catch (IOException e) {
      out.println("FAILED " + e.getMessage());
      return 1;
    }
    Thread hook = new Thread(b::close, "d4j-broker-cleanup");
    Runtime.getRuntime().addShutdownHook(hook);
    out.println("READY " + args[0]);
    out.flush();
    try {
      while (in.read() >= 0) {
        // the starter keeps the pipe open while it wants the broker
      }
    } catch (IOException e) {
      // the starter is gone
    }
    b.close();
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // the JVM is shutting down: the hook runs, and close() is idempotent
    }
    return 0;
  }

  /**
   * @return the namespaces this process created and still has open (for tests)
   */
  static List<String> openNamespaces() throws IOException {
    List<String> mine = new ArrayList<>();
    String prefix = Netns.PREFIX + ProcessHandle.current().pid() + "-";
    for (String n : Netns.list()) {
      if (n.startsWith(prefix)) {
        mine.add(n);
      }
    }
    return mine;
  }
}
