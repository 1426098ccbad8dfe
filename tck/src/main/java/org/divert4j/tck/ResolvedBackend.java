package org.divert4j.tck;

import java.lang.reflect.Constructor;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.divert4j.Capability;
import org.divert4j.Divert;
import org.divert4j.spi.Availability;
import org.divert4j.spi.DivertProvider;

/**
 * The backend a test runs against, found once per run (and per {@link TckProviderSource} class):
 * its name, its provider if found, and why it cannot be used if it cannot. Immutable.
 */
final class ResolvedBackend {
  private final String name;
  private final DivertProvider provider;
  private final String unavailable;

  private ResolvedBackend(String name, DivertProvider provider, String unavailable) {
    this.name = name;
    this.provider = provider;
    this.unavailable = unavailable;
  }

  /**
   * Finds the backend: the {@link TckProviderSource} class if there is one (see {@link
   * #providerSource}), then a provider object handed over by {@link Tck}, then the provider named
   * by {@value TckSettings#BACKEND}.
   */
  static ResolvedBackend resolve(Class<?> source, TckSettings settings) {
    if (source != null) {
      return fromSource(source);
    }
    if (settings.providerRef().isPresent()) {
      DivertProvider p = ProviderRegistry.get(settings.providerRef().get());
      if (p == null) {
        return new ResolvedBackend(
            settings.providerRef().get(),
            null,
            "the provider object handed to the TCK run is gone (" + TckSettings.PROVIDER_REF + ")");
      }
      return of(p);
    }
    if (settings.backend().isEmpty()) {
      return new ResolvedBackend(
          "(none)",
          null,
          "no backend named: set "
              + TckSettings.BACKEND
              + " (system property, JUnit configuration parameter or DIVERT_TCK_BACKEND) to a"
              + " provider name"
              + found(Divert.providers()));
    }
    String wanted = settings.backend().get();
    List<DivertProvider> all = Divert.providers();
    for (DivertProvider p : all) {
      if (p.name().equals(wanted)) {
        return of(p);
      }
    }
    return new ResolvedBackend(
        wanted, null, "backend '" + wanted + "' was not found on the class path" + found(all));
  }

  /**
   * @param testClasses the test classes from the innermost (the test's own) outwards: for a
   *     {@code @Nested} verification inherited from {@link TckSuite}, the nested class and then the
   *     backend's subclass of the suite
   * @return the innermost of them that implements {@link TckProviderSource} and can be instantiated
   *     on its own, or null
   */
  static Class<?> providerSource(List<Class<?>> testClasses) {
    for (Class<?> c : testClasses) {
      if (TckProviderSource.class.isAssignableFrom(c)
          && !Modifier.isAbstract(c.getModifiers())
          && (c.getEnclosingClass() == null || Modifier.isStatic(c.getModifiers()))) {
        return c;
      }
    }
    return null;
  }

  private static ResolvedBackend fromSource(Class<?> c) {
    try {
      Constructor<?> ctor = c.getDeclaredConstructor();
      ctor.setAccessible(true);
      DivertProvider p = ((TckProviderSource) ctor.newInstance()).provider();
      if (p == null) {
        return new ResolvedBackend(
            c.getSimpleName(), null, c.getName() + ".provider() returned null");
      }
      return of(p);
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      return new ResolvedBackend(
          c.getSimpleName(), null, "could not get the provider from " + c.getName() + ": " + e);
    }
  }

  static ResolvedBackend of(DivertProvider p) {
    Availability a;
    try {
      a = p.availability();
    } catch (RuntimeException | LinkageError e) {
      a = Availability.unavailable("availability() threw " + e, e);
    }
    return new ResolvedBackend(
        p.name(),
        p,
        a.available() ? null : "backend '" + p.name() + "' is unavailable: " + a.reason());
  }

  private static String found(List<DivertProvider> all) {
    if (all.isEmpty()) {
      return "; no providers are on the class path";
    }
    List<String> names = new ArrayList<>();
    for (DivertProvider p : all) {
      names.add(p.name());
    }
    return "; providers found: " + String.join(", ", names);
  }

  String name() {
    return name;
  }

  boolean available() {
    return unavailable == null;
  }

  /** Null when available. */
  String unavailableReason() {
    return unavailable;
  }

  /** Null when not found. */
  DivertProvider provider() {
    return provider;
  }

  Set<Capability> capabilities() {
    if (provider == null) {
      return Set.of();
    }
    try {
      return provider.capabilities();
    } catch (RuntimeException e) {
      return Set.of();
    }
  }
}
