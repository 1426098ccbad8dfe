package org.divert4j.linux.testbed;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.linux.NetDevices;
import org.divert4j.linux.NetnsThread;
import org.divert4j.linux.Shell;

/**
 * A namespace of a {@link NamespaceBroker}, reached only through it ({@link BrokerSession} lists
 * the requests): this JVM cannot enter it, so every command, sysctl, interface read and socket is
 * the broker's work. For the JVM's own namespace ({@code self}) a thread of this JVM is already
 * inside, so nodes there get one ({@link #newThread}); {@link #close()} then has the broker restore
 * that namespace rather than delete it. Thread-safe (the client serialises requests).
 */
final class BrokeredNamespaceOps implements NamespaceOps {
  private final NamespaceBrokerClient broker;
  private final String name;
  private final boolean own;

  BrokeredNamespaceOps(NamespaceBrokerClient broker, String name, boolean own) {
    this.broker = broker;
    this.name = name;
    this.own = own;
  }

  NamespaceBrokerClient broker() {
    return broker;
  }

  boolean own() {
    return own;
  }

  @Override
  public Shell.Result exec(String input, Duration timeout, List<String> command)
      throws IOException {
    List<String> req = new ArrayList<>();
    req.add("exec");
    req.add(name);
    req.add(Long.toString(timeout.toMillis()));
    req.add(input == null ? "-" : "+" + input);
    req.addAll(command);
    List<String> r = broker.call(req, null);
    return new Shell.Result(command, Integer.parseInt(r.get(0)), r.get(1), r.get(2));
  }

  @Override
  public String ip(List<String> args) throws IOException {
    List<String> req = new ArrayList<>(List.of("ip", name));
    req.addAll(args);
    return broker.call(req, null).get(0);
  }

  @Override
  public void ipBatch(List<List<String>> commands) throws IOException {
    List<String> req = new ArrayList<>(List.of("batch", name));
    for (List<String> c : commands) {
      req.add(String.join(" ", c));
    }
    broker.call(req, null);
  }

  @Override
  public void setSysctl(String key, String value) throws IOException {
    broker.call("sysctl-set", name, key, value);
  }

  @Override
  public String sysctl(String key) throws IOException {
    return broker.call("sysctl-get", name, key).get(0);
  }

  @Override
  public NetDevices.Link link(String dev) throws IOException {
    List<String> r = broker.call("link", name, dev);
    return new NetDevices.Link(
        dev, Integer.parseInt(r.get(0)), Integer.parseInt(r.get(1)), Long.parseLong(r.get(2)));
  }

  @Override
  public List<String> linkLocals(String dev) throws IOException {
    return broker.call("linklocals", name, dev);
  }

  @Override
  public int socket(int domain, int type, int protocol) throws IOException {
    return broker.socket(name, domain, type, protocol);
  }

  @Override
  public NetnsThread newThread(String label) throws IOException {
    return own ? NetnsThread.open(null, label) : null;
  }

  @Override
  public void close() {
    try {
      broker.call("close", name);
    } catch (IOException | RuntimeException e) {
      // the broker removes what it made when this JVM disconnects or dies
    }
  }
}
