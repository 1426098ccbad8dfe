package org.divert4j.linux.testbed;

import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.divert4j.linux.NetDevices;
import org.divert4j.linux.NetnsThread;
import org.divert4j.linux.Shell;

/**
 * A named Linux network namespace ({@code ip netns}) made for a test bed: created empty with its
 * loopback up, used through commands run inside it, and deleted by {@link #close()} together with
 * everything in it (interfaces, addresses, routes, firewall rules, NFQUEUE queues).
 *
 * <p>Names come from {@link #uniqueName(String)}: {@code d4j-<pid>-<n>-<role>}, unique per process
 * and counter, so test beds of concurrent processes never collide and a process only ever deletes
 * namespaces it created. Namespaces still open when the JVM exits are deleted by a shutdown hook,
 * as a last resort; a JVM killed with SIGKILL leaves them behind (their names say which process
 * made them, see {@link #deleteOrphans()}).
 *
 * <p>Needs root (CAP_SYS_ADMIN) and the {@code ip} program (iproute2). Thread-safe; every method
 * blocks while its command runs. Sysctls, interface reads and bringing the loopback up start no
 * command: they run on a {@link NetnsThread} of the namespace that {@link #create} starts and
 * {@link #close()} ends.
 */
public final class Netns implements AutoCloseable {
  /** The prefix of every namespace name made here. */
  public static final String PREFIX = "d4j-";

