package org.divert4j.management;

import java.util.Map;

/**
 * A divert socket's counters as a JMX MXBean, registered while the socket is open under {@code
 * org.divert4j:type=Socket,backend=<backend>,host=<name>,id=<host id>,port=<port>} (see {@link
 * StatsBeans}). Each getter reads the socket's current {@link org.divert4j.SocketStats}; after the
 * socket closed (and before the bean is gone) a getter throws what {@code stats()} throws then.
 */
public interface SocketStatsMXBean {
  /**
   * @return the divert port
   */
  int getPort();

  /**
   * @return packets received
   */
  long getReceived();

  /**
   * @return bytes received
   */
  long getReceivedBytes();

  /**
   * @return held packets written back
   */
  long getReinjected();

  /**
   * @return new packets injected
   */
  long getInjected();

  /**
   * @return packets sent (written back plus injected)
   */
  long getSent();

  /**
   * @return bytes sent
   */
  long getSentBytes();

  /**
   * @return packets that found the queue full and were accepted because of fail-open (S15)
   */
  long getFailOpenAccepted();

  /**
   * @return packets held now (received, not yet written back or dropped)
   */
  long getHeld();

  /**
   * @return the sum of the socket's drops
   */
  long getDroppedTotal();

  /**
   * @return the socket's drops per {@link org.divert4j.DropReason} name, non-zero ones only
   */
  Map<String, Long> getDropped();
}
