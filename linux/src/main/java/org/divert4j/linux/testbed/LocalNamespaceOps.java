package org.divert4j.linux.testbed;

import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.divert4j.linux.Datagrams;
import org.divert4j.linux.NetDevices;
import org.divert4j.linux.NetnsThread;
import org.divert4j.linux.Shell;

/**
 * A namespace worked on from this process, which may enter it (root): commands run through {@code
 * ip -n NAME} for a namespace of {@code ip netns}, or {@code nsenter --net=PATH} for one only
 * attached (another process's, for a {@link NamespaceBroker}); sysctls, interface reads and sockets
 * happen on a {@link NetnsThread} that entered the namespace, started on first use and ended by
 * {@link #close()}. Thread-safe.
 */
final class LocalNamespaceOps implements NamespaceOps {
  private static final Pattern FAILED = Pattern.compile("Command failed -:(\\d+)");

  private final String name;
  private final String path;
  private final boolean named;
  private boolean closed; // guarded by this
  private NetnsThread thread; // guarded by this; see #thread()

  /**
   * @param name the namespace's name (for {@code ip -n} when {@code named}, else for messages)
   * @param path its namespace file
   * @param named whether {@code ip netns} knows it by {@code name}
   */
  LocalNamespaceOps(String name, String path, boolean named) {
    this.name = name;
    this.path = path;
    this.named = named;
  }

  String path() {
    return path;
  }

  boolean named() {
    return named;
  }

  @Override
  public Shell.Result exec(String input, Duration timeout, List<String> command)
      throws IOException {
    return Shell.run(input, timeout, Shell.inNetns(path, command));
  }

  @Override
  public String ip(List<String> args) throws IOException {
    List<String> cmd = new ArrayList<>(named ? List.of("ip", "-n", name) : List.of("ip"));
    cmd.addAll(args);
    return Shell.check(null, Shell.DEFAULT_TIMEOUT, named ? cmd : Shell.inNetns(path, cmd));
  }

  @Override
  public void ipBatch(List<List<String>> commands) throws IOException {
    StringBuilder in = new StringBuilder();
    for (List<String> c : commands) {
      in.append(String.join(" ", c)).append('\n');
    }
    List<String> ipBatch =
        named
            ? List.of("ip", "-n", name, "-batch", "-")
            : Shell.inNetns(path, List.of("ip", "-batch", "-"));
    Shell.Result r = Shell.run(in.toString(), Shell.DEFAULT_TIMEOUT, ipBatch);
    if (r.ok()) {
      return;
    }
    Matcher m = FAILED.matcher(r.stderr());
    int line = m.find() ? Integer.parseInt(m.group(1)) : 0;
    String which =
        line >= 1 && line <= commands.size()
            ? "ip -n " + name + " " + String.join(" ", commands.get(line - 1))
            : "ip -n " + name + " -batch (" + commands.size() + " commands)";
    throw new IOException(which + " failed: " + r.describe());
  }

  @Override
  public void setSysctl(String key, String value) throws IOException {
    Path file = sysctlFile(key);
    byte[] line = (value + "\n").getBytes(StandardCharsets.US_ASCII);
    try {
      thread()
          .run(
              () -> {
                try (FileOutputStream out = new FileOutputStream(file.toFile())) {
                  out.write(line);
                }
                return null;
              });
    } catch (IOException e) {
      throw new IOException("in netns " + name + ": cannot set " + key + "=" + value + ": " + e, e);
    }
  }

  @Override
  public String sysctl(String key) throws IOException {
    Path file = sysctlFile(key);
    try {
      // read(2) from offset 0 until end of file: a sysctl answers a read at a later offset with
      // end of file once the value was read (kernel/sysctl.c, __do_proc_doulongvec_minmax), so
      // the first read must have room for all of it
      return thread()
          .run(
              () -> {
                try (FileInputStream in = new FileInputStream(file.toFile())) {
                  return new String(in.readNBytes(4096), StandardCharsets.US_ASCII);
                }
              })
          .trim();
    } catch (IOException e) {
      throw new IOException("in netns " + name + ": cannot read " + key + ": " + e, e);
    }
  }

  @Override
  public NetDevices.Link link(String dev) throws IOException {
    try {
      return thread().run(() -> NetDevices.link(dev));
    } catch (IOException e) {
      throw new IOException("in netns " + name + ": cannot read interface " + dev + ": " + e, e);
    }
  }

  @Override
  public List<String> linkLocals(String dev) throws IOException {
    String table = thread().run(() -> Files.readString(Path.of("/proc/thread-self/net/if_inet6")));
    List<String> out = new ArrayList<>();
    for (String line : table.split("\n")) {
      String[] f = line.trim().split("\\s+");
      if (f.length == 6 && f[5].equals(dev) && f[3].equals("20") && f[0].startsWith("fe8")) {
        out.add(f[0]);
      }
    }
    return out;
  }

  @Override
  public int socket(int domain, int type, int protocol) throws IOException {
    return thread().run(() -> Datagrams.socket(domain, type, protocol));
  }

  @Override
  public NetnsThread newThread(String label) throws IOException {
    return NetnsThread.open(path, label);
  }

  /** Brings the loopback interface up, on the namespace's thread (no process). */
  void loopbackUp() throws IOException {
    thread()
        .run(
            () -> {
              NetDevices.up("lo");
              return null;
            });
  }

  /**
   * @return what {@code ip link ... netns X} takes for this namespace: its name, or for an attached
   *     one the id of its thread ({@link NetnsThread#tid})
   * @throws IOException if its thread cannot be started
   */
  String netnsArgument() throws IOException {
    return named ? name : Integer.toString(thread().tid());
  }

  /**
   * @return the inode of the namespace the namespace's thread is in ({@link NetnsThread#inode})
   * @throws IOException if the thread cannot be started
   */
  String threadInode() throws IOException {
    return thread().inode();
  }

  /**
   * The file of a sysctl. {@code /proc/sys/net} shows the namespace of the thread that looks
   * (net/sysctl_net.c, {@code net_ctl_header_lookup} returns {@code
   * current->nsproxy->net_ns->sysctls}), so it is used from {@link #thread()} only.
   */
  private static Path sysctlFile(String key) {
    return Path.of("/proc/sys", key.replace('.', '/'));
  }

  /** The thread that lives in the namespace, started on first use and ended by {@link #close()}. */
  private synchronized NetnsThread thread() throws IOException {
    if (closed) {
      throw new IOException("netns " + name + " is closed");
    }
    if (thread == null) {
      thread = NetnsThread.open(path, name);
    }
    return thread;
  }

  /**
   * Ends the namespace's thread. Never blocks: the kernel frees a namespace asynchronously anyway
   * (net/core/net_namespace.c, cleanup_net on a workqueue), whoever drops the last reference.
   */
  @Override
  public synchronized void close() {
    closed = true;
    if (thread != null) {
      thread.close();
    }
  }
}
