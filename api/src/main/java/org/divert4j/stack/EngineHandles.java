package org.divert4j.stack;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.divert4j.Capability;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DropReason;
import org.divert4j.HostOptions;
import org.divert4j.HostStats;
import org.divert4j.NetInterface;

/**
 * What a {@link DivertEngine}'s handles ({@link EngineHost}) and their sockets ({@link
 * EngineSocket}) ask of it: opening and closing handles, binding ports, adding and removing rules,
 * the statistics, the clock and the environment's section. Each call takes the section itself;
 * changes to rules and bindings first let the backend catch up ({@link
 * StackEnvironment#synchronize()}).
 */
final class EngineHandles {
  private final String backend;
  private final String hostName;
  private final Set<Capability> capabilities;
  private final StackEnvironment env;
  private final EngineInterfaces interfaces;
  private final RuleTable rules;
  private final FlowCounter flows;
  private final PacketPath path;
  private final SendPath sendPath;
  private final Reassembly reassembly;
  private final List<EngineHost> handles = new ArrayList<>();
  private int nextHandle = 1;

  EngineHandles(
      String backend,
      String hostName,
      Set<Capability> capabilities,
      StackEnvironment env,
      EngineInterfaces interfaces,
      RuleTable rules,
      FlowCounter flows,
      PacketPath path,
      SendPath sendPath,
      Reassembly reassembly) {
    this.backend = backend;
    this.hostName = hostName;
    this.capabilities = capabilities;
    this.env = env;
    this.interfaces = interfaces;
    this.rules = rules;
    this.flows = flows;
    this.path = path;
    this.sendPath = sendPath;
    this.reassembly = reassembly;
  }

  /** {@link DivertEngine#openHost(HostOptions)}. */
  DivertHost open(HostOptions options) {
    env.enter();
    try {
      EngineHost h = new EngineHost(this, hostName + "#" + nextHandle++, options);
      handles.add(h);
      return h;
    } finally {
      env.exit();
    }
  }

  EngineSocket bind(EngineHost owner, int port, HostOptions o, boolean sniffer)
      throws DivertException {
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("divert port must be 1..65535: " + port); // S2
    }
    env.synchronize();
    env.enter();
    try {
      if (rules.socketAt(port) != null) {
        throw new org.divert4j.PortInUseException(port, 0); // S2
      }
      EngineSocket s =
          new EngineSocket(this, sendPath, interfaces, owner, port, rules.nextSerial(), o, sniffer);
      rules.bind(s); // S13: diversion to it starts now
      return s;
    } finally {
      env.exit();
    }
  }

  void unbind(EngineSocket s) {
    env.synchronize();
    env.enter();
    try {
      rules.unbind(s); // S13: no-listener behaviour from now on
      s.closeInternal(); // S14
    } finally {
      env.exit();
    }
  }

  RuleEntry addRule(EngineHost owner, int ownIndex, org.divert4j.DivertRule rule, HostOptions o) {
    env.synchronize();
    env.enter();
    try {
      RuleEntry e = rules.add(owner, ownIndex, rule, o.noListener());
      flows.added(rule);
      return e;
    } finally {
      env.exit();
    }
  }

  void removeRule(RuleEntry e) {
    env.synchronize();
    env.enter();
    try {
      if (e.installed) {
        rules.remove(e);
        flows.removed(e.rule);
      }
    } finally {
      env.exit();
    }
  }

  List<RuleEntry> rulesOf(EngineHost owner) {
    env.enter();
    try {
      return rules.rulesOf(owner);
    } finally {
      env.exit();
    }
  }

  void closed(EngineHost h) {
    env.enter();
    try {
      handles.remove(h);
    } finally {
      env.exit();
    }
  }

  HostStats stats() {
    env.enter();
    try {
      long[] d = new long[DropReason.values().length];
      d[DropReason.NO_LISTENER.ordinal()] = path.noListenerDrops();
      reassembly.addDiscards(d);
      d[DropReason.CAPTURE.ordinal()] += env.captureDrops();
      d[DropReason.TRANSMIT.ordinal()] += env.transmitDrops();
      return new HostStats(path.passedNoListener(), reassembly.reassembled(), d);
    } finally {
      env.exit();
    }
  }

  String backend() {
    return backend;
  }

  Set<Capability> capabilities() {
    return capabilities;
  }

  long now() {
    return env.nanoTime();
  }

  org.divert4j.TimestampClock timestampClock() {
    return env.timestampClock();
  }

  long captureDrops() {
    return env.captureDrops();
  }

  void enter() {
    env.enter();
  }

  void exit() {
    env.exit();
  }

  List<NetInterface> interfaces() {
    return interfaces.list();
  }
}
