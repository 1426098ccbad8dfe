package org.divert4j.sim;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.divert4j.Capability;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.HostOptions;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.TestNode;

/**
 * The simulation's test bed: the standard topology ({@link SimTopology}) in memory, on a virtual
 * clock. Every packet is processed before the call that sent it returns, so {@link #settleTime()}
 * is zero and {@link #advance(Duration)} never sleeps.
 */
final class SimTestBed implements TestBed {
  private final SimProvider provider;
  private final SimTopology topology;
  private final TestBedOptions options;
  private final DivertHost host;
  private final List<DivertHost> others = new ArrayList<>();

  SimTestBed(SimProvider provider, SimTopology topology, TestBedOptions options) {
    this.provider = provider;
    this.topology = topology;
    this.options = options;
    this.host = topology.host.openHost(hostOpenOptions());
  }

  @Override
  public String backend() {
    return provider.name();
  }

  @Override
  public TestBedOptions options() {
    return options;
  }

  @Override
  public DivertHost host() {
    return host;
  }

  @Override
  public TestNode hostNode() {
    return topology.host;
  }

  @Override
  public TestNode peer() {
    return topology.peer;
  }

  @Override
  public Optional<TestNode> farPeer() {
    return Optional.ofNullable(topology.far);
  }

  @Override
  public Set<Capability> capabilities() {
    return provider.capabilities();
  }

  @Override
  public Duration settleTime() {
    return Duration.ZERO;
  }

  @Override
  public void advance(Duration duration) {
    topology.net.advance(duration);
  }

  @Override
  public synchronized DivertHost openAnotherHost(HostOptions options) throws DivertException {
    SimProvider.checkPrivileges(options);
    DivertHost h = topology.host.openHost(options);
    others.add(h);
    return h;
  }

  /**
   * @return the host node's engine state: its rules and bound ports (the simulation's "kernel")
   */
  @Override
  public java.util.List<String> hostState() {
    return topology.host.engine().state();
  }

  /**
   * @return the host engine's reassembly memory in use
   */
  @Override
  public java.util.OptionalLong reassemblyBytesHeld() {
    return java.util.OptionalLong.of(topology.host.engine().reassemblyBytesHeld());
  }

  @Override
  public DivertHost openUnprivileged(HostOptions options) throws DivertException {
    return openAnotherHost(
        options.toBuilder().property(SimProvider.PRIVILEGES_PROPERTY, "none").build());
  }

  @Override
  public synchronized void close() {
    for (DivertHost h : others) {
      closeQuietly(h);
    }
    others.clear();
    closeQuietly(host);
  }

  private static void closeQuietly(DivertHost h) {
    try {
      h.close();
    } catch (DivertException e) {
      // The simulation's close cannot fail; nothing to clean up beyond memory.
    }
  }
}
