package org.divert4j.management;

import java.util.Map;

/**
 * A divert host's counters as a JMX MXBean, registered while the host is open under {@code
 * org.divert4j:type=Host,backend=<backend>,host=<name>,id=<n>} (see {@link StatsBeans}). JConsole,
 * VisualVM or a Prometheus JMX exporter read it with no code. Each getter reads the host's current
 * {@link org.divert4j.HostStats}; after the host closed (and before the bean is gone) a getter
 * throws {@link IllegalStateException}.
 */
public interface HostStatsMXBean {
  /**
   * @return the backend's name, e.g. {@code rawsocket}
   */
  String getBackend();

  /**
   * @return the host's name
   */
  String getName();

  /**
   * @return packets passed through because no socket was bound (fail-open, S11)
   */
  long getPassedNoListener();

  /**
   * @return datagrams reassembled in always-defragment mode
   */
  long getReassembled();

  /**
   * @return the sum of the host-level drops
   */
  long getDroppedTotal();

  /**
   * @return the host-level drops per {@link org.divert4j.DropReason} name, non-zero ones only
   */
  Map<String, Long> getDropped();
}
