package org.divert4j.linux.testbed;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Native;
import org.divert4j.linux.NetDevices;
import org.divert4j.linux.Shell;
import org.divert4j.linux.UnixSeqpacket;

/**
 * One connection of a {@link NamespaceBroker}: reads requests ({@link BrokerWire}), performs them
 * on the namespaces it created for this connection or on the client's own namespace ({@code self}),
 * and answers. When the connection ends it deletes its namespaces and restores the client's
 * namespace ({@link #resetSelf()}). The operations:
 *
 * <ul>
 *   <li>{@code create ROLE} makes a namespace, {@code self} attaches to the client's, {@code close
 *       NS} deletes one (for {@code self}: restores it);
 *   <li>{@code veth A NAME_A B NAME_B MTU} joins two of them;
 *   <li>{@code ip NS ARGS...} and {@code batch NS LINES...} run {@code ip} there, never with {@code
 *       netns} (which could move a device to any namespace);
 *   <li>{@code exec NS TIMEOUT_MS INPUT PROGRAM ARGS...} runs one of {@link #PROGRAMS} there
 *       ({@code INPUT} is {@code -} for none, or {@code +} and the text);
 *   <li>{@code sysctl-set NS KEY VALUE}, {@code sysctl-get NS KEY}, {@code link NS DEV} (index,
 *       MTU, MAC), {@code linklocals NS DEV};
 *   <li>{@code socket NS DOMAIN TYPE PROTOCOL} makes a socket there (AF_INET, AF_INET6 or
 *       AF_PACKET) and passes it with the reply.
 * </ul>
 *
 * One thread per session; {@link #close()} may be called from another.
 */
final class BrokerSession {
  static final String SELF = "self";

  /** The programs {@code exec} runs. */
  static final Set<String> PROGRAMS =
      Set.of(
          "ping",
          "ip",
          "cat",
          "iptables-save",
          "iptables-restore",
          "ip6tables-save",
          "ip6tables-restore",
          "iptables-nft-save",
          "iptables-nft-restore",
          "ip6tables-nft-save",
          "ip6tables-nft-restore",
          "iptables-legacy-save",
          "iptables-legacy-restore",
          "ip6tables-legacy-save",
          "ip6tables-legacy-restore");

  private final UnixSeqpacket connection;
  private final int clientPid;
  private final String clientNetns;
  private final Consumer<BrokerSession> onEnd;
  private final Thread thread;
  private final Map<String, Netns> made = new LinkedHashMap<>();
  private final Map<String, String> selfSysctls = new LinkedHashMap<>(); // key -> original value
  private final List<String> selfLinks = new ArrayList<>();
  private Netns self;
  private boolean ended;

