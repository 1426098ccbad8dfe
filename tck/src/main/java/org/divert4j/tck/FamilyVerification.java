package org.divert4j.tck;

import org.divert4j.IpFamily;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The base of a verification whose rules hold for both address families (SEMANTICS.md section K:
 * "every rule of sections A-J applies to IPv6 packets too"): JUnit runs the same class once per
 * {@link IpFamily}, IPv4 first, so a test is written once and its addresses, packets and rules come
 * from {@link #family()} through {@link Probe}. The IPv6 run of each test is skipped, with the
 * reason, when the backend does not declare {@link org.divert4j.Capability#IPV6}; a test whose rule
 * has no IPv6 reading (an IPv4 header field) carries {@link Ipv4Only} and is skipped in the IPv6
 * run with that reason, which the report does not count against the backend.
 *
 * <p>Subclasses (and a backend's subclasses of them) inherit the parameterization: it is declared
 * here, {@code @ParameterizedClass} is inherited.
 */
@ParameterizedClass(name = "{0}")
@EnumSource(IpFamily.class)
public abstract class FamilyVerification extends TckVerification {
  /** Injected by JUnit before each test: the family of this run. */
  @Parameter IpFamily family;

  /** For subclasses. */
  protected FamilyVerification() {}

  /**
   * @return the address family of this run
   */
  public IpFamily family() {
    return family;
  }
}
