package org.divert4j.stack;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.divert4j.Capability;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.HostOptions;
import org.divert4j.HostStats;
import org.divert4j.InstalledRule;
import org.divert4j.NetInterface;
import org.divert4j.management.StatsBeans;
import org.divert4j.spi.FlowRules;
import org.divert4j.spi.RuleFamilies;

/**
 * One program's handle on a {@link DivertEngine}: it owns the rules it added and the sockets it
 * bound, and closing it removes exactly those (S51). Thread-safe.
 */
final class EngineHost implements DivertHost {
  private final EngineHandles engine;
  private final String name;
  private final HostOptions options;
  private final List<EngineSocket> sockets = new ArrayList<>();
  private final Map<EngineSocket, StatsBeans.Registration> beans = new HashMap<>();
  private final StatsBeans.Registration bean;
  private volatile boolean open = true;

  EngineHost(EngineHandles engine, String name, HostOptions options) {
    this.engine = engine;
    this.name = name;
    this.options = Objects.requireNonNull(options, "options");
    this.bean = StatsBeans.registerHost(this);
  }

  @Override
  public String backend() {
    return engine.backend();
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public HostOptions options() {
    return options;
  }

  @Override
  public Set<Capability> capabilities() {
    return engine.capabilities();
  }

  @Override
  public List<NetInterface> interfaces() throws DivertException {
    checkOpen();
    return engine.interfaces();
  }

  @Override
  public InstalledRule addRule(DivertRule rule) throws DivertException {
    checkOpen();
    RuleFamilies.check(rule, capabilities().contains(Capability.IPV6), backend());
    FlowRules.check(rule, capabilities().contains(Capability.FLOW_COUNT), backend(), "");
    return engine.addRule(this, -1, Objects.requireNonNull(rule, "rule"), options);
  }

  @Override
  public InstalledRule insertRule(int index, DivertRule rule) throws DivertException {
    checkOpen();
    if (index < 0) {
      throw new IndexOutOfBoundsException("negative rule index " + index);
    }
    RuleFamilies.check(rule, capabilities().contains(Capability.IPV6), backend());
    FlowRules.check(rule, capabilities().contains(Capability.FLOW_COUNT), backend(), "");
    return engine.addRule(this, index, Objects.requireNonNull(rule, "rule"), options);
  }

  @Override
  public List<InstalledRule> rules() {
    return List.copyOf(engine.rulesOf(this));
  }

  void remove(RuleEntry e) {
    engine.removeRule(e);
  }

  @Override
  public DivertSocket bind(int port) throws DivertException {
    return bind(port, false);
  }

  @Override
  public DivertSocket bindSniffer(int port) throws DivertException {
    if (!capabilities().contains(Capability.SNIFF)) {
      return DivertHost.super.bindSniffer(port);
    }
    return bind(port, true);
  }

  private DivertSocket bind(int port, boolean sniffer) throws DivertException {
    checkOpen();
    EngineSocket s = engine.bind(this, port, options, sniffer);
    synchronized (sockets) {
      sockets.add(s);
      beans.put(s, StatsBeans.registerSocket(bean, this, s));
    }
    return s;
  }

  void forget(EngineSocket s) {
    StatsBeans.Registration r;
    synchronized (sockets) {
      sockets.remove(s);
      r = beans.remove(s);
    }
    if (r != null) {
      r.close();
    }
  }

  @Override
  public org.divert4j.TimestampClock timestampClock() {
    return engine.timestampClock();
  }

  @Override
  public HostStats stats() {
    return engine.stats();
  }

  @Override
  public boolean isOpen() {
    return open;
  }

  @Override
  public void close() {
    if (!open) {
      return;
    }
    open = false;
    List<EngineSocket> mine;
    synchronized (sockets) {
      mine = new ArrayList<>(sockets);
      sockets.clear();
      beans.values().forEach(StatsBeans.Registration::close);
      beans.clear();
    }
    for (EngineSocket s : mine) {
      engine.unbind(s);
    }
    for (RuleEntry e : engine.rulesOf(this)) {
      engine.removeRule(e);
    }
    engine.closed(this);
    bean.close();
  }

  private void checkOpen() throws DivertClosedException {
    if (!open) {
      throw new DivertClosedException("divert host " + name);
    }
  }

  @Override
  public String toString() {
    return engine.backend() + " host " + name + (open ? "" : " (closed)");
  }
}
