package org.divert4j.tck;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.divert4j.spi.DivertProvider;

/**
 * Hands provider objects to a launcher run: JUnit configuration parameters are strings, so {@link
 * Tck} registers the object under a key, passes the key as {@value TckSettings#PROVIDER_REF}, and
 * removes it when the run ends. Thread-safe.
 */
final class ProviderRegistry {
  private static final Map<String, DivertProvider> PROVIDERS = new ConcurrentHashMap<>();
  private static final AtomicLong NEXT = new AtomicLong();

  private ProviderRegistry() {}

  static String register(DivertProvider provider) {
    String key = provider.name() + "#" + NEXT.incrementAndGet();
    PROVIDERS.put(key, provider);
    return key;
  }

  static DivertProvider get(String key) {
    return PROVIDERS.get(key);
  }

  static void unregister(String key) {
    PROVIDERS.remove(key);
  }
}
