package org.divert4j.sim;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import org.divert4j.HostOptions;

/**
 * A simulated network of both address families: hosts ({@link SimNode}) joined by point-to-point
 * links, a virtual clock, and a frame queue. Deterministic: a frame put on a link is delivered when
 * the outermost call into the network returns (run to completion), in the order frames were sent,
 * so a test sees the effects of a send as soon as the send returns, and timeouts pass only when
 * {@link #advance(Duration)} says so.
 *
 * <p>Thread-safe: one lock serialises all packet processing in the network; blocking receives on
 * sockets and endpoints wait outside it, in real time.
 *
 * <pre>{@code
 * SimNetwork net = new SimNetwork();
 * SimNode a = net.addNode("a", HostOptions.defaults());
 * SimNode b = net.addNode("b", HostOptions.defaults());
 * net.link(a, "10.0.0.1/24", b, "10.0.0.2/24", 1500);
 * try (DivertHost host = b.openHost(HostOptions.defaults())) { ... }
 * }</pre>
 */
public final class SimNetwork {
  private final ReentrantLock lock = new ReentrantLock();
  private final List<SimNode> nodes = new ArrayList<>();
  private volatile long now;
  private int depth;

  // The frame queue: a ring of pooled buffers with their destination.
  private ByteBuffer[] frames = new ByteBuffer[256];
  private SimNode[] frameNode = new SimNode[256];
  private int[] frameIf = new int[256];
  private int head;
  private int count;
  private final ArrayList<ByteBuffer> smallPool = new ArrayList<>();
  private static final int SMALL = 2048;

  /** Creates an empty network with the clock at zero. */
  public SimNetwork() {}

  /**
   * Adds a host. It starts with only its loopback interface.
   *
   * @param name a short name, unique in the network
   * @param options the options of its divert engine (fragment mode, reassembly limits)
   * @return the node
   */
  public SimNode addNode(String name, HostOptions options) {
    enter();
    try {
      for (SimNode n : nodes) {
        if (n.name().equals(name)) {
          throw new IllegalArgumentException("a node named " + name + " exists already");
        }
      }
      SimNode n = new SimNode(this, name, options);
      nodes.add(n);
      return n;
    } finally {
      exit();
    }
  }

  /**
   * Joins two nodes with a point-to-point link; each gets a new interface ({@code eth0}, {@code
   * eth1}, ... in creation order) with the given address and prefix, and a connected route. An IPv4
   * address brings its IPv6 twin and a link-local address (see {@code SimAddresses}: {@code
   * 10.0.L.N/24} gives {@code fd00:L::N/64} and {@code fe80::N:I/64}).
   *
   * @param a one node
   * @param aAddress its address with prefix, e.g. {@code 10.0.0.1/24}; or several, comma-separated,
   *     e.g. {@code 10.0.0.1/24,fd00:9::1/64} (an IPv6 address given replaces the derived one)
   * @param b the other node
   * @param bAddress its address with prefix
   * @param mtu the MTU of both ends
   */
  public void link(SimNode a, String aAddress, SimNode b, String bAddress, int mtu) {
    enter();
    try {
      SimNode.Port pa = a.addInterface(aAddress, mtu);
      SimNode.Port pb = b.addInterface(bAddress, mtu);
      pa.peer = pb;
      pb.peer = pa;
    } finally {
      exit();
    }
  }

  /**
   * @return the virtual clock, in nanoseconds since the network was made
   */
  public long nanoTime() {
    return now;
  }

  /**
   * Advances the virtual clock and runs what falls due on every node (reassembly timeouts, held
   * packets past their hold time).
   *
   * @param d how much time passes; not negative
   */
  public void advance(Duration d) {
    if (d.isNegative()) {
      throw new IllegalArgumentException("time cannot go back: " + d);
    }
    enter();
    try {
      now += d.toNanos();
      for (SimNode n : nodes) {
        n.tick();
      }
    } finally {
      exit();
    }
  }

  /**
   * @return the nodes, in creation order
   */
  public List<SimNode> nodes() {
    enter();
    try {
      return List.copyOf(nodes);
    } finally {
      exit();
    }
  }

  // ---------------------------------------------------------------- run to completion

  void enter() {
    lock.lock();
    depth++;
  }

  void exit() {
    try {
      if (depth == 1) {
        drain();
      }
    } finally {
      depth--;
      lock.unlock();
    }
  }

  /** Queues a copy of a frame for a node's interface; inside the section. */
  void send(ByteBuffer packet, SimNode to, int ifIndex) {
    if (count == frames.length) {
      grow();
    }
    int len = packet.remaining();
    ByteBuffer b;
    if (len <= SMALL && !smallPool.isEmpty()) {
      b = smallPool.remove(smallPool.size() - 1);
      b.clear();
    } else {
      b = ByteBuffer.allocate(len <= SMALL ? SMALL : len);
    }
    b.put(0, packet, packet.position(), len);
    b.limit(len);
    int i = (head + count) % frames.length;
    frames[i] = b;
    frameNode[i] = to;
    frameIf[i] = ifIndex;
    count++;
  }

  private void grow() {
    int n = frames.length * 2;
    ByteBuffer[] f = new ByteBuffer[n];
    SimNode[] fn = new SimNode[n];
    int[] fi = new int[n];
    for (int k = 0; k < count; k++) {
      int i = (head + k) % frames.length;
      f[k] = frames[i];
      fn[k] = frameNode[i];
      fi[k] = frameIf[i];
    }
    frames = f;
    frameNode = fn;
    frameIf = fi;
    head = 0;
  }

  private void drain() {
    // A safety valve against a simulated storm (say, two misconfigured routers): a frame budget
    // per top-level call far above anything a test sends.
    long budget = 10_000_000;
    while (count > 0 && budget-- > 0) {
      int i = head;
      ByteBuffer b = frames[i];
      SimNode to = frameNode[i];
      int ifIndex = frameIf[i];
      frames[i] = null;
      frameNode[i] = null;
      head = (head + 1) % frames.length;
      count--;
      try {
        to.arrive(b, ifIndex);
      } finally {
        if (b.capacity() == SMALL && smallPool.size() < 4096) {
          smallPool.add(b);
        }
      }
    }
  }
}
