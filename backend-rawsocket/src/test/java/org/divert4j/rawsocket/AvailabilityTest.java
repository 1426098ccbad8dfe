package org.divert4j.rawsocket;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ServiceLoader;
import java.util.concurrent.atomic.AtomicReference;
import org.divert4j.linux.Capabilities;
import org.divert4j.linux.Shell;
import org.divert4j.rawsocket.internal.AvailabilityProbe;
import org.divert4j.spi.Availability;
import org.divert4j.spi.DivertProvider;
import org.junit.jupiter.api.Test;

/** Availability never throws and says exactly what is missing (S46). */
class AvailabilityTest {
  /** The probe as seen by a thread lacking CAP_NET_ADMIN and CAP_NET_RAW. */
  private static Availability unprivileged() throws Exception {
    if (!Shell.isRoot()) {
      return AvailabilityProbe.check(); // this whole JVM lacks them
    }
    AtomicReference<Object> r = new AtomicReference<>();
    Thread t =
        new Thread(
            () -> {
              try {
                Capabilities.dropEffective(Capabilities.CAP_NET_ADMIN, Capabilities.CAP_NET_RAW);
                r.set(AvailabilityProbe.check());
              } catch (Throwable e) {
                r.set(e);
              }
            });
    t.start();
    t.join();
    if (r.get() instanceof Throwable e) {
      throw new AssertionError(e);
    }
    return (Availability) r.get();
  }

  @Test
  void namesBothMissingCapabilities() throws Exception {
    Availability a = unprivileged();
    assertFalse(a.available());
    assertTrue(a.reason().contains("CAP_NET_ADMIN"), a.reason());
    assertTrue(a.reason().contains("CAP_NET_RAW"), a.reason());
  }

  @Test
  void availableAsRoot() {
    Root.assumeKernel();
    assertTrue(new RawSocketProvider().availability().available());
    assertEquals(
        new RawSocketProvider().availability(), new RawSocketProvider().availability(), "cached");
  }

  @Test
  void theProviderNamesNoJnrType() {
    for (Field f : RawSocketProvider.class.getDeclaredFields()) {
      assertFalse(f.getType().getName().startsWith("jnr."), f.toString());
    }
    for (Method m : RawSocketProvider.class.getDeclaredMethods()) {
      assertFalse(m.getReturnType().getName().startsWith("jnr."), m.toString());
      for (Class<?> p : m.getParameterTypes()) {
        assertFalse(p.getName().startsWith("jnr."), m.toString());
      }
    }
  }

  @Test
  void withoutJnrTheProviderLoadsAndIsUnavailable() throws Exception {
    URL backend = RawSocketProvider.class.getProtectionDomain().getCodeSource().getLocation();
    URL api = DivertProvider.class.getProtectionDomain().getCodeSource().getLocation();
    try (URLClassLoader noJnr =
        new URLClassLoader(new URL[] {backend, api}, ClassLoader.getPlatformClassLoader())) {
      Class<?> spi = noJnr.loadClass(DivertProvider.class.getName());
      Object provider = null;
      for (Object p : ServiceLoader.load(spi, noJnr)) {
        if (p.getClass().getName().equals(RawSocketProvider.class.getName())) {
          provider = p;
        }
      }
      assertTrue(provider != null, "ServiceLoader still finds the provider");
      Object a = spi.getMethod("availability").invoke(provider);
      boolean available = (Boolean) a.getClass().getMethod("available").invoke(a);
      String reason = (String) a.getClass().getMethod("reason").invoke(a);
      assertFalse(available);
      assertTrue(reason.toLowerCase().contains("jnr"), reason);
    }
  }
}
