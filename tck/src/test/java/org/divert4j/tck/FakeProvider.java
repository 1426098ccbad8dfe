package org.divert4j.tck;

import java.util.Set;
import org.divert4j.BackendUnavailableException;
import org.divert4j.Capability;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.HostOptions;
import org.divert4j.spi.Availability;
import org.divert4j.spi.DivertProvider;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;

/**
 * A provider with no network behind it, for the TCK's tests of its own machinery: it is available
 * or not as told, declares the capabilities it is given, and its test beds are always unavailable.
 */
class FakeProvider implements DivertProvider {
  private final String name;
  private final Availability availability;
  private final Set<Capability> capabilities;

  FakeProvider(String name, Availability availability, Set<Capability> capabilities) {
    this.name = name;
    this.availability = availability;
    this.capabilities = capabilities;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public String description() {
    return "fake provider for the TCK's own tests";
  }

  @Override
  public int priority() {
    return -1000;
  }

  @Override
  public boolean autoSelectable() {
    return false;
  }

  @Override
  public Availability availability() {
    return availability;
  }

  @Override
  public Set<Capability> capabilities() {
    return capabilities;
  }

  @Override
  public DivertHost open(HostOptions options) throws DivertException {
    throw new BackendUnavailableException("fake: no hosts here", null);
  }

  @Override
  public TestBed testBed(TestBedOptions options) throws DivertException {
    throw new BackendUnavailableException("fake test beds need a unicorn", null);
  }

  /** Registered as a service: always unavailable. */
  public static final class Unavailable extends FakeProvider {
    /** For the service loader. */
    public Unavailable() {
      super(
          "tck-selftest-unavailable",
          Availability.unavailable("needs a kernel module that does not exist", null),
          Set.of());
    }
  }
}
