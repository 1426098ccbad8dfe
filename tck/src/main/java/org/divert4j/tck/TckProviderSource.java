package org.divert4j.tck;

import org.divert4j.spi.DivertProvider;

/**
 * Implemented by a test class that names its backend in code instead of through {@value
 * TckSettings#BACKEND}: the "tiny subclass" way to run the TCK (see {@link TckSuite}). The TCK
 * instantiates the class once with its no-argument constructor to ask for the provider, so the
 * constructor must be cheap; it may be private.
 */
public interface TckProviderSource {
  /**
   * @return the provider to verify; called once per run
   */
  DivertProvider provider();
}
