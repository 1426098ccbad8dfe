package org.divert4j;

import java.util.Set;
import org.divert4j.spi.Availability;
import org.divert4j.spi.DivertProvider;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;

/** Providers registered in this module's test resources to exercise discovery and selection. */
final class TestProviders {
  private TestProviders() {}

  abstract static class Base implements DivertProvider {
    private final String name;
    private final int priority;
    private final boolean auto;

    Base(String name, int priority, boolean auto) {
      this.name = name;
      this.priority = priority;
      this.auto = auto;
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public String description() {
      return "test provider " + name;
    }

    @Override
    public int priority() {
      return priority;
    }

    @Override
    public boolean autoSelectable() {
      return auto;
    }

    @Override
    public Availability availability() {
      return Availability.ok();
    }

    @Override
    public Set<Capability> capabilities() {
      return Set.of();
    }

    @Override
    public DivertHost open(HostOptions options) throws DivertException {
      throw new BackendUnavailableException("test provider " + name + " opens nothing", null);
    }

    @Override
    public TestBed testBed(TestBedOptions options) throws DivertException {
      throw new BackendUnavailableException("test provider " + name + " has no test bed", null);
    }
  }

  /** Available, auto-selectable, priority 10. */
  public static final class Alpha extends Base {
    public Alpha() {
      super("alpha", 10, true);
    }
  }

  /** Auto-selectable with a higher priority, but unavailable. */
  public static final class Beta extends Base {
    public Beta() {
      super("beta", 20, true);
    }

    @Override
    public Availability availability() {
      return Availability.unavailable("beta needs the beta kernel module", null);
    }
  }

  /** Available with the highest priority, but never auto-selected (like the simulation). */
  public static final class NamedOnly extends Base {
    public NamedOnly() {
      super("namedonly", 100, false);
    }
  }

  /** Needs a library that is not on the class path; reports it instead of failing to load. */
  public static final class MissingLibrary extends Base {
    private volatile Availability cached;

    public MissingLibrary() {
      super("missinglib", 30, true);
    }

    @Override
    public Availability availability() {
      Availability a = cached;
      if (a == null) {
        try {
          Class.forName("com.example.missing.NativeLib");
          a = Availability.ok();
        } catch (ClassNotFoundException | LinkageError e) {
          a = Availability.unavailable("com.example.missing.NativeLib is not on the class path", e);
        }
        cached = a;
      }
      return a;
    }
  }

  /** Cannot even be instantiated: its constructor hits a missing class. */
  public static final class Unloadable extends Base {
    public Unloadable() {
      super("unloadable", 50, true);
      throw new NoClassDefFoundError("com/example/missing/Dependency");
    }
  }
}
