package org.divert4j.spi;

import java.util.Set;
import org.divert4j.Capability;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.HostOptions;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;

/**
 * A divert backend, found with {@link java.util.ServiceLoader} (module {@code provides}, or {@code
 * META-INF/services/org.divert4j.spi.DivertProvider} on the class path).
 *
 * <p>Implementations must have a public no-argument constructor that does no work and touches no
 * optional dependency, so that discovery survives a missing library: such a provider must report
 * itself unavailable from {@link #availability()}, never fail to load. Thread-safe.
 */
public interface DivertProvider {
  /**
   * @return the backend's name, lower case, e.g. {@code rawsocket}; used by {@code divert.backend}
   */
  String name();

  /**
   * @return a one-line description for listings
   */
  String description();

  /**
   * @return the selection priority; the available auto-selectable provider with the highest wins
   */
  int priority();

  /**
   * @return false if the provider must be named to be used (the simulation is never auto-selected,
   *     so a stray test jar cannot replace the kernel)
   */
  boolean autoSelectable();

  /**
   * Whether the backend can be used here. Checks once (really opening what it needs), then caches
   * the answer. Never throws.
   *
   * @return available, or unavailable with a reason and cause
   */
  Availability availability();

  /**
   * @return the capabilities hosts of this backend have (see {@link Capability})
   */
  Set<Capability> capabilities();

  /**
   * The privileges a caller needs to open a host of this backend (S46): when the caller has none of
   * them, {@link #open} fails with a {@link org.divert4j.PermissionException} whose {@code
   * missing()} names exactly these. The TCK checks the two agree.
   *
   * @return the privileges, e.g. {@code [CAP_NET_ADMIN, CAP_NET_RAW]}; empty (the default) when the
   *     backend needs none, and then an unprivileged open must succeed
   */
  default java.util.List<String> privileges() {
    return java.util.List.of();
  }

  /**
   * Opens a host under diversion. What "the host" is depends on the backend and on backend
   * properties in {@code options} (the kernel backend: the current network namespace unless {@code
   * rawsocket.netns} names one).
   *
   * @param options host options
   * @return the open host; the caller closes it
   * @throws org.divert4j.BackendUnavailableException if the backend is unavailable
   * @throws org.divert4j.PermissionException if privileges are missing (S46)
   * @throws DivertException on other failures
   */
  DivertHost open(HostOptions options) throws DivertException;

  /**
   * Creates a disposable network with a host under diversion and peers around it, for the TCK and
   * for programs' own tests. Everything it creates is removed by {@link TestBed#close()}, also
   * after a test fails.
   *
   * @param options the host options and link MTUs
   * @return the test bed; the caller closes it
   * @throws org.divert4j.BackendUnavailableException if the backend or the test bed's needs (e.g.
   *     root for namespaces) are unavailable; the message says which
   * @throws DivertException on other failures
   */
  TestBed testBed(TestBedOptions options) throws DivertException;
}