  BrokerSession(
      UnixSeqpacket connection, int clientPid, String clientNetns, Consumer<BrokerSession> onEnd) {
    this.connection = connection;
    this.clientPid = clientPid;
    this.clientNetns = clientNetns;
    this.onEnd = onEnd;
    this.thread = new Thread(this::serve, "d4j-broker-" + clientPid);
    thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  private void serve() {
    try {
      while (true) {
        UnixSeqpacket.Message m = connection.receive();
        if (m == null) {
          break;
        }
        Native.close(m.fd()); // clients pass none
        List<String> reply = new ArrayList<>();
        int[] fd = {-1};
        try {
          List<String> request = BrokerWire.decode(m.data());
          reply.add(BrokerWire.OK);
          reply.addAll(perform(request, fd));
        } catch (IOException | RuntimeException e) {
          reply.clear();
          reply.add(BrokerWire.ERROR);
          reply.add(String.valueOf(e.getMessage()));
        }
        try {
          connection.send(BrokerWire.encode(reply), fd[0]);
        } finally {
          Native.close(fd[0]);
        }
      }
    } catch (IOException | RuntimeException e) {
      // the client is gone (EPIPE, ECONNRESET): clean up as for a close
    } finally {
      close();
    }
  }

  /** Ends the session: deletes its namespaces and restores the client's. Idempotent. */
  synchronized void close() {
    if (ended) {
      return;
    }
    ended = true;
    connection.close();
    if (self != null) {
      resetSelf();
      self.close(); // attached: ends its thread, deletes nothing
      self = null;
    }
    for (Netns ns : made.values()) {
      ns.close();
    }
    made.clear();
    onEnd.accept(this);
  }

  private synchronized List<String> perform(List<String> r, int[] fd) throws IOException {
    if (ended) {
      throw new IOException("the session has ended");
    }
    if (r.isEmpty()) {
      throw new IOException("an empty request");
    }
    String op = r.get(0);
    List<String> a = r.subList(1, r.size());
    switch (op) {
      case "create" -> {
        arity(a, 1);
        Netns ns = Netns.create(Netns.uniqueName(a.get(0)));
        made.put(ns.name(), ns);
        return List.of(ns.name());
      }
      case "self" -> {
        arity(a, 0);
        attachSelf();
        return List.of(SELF);
      }
      case "close" -> {
        arity(a, 1);
        if (a.get(0).equals(SELF)) {
          if (self != null) {
            resetSelf();
          }
        } else {
          Netns ns = made.remove(a.get(0));
          if (ns == null) {
            throw new IOException("not a namespace of this session: " + a.get(0));
          }
          ns.close();
        }
        return List.of();
      }
      case "veth" -> {
        arity(a, 5);
        for (String n : List.of(a.get(1), a.get(3))) {
          if (n.isEmpty() || n.length() > 15 || !n.matches("[A-Za-z0-9_.-]+")) {
            throw new IOException("not an interface name: " + n);
          }
        }
        Netns na = ns(a.get(0));
        Netns nb = ns(a.get(2));
        int mtu = Integer.parseInt(a.get(4));
        VethPair.create(na, a.get(1), nb, a.get(3), mtu);
        if (na == self) {
          selfLinks.add(a.get(1));
        }
        if (nb == self) {
          selfLinks.add(a.get(3));
        }
        return List.of();
      }
      case "ip" -> {
        Netns ns = ns(a.get(0));
        List<String> args = a.subList(1, a.size());
        noNetns(args);
        return List.of(ns.ip(args.toArray(new String[0])));
      }
      case "batch" -> {
        Netns ns = ns(a.get(0));
        List<List<String>> commands = new ArrayList<>();
        for (String line : a.subList(1, a.size())) {
          List<String> c = Arrays.asList(line.split(" "));
          noNetns(c);
          commands.add(c);
        }
        ns.ipBatch(commands);
        return List.of();
      }
      case "exec" -> {
        Netns ns = ns(a.get(0));
        Duration timeout = Duration.ofMillis(Long.parseLong(a.get(1)));
        String input = a.get(2).equals("-") ? null : a.get(2).substring(1);
        List<String> command = a.subList(3, a.size());
        allowed(command);
        Shell.Result res = ns.exec(input, timeout, command);
        return List.of(Integer.toString(res.exitCode()), res.stdout(), res.stderr());
      }
      case "sysctl-set" -> {
        arity(a, 3);
        Netns ns = ns(a.get(0));
        if (ns == self && !selfSysctls.containsKey(a.get(1))) {
          selfSysctls.put(a.get(1), ns.sysctl(a.get(1)));
        }
        ns.sysctl(a.get(1), a.get(2));
        return List.of();
      }
      case "sysctl-get" -> {
        arity(a, 2);
        return List.of(ns(a.get(0)).sysctl(a.get(1)));
      }
      case "link" -> {
        arity(a, 2);
        NetDevices.Link l = ns(a.get(0)).link(a.get(1));
        return List.of(
            Integer.toString(l.index()), Integer.toString(l.mtu()), Long.toString(l.mac()));
      }
      case "linklocals" -> {
        arity(a, 2);
        return ns(a.get(0)).linkLocals(a.get(1));
      }
      case "socket" -> {
        arity(a, 4);
        int domain = Integer.parseInt(a.get(1));
        if (domain != Native.AF_INET && domain != Native.AF_INET6 && domain != Native.AF_PACKET) {
          throw new IOException("the broker makes AF_INET, AF_INET6 and AF_PACKET sockets only");
        }
        fd[0] = ns(a.get(0)).socket(domain, Integer.parseInt(a.get(2)), Integer.parseInt(a.get(3)));
        return List.of();
      }
      default -> throw new IOException("unknown operation: " + op);
    }
  }

  private static void arity(List<String> a, int n) throws IOException {
    if (a.size() != n) {
      throw new IOException("wants " + n + " arguments, not " + a.size());
    }
  }

  private Netns ns(String name) throws IOException {
    if (name.equals(SELF)) {
      if (self == null) {
        throw new IOException("ask for self first");
      }
      return self;
    }
    Netns ns = made.get(name);
    if (ns == null) {
      throw new IOException("not a namespace of this session: " + name);
    }
    return ns;
  }

  private static void noNetns(List<String> args) throws IOException {
    for (String s : args) {
      if (s.equals("netns") || s.equals("-n") || s.equals("-netns") || s.equals("-all")) {
        throw new IOException("the broker runs ip in one namespace only: " + args);
      }
    }
  }

  private static void allowed(List<String> command) throws IOException {
    if (command.isEmpty()) {
      throw new IOException("no command");
    }
    String program = Path.of(command.get(0)).getFileName().toString();
    if (!PROGRAMS.contains(program)) {
      throw new IOException("the broker does not run " + program);
    }
    if (program.equals("ip")) {
      noNetns(command);
    }
    if (program.equals("cat")) {
      for (String s : command.subList(1, command.size())) {
        if (!s.startsWith("/proc/net/") || s.contains("..")) {
          throw new IOException("the broker shows /proc/net only: " + s);
        }
      }
    }
  }

  /**
   * Attaches to the client's namespace, if it is the one this broker was started for and not the
   * broker's own: the thread that enters it checks the inode it landed in.
   */
  private void attachSelf() throws IOException {
    if (self != null) {
      return;
    }
    if (clientNetns == null) {
      throw new IOException("this broker configures no client namespace");
    }
    String want = inode(clientNetns);
    String client = inode("/proc/" + clientPid + "/ns/net");
    if (!want.equals(client)) {
      throw new IOException(
          "the client runs in namespace " + client + ", not in " + clientNetns + " (" + want + ")");
    }
    if (want.equals(inode("/proc/self/ns/net"))) {
      throw new IOException("the broker never configures its own namespace");
    }
    Netns ns = Netns.attach(SELF, clientNetns);
    if (!want.equals("net:[" + ns.newThreadInode() + "]")) { // inode(): net:[N]
      ns.close();
      throw new IOException("the client's namespace changed while attaching");
    }
    self = ns;
  }

  /**
   * The inode of a namespace file, which names the namespace machine-wide: stat(2) of {@code
   * /var/run/netns/NAME} (a bind mount of the nsfs file) or of {@code /proc/PID/ns/net} (followed),
   * as {@code net:[N]}, how the {@code /proc} link reads.
   */
  private static String inode(String nsFile) throws IOException {
    return "net:[" + Files.getAttribute(Path.of(nsFile), "unix:ino") + "]";
  }

  /**
   * Restores the client's namespace: the sysctls set there back to what they were (latest first),
   * then the veths made there deleted (their addresses, routes and neighbours go with them), and
   * waits until the kernel no longer lists them, so that the next test bed can make its own.
   */
  private void resetSelf() {
    List<String> keys = new ArrayList<>(selfSysctls.keySet());
    for (int i = keys.size() - 1; i >= 0; i--) {
      try {
        self.sysctl(keys.get(i), selfSysctls.get(keys.get(i)));
      } catch (IOException | RuntimeException e) {
        // conf.<veth>.* of a veth that is already gone: nothing to restore
      }
    }
    selfSysctls.clear();
    for (String dev : selfLinks) {
      try {
        self.exec("ip", "link", "del", "dev", dev); // fails if the peer's deletion took it
      } catch (IOException e) {
        // checked below
      }
    }
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    for (String dev : selfLinks) {
      while (present(dev) && System.nanoTime() < deadline) {
        try {
          Thread.sleep(5);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
      if (present(dev)) {
        System.err.println("namespace broker: " + dev + " is still in the client's namespace");
      }
    }
    selfLinks.clear();
  }

  private boolean present(String dev) {
    try {
      self.link(dev);
      return true;
    } catch (ErrnoException e) {
      return e.errno() != 19; // ENODEV
    } catch (IOException e) {
      return !(e.getCause() instanceof ErrnoException x) || x.errno() != 19;
    }
  }
}
