package org.divert4j.linux.testbed;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.divert4j.linux.Native;
import org.divert4j.linux.UnixSeqpacket;

/**
 * The unprivileged side of a {@link NamespaceBroker}: a test bed in a JVM that holds only
 * CAP_NET_ADMIN and CAP_NET_RAW asks the broker, a root process, for what needs more (creating and
 * entering namespaces, veth pairs, commands and sysctls in other namespaces, sockets made inside
 * them). Selected by the system property {@value #PROPERTY}, the path of the broker's socket; with
 * it unset, test beds work directly, as root ({@link #fromSystem()} returns null).
 *
 * <p>One connection per JVM, opened on first use; thread-safe (requests are serialised). If the
 * connection fails, every later request fails too: the broker has removed what it made.
 */
public final class NamespaceBrokerClient {
  /** The system property holding the broker's socket path. */
  public static final String PROPERTY = "divert4j.testbed.broker";

  private static NamespaceBrokerClient shared;

  private final UnixSeqpacket socket;

  private NamespaceBrokerClient(UnixSeqpacket socket) {
    this.socket = socket;
  }

  /**
   * The JVM's connection to the broker named by {@value #PROPERTY}, connecting on first use.
   *
   * @return the client, or null if the property is not set (test beds work directly)
   * @throws IOException if the broker cannot be reached
   */
  public static synchronized NamespaceBrokerClient fromSystem() throws IOException {
    String path = System.getProperty(PROPERTY);
    if (path == null || path.isBlank()) {
      return null;
    }
    if (shared == null) {
      shared = connect(Path.of(path));
    }
    return shared;
  }

  /**
   * @return whether {@value #PROPERTY} is set
   */
  public static boolean configured() {
    String path = System.getProperty(PROPERTY);
    return path != null && !path.isBlank();
  }

  /**
   * Connects to a broker (tests use this; test beds use {@link #fromSystem()}).
   *
   * @param path the broker's socket
   * @return the client
   * @throws IOException if it cannot connect
   */
  public static NamespaceBrokerClient connect(Path path) throws IOException {
    return new NamespaceBrokerClient(UnixSeqpacket.connect(path));
  }

  /**
   * Creates a namespace through the broker.
   *
   * @param role a short word, e.g. {@code peer}
   * @return the namespace; closing it has the broker delete it
   * @throws IOException if the broker cannot create it
   */
  public Netns create(String role) throws IOException {
    return Netns.brokered(call("create", role).get(0), this, false);
  }

  /**
   * The namespace this JVM runs in, as the broker reaches it: closing it has the broker undo what
   * it configured there (its veths and the sysctls it set), not delete it.
   *
   * @return the namespace
   * @throws IOException if the broker refuses (it serves only the namespace it was made for)
   */
  public Netns self() throws IOException {
    return Netns.brokered(call("self").get(0), this, true);
  }

  /**
   * One request and its reply.
   *
   * @param request the operation's name and arguments
   * @return the results
   * @throws IOException if the broker reports an error or the connection fails
   */
  List<String> call(String... request) throws IOException {
    return call(Arrays.asList(request), null);
  }

  /**
   * One request and its reply, keeping a descriptor that comes with it.
   *
   * @param request the operation's name and arguments
   * @param fd gets the descriptor in [0] (-1 if none), owned by the caller; or null to close any
   * @return the results
   * @throws IOException if the broker reports an error or the connection fails
   */
  synchronized List<String> call(List<String> request, int[] fd) throws IOException {
    socket.send(BrokerWire.encode(request), -1);
    UnixSeqpacket.Message m = socket.receive();
    if (m == null) {
      throw new IOException("the namespace broker closed the connection");
    }
    List<String> reply;
    try {
      reply = BrokerWire.decode(m.data());
    } catch (IOException e) {
      Native.close(m.fd());
      throw e;
    }
    if (fd != null) {
      fd[0] = m.fd();
    } else {
      Native.close(m.fd());
    }
    if (reply.isEmpty() || !reply.get(0).equals(BrokerWire.OK)) {
      Native.close(fd == null ? -1 : fd[0]);
      throw new IOException(
          "namespace broker: "
              + request.get(0)
              + " failed: "
              + (reply.size() > 1 ? reply.get(1) : "(no message)"));
    }
    return new ArrayList<>(reply.subList(1, reply.size()));
  }

  /**
   * Has the broker make a socket inside a namespace and pass it here.
   *
   * @param netns the namespace's name at the broker
   * @param domain e.g. {@link Native#AF_INET6}
   * @param type e.g. {@link Native#SOCK_DGRAM}
   * @param protocol the protocol (for AF_PACKET in network byte order)
   * @return the descriptor, owned by the caller
   * @throws IOException if the broker cannot make it
   */
  int socket(String netns, int domain, int type, int protocol) throws IOException {
    int[] fd = {-1};
    call(
        List.of(
            "socket",
            netns,
            Integer.toString(domain),
            Integer.toString(type),
            Integer.toString(protocol)),
        fd);
    if (fd[0] < 0) {
      throw new IOException("namespace broker: no descriptor came with the socket");
    }
    return fd[0];
  }

  /** Closes the connection: the broker then removes everything it made for it. */
  public synchronized void close() {
    socket.close();
    synchronized (NamespaceBrokerClient.class) {
      if (shared == this) {
        shared = null;
      }
    }
  }
}
