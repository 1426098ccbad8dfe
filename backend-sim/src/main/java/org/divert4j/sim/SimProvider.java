package org.divert4j.sim;

import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.divert4j.Capability;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.HostOptions;
import org.divert4j.PermissionException;
import org.divert4j.spi.Availability;
import org.divert4j.spi.DivertProvider;
import org.divert4j.stack.DivertEngine;
import org.divert4j.stack.StackEnvironment;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;

/**
 * The simulation backend, provider {@code sim}: pure Java, no privileges, deterministic. It is the
 * reference implementation of SEMANTICS.md and what programs use in unit tests. Never selected
 * automatically: name it with {@code -Ddivert.backend=sim}.
 *
 * <p>{@link #open(HostOptions)} gives a host in a fresh simulated network of three nodes ({@code
 * peer - host - far}, see {@link #testBed(TestBedOptions)}); to send traffic through it, use a test
 * bed or build a {@link SimNetwork} directly.
 *
 * <p>Host property {@value #PRIVILEGES_PROPERTY}{@code =none} simulates a caller without
 * CAP_NET_ADMIN and CAP_NET_RAW, so that programs can test their handling of S46.
 */
public final class SimProvider implements DivertProvider {
  /** The provider's name. */
  public static final String NAME = "sim";

  /** Host property that simulates missing privileges when set to {@code none}. */
  public static final String PRIVILEGES_PROPERTY = "sim.privileges";

  /** Creates the divert engine of a simulated node; lets tests substitute a modified engine. */
  @FunctionalInterface
  public interface EngineFactory {
    /**
     * @param backend the backend name hosts report
     * @param hostName the node's name
     * @param capabilities the capabilities hosts report
     * @param options the engine's options
     * @param env the node's environment
     * @return the engine
     */
    DivertEngine create(
        String backend,
        String hostName,
        Set<Capability> capabilities,
        HostOptions options,
        StackEnvironment env);
  }

  private final String name;
  private final EngineFactory factory;

  /** The standard simulation; used by {@link java.util.ServiceLoader}. */
  public SimProvider() {
    this(NAME, DivertEngine::new);
  }

  /**
   * A simulation under another name whose nodes use a substitute engine (for example a deliberately
   * broken one, to test a TCK).
   *
   * @param name the provider name
   * @param factory creates each node's engine
   */
  public SimProvider(String name, EngineFactory factory) {
    this.name = Objects.requireNonNull(name, "name");
    this.factory = Objects.requireNonNull(factory, "factory");
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public String description() {
    return "simulated hosts and links in memory (no privileges; never auto-selected)";
  }

  @Override
  public int priority() {
    return 0;
  }

  @Override
  public boolean autoSelectable() {
    return false;
  }

  @Override
  public Availability availability() {
    return Availability.ok();
  }

  @Override
  public Set<Capability> capabilities() {
    return SimNode.capabilities();
  }

  @Override
  public DivertHost open(HostOptions options) throws DivertException {
    checkPrivileges(options);
    SimTopology t =
        SimTopology.build(name, factory, TestBedOptions.builder().host(options).build());
    return t.host.openHost(options);
  }

  @Override
  public TestBed testBed(TestBedOptions options) throws DivertException {
    checkPrivileges(options.host());
    return new SimTestBed(this, SimTopology.build(name, factory, options), options);
  }

  /** What the simulation pretends to need, as the kernel backend does. */
  static final List<String> PRIVILEGES = List.of("CAP_NET_ADMIN", "CAP_NET_RAW");

  /**
   * @return CAP_NET_ADMIN and CAP_NET_RAW, which host property {@value #PRIVILEGES_PROPERTY} {@code
   *     =none} simulates missing
   */
  @Override
  public List<String> privileges() {
    return PRIVILEGES;
  }

  static void checkPrivileges(HostOptions options) throws PermissionException {
    if ("none".equals(options.property(PRIVILEGES_PROPERTY, "all"))) {
      throw new PermissionException("open a divert host on the simulation", PRIVILEGES, 1, null);
    }
  }

  @Override
  public String toString() {
    return "divert provider " + name;
  }
}