  private static final AtomicInteger COUNTER = new AtomicInteger();
  private static final Set<Netns> OPEN = new LinkedHashSet<>();
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.-]{1,200}");
  private static final Pattern BATCH_ARG = Pattern.compile("[^\\s\"'\\\\#]+");
  private static final Pattern FAILED = Pattern.compile("Command failed -:(\\d+)");
  private static boolean hookInstalled;

  private final String name;
  // the namespace file; for a namespace of ip netns, /var/run/netns/<name>
  private final String path;
  // made here with ip netns add, so deleted by close(); false for one only attached
  private final boolean owned;
  // non-null: a namespace of a NamespaceBroker, reached only through it
  private final NamespaceBrokerClient broker;
  // brokered: the namespace this JVM runs in
  private final boolean own;
  private volatile boolean closed;
  private NetnsThread thread; // guarded by this; see #thread()

  private Netns(
      String name, String path, boolean owned, NamespaceBrokerClient broker, boolean own) {
    this.name = name;
    this.path = path;
    this.owned = owned;
    this.broker = broker;
    this.own = own;
  }

  private Netns(String name) {
    this(name, "/var/run/netns/" + name, true, null, false);
  }

  /**
   * Attaches to a namespace this process did not create, e.g. another process's ({@code
   * /proc/PID/ns/net}): commands, sysctls and sockets work as for a created one, and {@link
   * #close()} ends the namespace's thread but deletes nothing. For a {@link NamespaceBroker}.
   *
   * @param label a name for messages
   * @param nsPath the namespace file
   * @return the namespace
   * @throws IOException if it cannot be entered
   */
  static Netns attach(String label, String nsPath) throws IOException {
    Netns ns = new Netns(label, nsPath, false, null, false);
    ns.thread();
    return ns;
  }

  /**
   * A namespace of a broker, reached only through it.
   *
   * @param name its name at the broker
   * @param broker the broker
   * @param own whether it is the namespace this JVM runs in
   * @return the namespace
   */
  static Netns brokered(String name, NamespaceBrokerClient broker, boolean own) {
    return new Netns(name, null, false, broker, own);
  }

  /**
   * @return whether this namespace is reached through a {@link NamespaceBroker} (this JVM cannot
   *     enter it: {@link #path()} is unusable, and commands, sysctls and sockets go through the
   *     broker)
   */
  public boolean isBrokered() {
    return broker != null;
  }

  /**
   * @return whether this is the namespace this JVM itself runs in, reached through a broker
   */
  public boolean isOwnNamespace() {
    return own;
  }

  NamespaceBrokerClient broker() {
    return broker;
  }

  /**
   * A namespace name no other process and no earlier call uses: {@code d4j-<pid>-<n>-<role>}.
   *
   * @param role a short word for what the namespace is, e.g. {@code peer}
   * @return the name
   */
  public static String uniqueName(String role) {
    return PREFIX + ProcessHandle.current().pid() + "-" + COUNTER.incrementAndGet() + "-" + role;
  }

  /**
   * Creates a namespace and brings its loopback interface up (on the namespace's own thread, which
   * this starts: no process).
   *
   * @param name the name; letters, digits, '.', '_' and '-' only
   * @return the namespace; the caller closes it
   * @throws IOException if it cannot be created (not root, name taken, no {@code ip})
   */
  public static Netns create(String name) throws IOException {
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("not a usable namespace name: '" + name + "'");
    }
    Shell.check("ip", "netns", "add", name);
    Netns ns = new Netns(name);
    register(ns);
    try {
      ns.thread().run(() -> up("lo"));
    } catch (IOException | RuntimeException e) {
      ns.close();
      throw e;
    }
    return ns;
  }

  /**
   * @return the namespace's name
   */
  public String name() {
    return name;
  }

  /**
   * @return the file that stands for the namespace ({@code /var/run/netns/<name>}), usable with
   *     {@code setns(2)} and {@code nsenter --net=}
   */
  public Path path() {
    if (broker != null) {
      throw new UnsupportedOperationException(this + " is reached through its broker only");
    }
    return Path.of(path);
  }

  /**
   * Starts a thread in this namespace, for a node's work: socket calls that must happen inside.
   *
   * @param label a name for the thread
   * @return the thread, or null for a namespace of a broker that is not this JVM's own (no thread
   *     of this JVM can enter it); the caller closes it
   * @throws IOException if the namespace cannot be entered
   */
  public NetnsThread newThread(String label) throws IOException {
    if (broker != null) {
      return own ? NetnsThread.open(null, label) : null;
    }
    return NetnsThread.open(path, label);
  }

  /**
   * Makes a socket inside this namespace ({@code socket(2)} on the namespace's thread, or by the
   * broker, which passes it here): a socket stays in the namespace it was made in, whichever thread
   * or process uses it.
   *
   * @param domain e.g. {@link org.divert4j.linux.Native#AF_INET6}
   * @param type e.g. {@link org.divert4j.linux.Native#SOCK_DGRAM}
   * @param protocol the protocol (for AF_PACKET in network byte order)
   * @return the descriptor, owned by the caller (close it with {@link
   *     org.divert4j.linux.Native#close})
   * @throws IOException if it cannot be made (an {@link org.divert4j.linux.ErrnoException} when
   *     made here)
   */
  public int socket(int domain, int type, int protocol) throws IOException {
    if (broker != null) {
      return broker.socket(name, domain, type, protocol);
    }
    return thread().run(() -> org.divert4j.linux.Datagrams.socket(domain, type, protocol));
  }

  /**
   * @return what {@code ip link ... netns X} takes for this namespace: its name, or for an attached
   *     one the id of its thread
   * @throws IOException if its thread cannot be started
   */
  String netnsArgument() throws IOException {
    return owned ? name : Integer.toString(thread().tid());
  }

  /**
   * @return the inode of the namespace this namespace's thread is in ({@link NetnsThread#inode})
   * @throws IOException if the thread cannot be started
   */
  String newThreadInode() throws IOException {
    return thread().inode();
  }

  /**
   * @return whether this namespace was made with {@code ip netns add} by this process
   */
  boolean owned() {
    return owned;
  }

  /**
   * Runs a command inside the namespace (network namespace only; the file system is the caller's).
   *
   * @param command the program and its arguments
   * @return the result, whatever the exit status
   * @throws IOException if the command cannot be started
   */
  public Shell.Result exec(String... command) throws IOException {
    return exec(null, Shell.DEFAULT_TIMEOUT, Arrays.asList(command));
  }

  /**
   * Runs a command inside the namespace.
   *
   * @param input standard input, or null
   * @param timeout how long it may run
   * @param command the program and its arguments
   * @return the result, whatever the exit status
   * @throws IOException if the command cannot be started
   */
  public Shell.Result exec(String input, Duration timeout, List<String> command)
      throws IOException {
    if (broker != null) {
      List<String> req = new ArrayList<>();
      req.add("exec");
      req.add(name);
      req.add(Long.toString(timeout.toMillis()));
      req.add(input == null ? "-" : "+" + input);
      req.addAll(command);
      List<String> r = broker.call(req, null);
      return new Shell.Result(command, Integer.parseInt(r.get(0)), r.get(1), r.get(2));
    }
    return Shell.run(input, timeout, Shell.inNetns(path, command));
  }

  /**
   * Runs a command inside the namespace and insists that it succeeds.
   *
   * @param command the program and its arguments
   * @return its standard output
   * @throws IOException if it fails; the message has its stderr
   */
  public String execChecked(String... command) throws IOException {
    Shell.Result r = exec(command);
    if (!r.ok()) {
      throw new IOException("in netns " + name + ": " + r.describe());
    }
    return r.stdout();
  }

  /**
   * Runs {@code ip -n <name> <args...>} and insists that it succeeds.
   *
   * @param args the arguments after {@code ip -n <name>}, e.g. {@code link set eth0 up}
   * @return its standard output
   * @throws IOException if it fails
   */
  public String ip(String... args) throws IOException {
    if (broker != null) {
      List<String> req = new ArrayList<>(List.of("ip", name));
      req.addAll(Arrays.asList(args));
      return broker.call(req, null).get(0);
    }
    List<String> cmd = new ArrayList<>(owned ? List.of("ip", "-n", name) : List.of("ip"));
    cmd.addAll(Arrays.asList(args));
    return Shell.check(null, Shell.DEFAULT_TIMEOUT, owned ? cmd : Shell.inNetns(path, cmd));
  }

  /**
   * Runs a fixed sequence of {@code ip} commands in one process, {@code ip -n <name> -batch -} with
   * the commands on its standard input, and insists that every one succeeds: ip stops at the first
   * that fails (no {@code -force}) and says which ({@code Command failed -:N}), and the exception
   * names it. A command's family comes from its addresses (the global options such as {@code -6} do
   * not apply per line: write {@code route add ::/0 via ...}, not {@code -6 route add default via
   * ...}).
   *
   * @param commands each the arguments after {@code ip -n <name>}, without whitespace or quotes
   * @throws IOException if one fails; the message has the command and ip's stderr
   */
  public void ipBatch(List<List<String>> commands) throws IOException {
    if (broker != null) {
      List<String> req = new ArrayList<>(List.of("batch", name));
      for (List<String> c : commands) {
        req.add(String.join(" ", c));
      }
      broker.call(req, null);
      return;
    }
    StringBuilder in = new StringBuilder();
    for (List<String> c : commands) {
      for (String arg : c) {
        if (arg.isEmpty() || !BATCH_ARG.matcher(arg).matches()) {
          throw new IllegalArgumentException("not a batch argument: '" + arg + "' in " + c);
        }
      }
      in.append(String.join(" ", c)).append('\n');
    }
    List<String> ipBatch =
        owned
            ? List.of("ip", "-n", name, "-batch", "-")
            : Shell.inNetns(path, List.of("ip", "-batch", "-"));
    Shell.Result r = Shell.run(in.toString(), Shell.DEFAULT_TIMEOUT, ipBatch);
    if (r.ok()) {
      return;
    }
    java.util.regex.Matcher m = FAILED.matcher(r.stderr());
    int line = m.find() ? Integer.parseInt(m.group(1)) : 0;
    String which =
        line >= 1 && line <= commands.size()
            ? "ip -n " + name + " " + String.join(" ", commands.get(line - 1))
            : "ip -n " + name + " -batch (" + commands.size() + " commands)";
    throw new IOException(which + " failed: " + r.describe());
  }

  /**
   * Sets a sysctl of this namespace (the {@code net.*} ones are per namespace), with one write(2)
   * of the value and a newline on the namespace's own thread: no process is started.
   *
   * @param key e.g. {@code net.ipv4.ip_forward}
   * @param value e.g. {@code 1}
   * @throws IOException if it cannot be set (no such sysctl, a value the kernel refuses)
   */
  public void sysctl(String key, String value) throws IOException {
    if (!key.matches("[A-Za-z0-9_.-]+") || !value.matches("[A-Za-z0-9_ .:-]*")) {
      throw new IllegalArgumentException("bad sysctl " + key + "=" + value);
    }
    if (broker != null) {
      broker.call("sysctl-set", name, key, value);
      return;
    }
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

  /**
   * Reads a sysctl of this namespace on the namespace's own thread: no process is started.
   *
   * @param key e.g. {@code net.ipv4.ipfrag_time}
   * @return its value, trimmed
   * @throws IOException if it cannot be read
   */
  public String sysctl(String key) throws IOException {
    if (!key.matches("[A-Za-z0-9_.-]+")) {
      throw new IllegalArgumentException("bad sysctl " + key);
    }
    if (broker != null) {
      return broker.call("sysctl-get", name, key).get(0);
    }
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

  /**
   * Reads an interface of this namespace (index, MTU, MAC) with ioctls on a socket of the
   * namespace's own thread ({@link NetDevices#link}): no process is started.
   *
   * @param dev the interface name
   * @return what was read
   * @throws IOException if it cannot be read (ENODEV: no such interface here)
   */
  public NetDevices.Link link(String dev) throws IOException {
    if (broker != null) {
      List<String> r = broker.call("link", name, dev);
      return new NetDevices.Link(
          dev, Integer.parseInt(r.get(0)), Integer.parseInt(r.get(1)), Long.parseLong(r.get(2)));
    }
    try {
      return thread().run(() -> NetDevices.link(dev));
    } catch (IOException e) {
      throw new IOException("in netns " + name + ": cannot read interface " + dev + ": " + e, e);
    }
  }

  /**
   * The IPv6 link-local addresses (fe80::/10, scope link) of an interface of this namespace, from
   * {@code /proc/thread-self/net/if_inet6} read on the namespace's own thread (it shows the
   * thread's namespace; net/ipv6/addrconf.c, {@code if6_seq_show}: address in 32 hex digits, index,
   * prefix length, scope, flags, name): no process is started.
   *
   * @param dev the interface name
   * @return the addresses in the order the file lists them, 32 hex digits each; empty if none
   * @throws IOException if the file cannot be read
   */
  public List<String> linkLocals(String dev) throws IOException {
    if (broker != null) {
      return broker.call("linklocals", name, dev);
    }
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

  /** Brings an interface up, on the namespace's thread. */
  private static Void up(String dev) throws IOException {
    NetDevices.up(dev);
    return null;
  }

  /**
   * The file of a sysctl. {@code /proc/sys/net} shows the namespace of the thread that looks
   * (net/sysctl_net.c, {@code net_ctl_header_lookup} returns {@code
   * current->nsproxy->net_ns->sysctls}), so it is used from {@link #thread()} only.
   */
  private static Path sysctlFile(String key) {
    return Path.of("/proc/sys", key.replace('.', '/'));
  }

  /**
   * The thread that lives in this namespace, started on first use and ended by {@link #close()}.
   */
  private NetnsThread thread() throws IOException {
    synchronized (this) {
      if (closed) {
        throw new IOException(this + " is closed");
      }
      if (broker != null) {
        throw new IOException(this + " is reached through its broker only");
      }
      if (thread == null) {
        thread = NetnsThread.open(path, name);
      }
      return thread;
    }
  }

  /**
   * @return true until {@link #close()}
   */
  public boolean isOpen() {
    return !closed && (broker != null || Files.exists(Path.of(path)));
  }

  /**
   * Deletes the namespace; its interfaces (veth ends) and firewall state go with it. Idempotent;
   * never throws.
   */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      if (thread != null) {
        // never blocks: the kernel frees a namespace asynchronously anyway (net/core/
        // net_namespace.c, cleanup_net on a workqueue), whoever drops the last reference
        thread.close();
      }
    }
    if (broker != null) {
      try {
        broker.call("close", name);
      } catch (IOException | RuntimeException e) {
        // the broker removes what it made when this JVM disconnects or dies
      }
      return;
    }
    if (!owned) {
      return;
    }
    synchronized (OPEN) {
      OPEN.remove(this);
    }
    deleteQuietly(name);
  }

  /**
   * Deletes a namespace by name, if it exists. Use only for namespaces this process made.
   *
   * @param name the namespace name
   */
  public static void deleteQuietly(String name) {
    try {
      if (Files.exists(Path.of("/var/run/netns", name))) {
        Shell.run("ip", "netns", "del", name);
      }
    } catch (IOException | RuntimeException e) {
      // best effort: the caller is cleaning up
    }
  }

  /**
   * The named network namespaces on the machine: the entries of {@code /var/run/netns}, which is
   * what {@code ip netns list} prints (iproute2's netns_list reads that directory), without
   * starting it.
   *
   * @return their names, in no particular order; empty if the directory does not exist
   * @throws IOException if the directory cannot be read
   */
  public static List<String> list() throws IOException {
    List<String> names = new ArrayList<>();
    Path dir = Path.of("/var/run/netns");
    if (!Files.isDirectory(dir)) {
      return names;
    }
    try (java.util.stream.Stream<Path> s = Files.list(dir)) {
      s.forEach(p -> names.add(p.getFileName().toString()));
    }
    return names;
  }

  /**
   * Deletes the {@code d4j-<pid>-...} namespaces whose process no longer runs (left by a JVM that
   * was killed). Never touches namespaces of live processes or names of another form.
   *
   * @return the names deleted
   */
  public static List<String> deleteOrphans() {
    List<String> deleted = new ArrayList<>();
    try {
      for (String n : list()) {
        if (!n.startsWith(PREFIX)) {
          continue;
        }
        String[] parts = n.substring(PREFIX.length()).split("-");
        long pid;
        try {
          pid = Long.parseLong(parts[0]);
        } catch (NumberFormatException e) {
          continue;
        }
        if (ProcessHandle.of(pid).isEmpty()) {
          deleteQuietly(n);
          deleted.add(n);
        }
      }
    } catch (IOException e) {
      // no ip: nothing to clean
    }
    return deleted;
  }

  private static void register(Netns ns) {
    synchronized (OPEN) {
      OPEN.add(ns);
      if (!hookInstalled) {
        hookInstalled = true;
        Runtime.getRuntime().addShutdownHook(new Thread(Netns::closeAllOpen, "d4j-netns-cleanup"));
      }
    }
  }

  private static void closeAllOpen() {
    List<Netns> left;
    synchronized (OPEN) {
      left = new ArrayList<>(OPEN);
    }
    for (Netns ns : left) {
      ns.close();
    }
  }

  @Override
  public String toString() {
    return "netns " + name;
  }
}
