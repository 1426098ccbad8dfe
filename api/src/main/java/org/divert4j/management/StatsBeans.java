package org.divert4j.management;

import java.lang.management.ManagementFactory;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.divert4j.DivertHost;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.HostStats;
import org.divert4j.SocketStats;

/**
 * Publishes hosts' and sockets' counters as JMX MXBeans in the platform MBean server: one bean per
 * open host ({@link HostStatsMXBean}), one per open socket ({@link SocketStatsMXBean}), removed on
 * close. Every backend registers its hosts and sockets here, so monitoring needs no code. The
 * system property {@code divert4j.jmx=false} turns publishing off.
 *
 * <p>Thread-safe. Registration never fails a host or socket: if the MBean server refuses (a
 * security manager, a name clash), the bean is skipped and the refusal is kept in {@link
 * Registration#failure()}.
 */
public final class StatsBeans {
  /** The JMX domain of every divert4j bean. */
  public static final String DOMAIN = "org.divert4j";

  private static final AtomicLong IDS = new AtomicLong();

  private StatsBeans() {}

  /** One published bean; closing it unregisters the bean (idempotent, any thread). */
  public static final class Registration implements AutoCloseable {
    private final ObjectName name;
    private final long id;
    private final String failure;
    private final AtomicBoolean closed = new AtomicBoolean();

    private Registration(ObjectName name, long id, String failure) {
      this.name = name;
      this.id = id;
      this.failure = failure;
    }

    /**
     * @return the bean's name, or null when it was not registered
     */
    public ObjectName name() {
      return failure == null ? name : null;
    }

    /**
     * @return why the bean was not registered, or null when it was
     */
    public String failure() {
      return failure;
    }

    @Override
    public void close() {
      if (failure != null || name == null || !closed.compareAndSet(false, true)) {
        return;
      }
      try {
        ManagementFactory.getPlatformMBeanServer().unregisterMBean(name);
      } catch (JMException e) {
        // already gone: nothing to undo
      }
    }
  }

  /**
   * Registers a host's bean. Call once the host is open; close the registration when it closes.
   *
   * @param host the host
   * @return the registration
   */
  public static Registration registerHost(DivertHost host) {
    long id = IDS.incrementAndGet();
    String n =
        DOMAIN
            + ":type=Host,backend="
            + ObjectName.quote(host.backend())
            + ",host="
            + ObjectName.quote(host.name())
            + ",id="
            + id;
    return register(n, id, new HostBean(host));
  }

  /**
   * Registers a socket's bean under its host's id. Call once the socket is bound; close the
   * registration when it closes.
   *
   * @param host the host's registration
   * @param owner the host
   * @param socket the socket
   * @return the registration
   */
  public static Registration registerSocket(
      Registration host, DivertHost owner, DivertSocket socket) {
    String n =
        DOMAIN
            + ":type=Socket,backend="
            + ObjectName.quote(owner.backend())
            + ",host="
            + ObjectName.quote(owner.name())
            + ",id="
            + host.id
            + ",port="
            + socket.port();
    return register(n, host.id, new SocketBean(socket));
  }

  private static Registration register(String name, long id, Object bean) {
    if ("false".equalsIgnoreCase(System.getProperty("divert4j.jmx"))) {
      return new Registration(null, id, "divert4j.jmx=false");
    }
    try {
      ObjectName on = new ObjectName(name);
      MBeanServer server = ManagementFactory.getPlatformMBeanServer();
      server.registerMBean(bean, on);
      return new Registration(on, id, null);
    } catch (JMException | RuntimeException e) {
      return new Registration(null, id, e.toString());
    }
  }

  static Map<String, Long> drops(Map<DropReason, Long> m) {
    Map<String, Long> out = new LinkedHashMap<>();
    m.forEach((r, v) -> out.put(r.name(), v));
    return out;
  }

  private static final class HostBean implements HostStatsMXBean {
    private final DivertHost host;

    HostBean(DivertHost host) {
      this.host = host;
    }

    private HostStats stats() {
      return host.stats();
    }

    @Override
    public String getBackend() {
      return host.backend();
    }

    @Override
    public String getName() {
      return host.name();
    }

    @Override
    public long getPassedNoListener() {
      return stats().passedNoListener();
    }

    @Override
    public long getReassembled() {
      return stats().reassembled();
    }

    @Override
    public long getDroppedTotal() {
      return stats().droppedTotal();
    }

    @Override
    public Map<String, Long> getDropped() {
      return drops(stats().drops());
    }
  }

  private static final class SocketBean implements SocketStatsMXBean {
    private final DivertSocket socket;

    SocketBean(DivertSocket socket) {
      this.socket = socket;
    }

    private SocketStats stats() {
      return socket.stats();
    }

    @Override
    public int getPort() {
      return socket.port();
    }

    @Override
    public long getReceived() {
      return stats().received();
    }

    @Override
    public long getReceivedBytes() {
      return stats().receivedBytes();
    }

    @Override
    public long getReinjected() {
      return stats().reinjected();
    }

    @Override
    public long getInjected() {
      return stats().injected();
    }

    @Override
    public long getSent() {
      return stats().sent();
    }

    @Override
    public long getSentBytes() {
      return stats().sentBytes();
    }

    @Override
    public long getFailOpenAccepted() {
      return stats().failOpenAccepted();
    }

    @Override
    public long getHeld() {
      return stats().held();
    }

    @Override
    public long getDroppedTotal() {
      return stats().droppedTotal();
    }

    @Override
    public Map<String, Long> getDropped() {
      return drops(stats().drops());
    }
  }
}
