package org.divert4j.linux.testbed;

import java.io.IOException;
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
 *
 * <p>The work itself is a {@link NamespaceOps}'s: done here ({@link LocalNamespaceOps}), or, for a
 * namespace a {@link NamespaceBroker} made for a JVM without root, by the broker ({@link
 * BrokeredNamespaceOps}, see {@link NamespaceBrokerClient}).
 */
public final class Netns implements AutoCloseable {
  /** The prefix of every namespace name made here. */
  public static final String PREFIX = "d4j-";

  private static final AtomicInteger COUNTER = new AtomicInteger();
  private static final Set<Netns> OPEN = new LinkedHashSet<>();
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.-]{1,200}");
  private static final Pattern BATCH_ARG = Pattern.compile("[^\\s\"'\\\\#]+");
  private static boolean hookInstalled;

  private final String name;
  private final NamespaceOps ops;
  // made here with ip netns add, so deleted by close()
  private final boolean owned;
  private volatile boolean closed;

  private Netns(String name, NamespaceOps ops, boolean owned) {
    this.name = name;
    this.ops = ops;
    this.owned = owned;
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
    LocalNamespaceOps local = new LocalNamespaceOps(name, "/var/run/netns/" + name, true);
    Netns ns = new Netns(name, local, true);
    register(ns);
    try {
      local.loopbackUp();
    } catch (IOException | RuntimeException e) {
      ns.close();
      throw e;
    }
    return ns;
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
    LocalNamespaceOps local = new LocalNamespaceOps(label, nsPath, false);
    Netns ns = new Netns(label, local, false);
    try {
      local.threadInode(); // enters it now
    } catch (IOException | RuntimeException e) {
      ns.close();
      throw e;
    }
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
    return new Netns(name, new BrokeredNamespaceOps(broker, name, own), false);
  }

  /**
   * @return whether this namespace is reached through a {@link NamespaceBroker} (this JVM cannot
   *     enter it: {@link #path()} is unusable, and commands, sysctls and sockets go through the
   *     broker)
   */
  public boolean isBrokered() {
    return ops instanceof BrokeredNamespaceOps;
  }

  /**
   * @return whether this is the namespace this JVM itself runs in, reached through a broker
   */
  public boolean isOwnNamespace() {
    return ops instanceof BrokeredNamespaceOps b && b.own();
  }

  /**
   * @return the broker of a brokered namespace, else null
   */
  NamespaceBrokerClient broker() {
    return ops instanceof BrokeredNamespaceOps b ? b.broker() : null;
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
   * @throws UnsupportedOperationException for a brokered namespace
   */
  public Path path() {
    return Path.of(local().path());
  }

  private LocalNamespaceOps local() {
    if (ops instanceof LocalNamespaceOps l) {
      return l;
    }
    throw new UnsupportedOperationException(this + " is reached through its broker only");
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
    return ops.newThread(label);
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
    return ops.socket(domain, type, protocol);
  }

  /**
   * @return what {@code ip link ... netns X} takes for this local namespace: its name, or for an
   *     attached one the id of its thread
   * @throws IOException if its thread cannot be started
   */
  String netnsArgument() throws IOException {
    return local().netnsArgument();
  }

  /**
   * @return the inode of the namespace this local namespace's thread is in
   * @throws IOException if the thread cannot be started
   */
  String newThreadInode() throws IOException {
    return local().threadInode();
  }

  /**
   * @return whether this is a local namespace that {@code ip -n} knows by its name
   */
  boolean owned() {
    return ops instanceof LocalNamespaceOps l && l.named();
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
    return ops.exec(input, timeout, command);
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
    return ops.ip(Arrays.asList(args));
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
    for (List<String> c : commands) {
      for (String arg : c) {
        if (arg.isEmpty() || !BATCH_ARG.matcher(arg).matches()) {
          throw new IllegalArgumentException("not a batch argument: '" + arg + "' in " + c);
        }
      }
    }
    ops.ipBatch(commands);
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
    ops.setSysctl(key, value);
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
    return ops.sysctl(key);
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
    return ops.link(dev);
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
    return ops.linkLocals(dev);
  }

  /**
   * @return true until {@link #close()}
   */
  public boolean isOpen() {
    return !closed && (isBrokered() || Files.exists(path()));
  }

  /**
   * Deletes the namespace; its interfaces (veth ends) and firewall state go with it. For an
   * attached namespace, ends its thread only; for a brokered one, has the broker delete it (or, for
   * this JVM's own, restore it). Idempotent; never throws.
   */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    ops.close();
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
