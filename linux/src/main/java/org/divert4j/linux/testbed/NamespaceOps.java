package org.divert4j.linux.testbed;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import org.divert4j.linux.NetDevices;
import org.divert4j.linux.NetnsThread;
import org.divert4j.linux.Shell;

/**
 * The seam between a {@link Netns} and the way its work gets done: {@link LocalNamespaceOps} does
 * it in this process (root: commands through {@code ip -n} or {@code nsenter}, sysctls and sockets
 * on a thread that entered the namespace), {@link BrokeredNamespaceOps} asks a {@link
 * NamespaceBroker} (a JVM with only CAP_NET_ADMIN and CAP_NET_RAW). Which one a test bed uses is
 * chosen by the system property {@value NamespaceBrokerClient#PROPERTY}; unset, it is the local
 * one, as before the broker existed. Arguments are checked by {@link Netns} before they get here.
 */
interface NamespaceOps {
  /** {@link Netns#exec(String, Duration, List)}. */
  Shell.Result exec(String input, Duration timeout, List<String> command) throws IOException;

  /** {@link Netns#ip}: the standard output. */
  String ip(List<String> args) throws IOException;

  /** {@link Netns#ipBatch}. */
  void ipBatch(List<List<String>> commands) throws IOException;

  /** {@link Netns#sysctl(String, String)}. */
  void setSysctl(String key, String value) throws IOException;

  /** {@link Netns#sysctl(String)}: the value, trimmed. */
  String sysctl(String key) throws IOException;

  /** {@link Netns#link}. */
  NetDevices.Link link(String dev) throws IOException;

  /** {@link Netns#linkLocals}. */
  List<String> linkLocals(String dev) throws IOException;

  /** {@link Netns#socket}. */
  int socket(int domain, int type, int protocol) throws IOException;

  /** {@link Netns#newThread}: null when no thread of this JVM can enter the namespace. */
  NetnsThread newThread(String label) throws IOException;

  /** Ends what {@link Netns#close()} ends here (threads; for a broker's, the broker's part). */
  void close();
}
