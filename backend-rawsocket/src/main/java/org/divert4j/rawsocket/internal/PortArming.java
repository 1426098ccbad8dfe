package org.divert4j.rawsocket.internal;

/**
 * The rule lines of one host that lead to a divert port's queues, as a socket of that port sees
 * them: the socket disarms them when it closes, reads their counters for its statistics, and says
 * when it has closed. Implemented by the host's {@link RuleBook}. Thread-safe.
 */
interface PortArming {
  /**
   * Regenerates the port's chains as if its queues were already unbound, so that packets arriving
   * from now on meet the no-listener behaviour (counted as such) instead of a queue about to be
   * destroyed, where the kernel would drop them uncounted. Only while the host is open; a failure
   * leaves the old behaviour (the close goes on).
   *
   * @param port the divert port
   * @param queues how many queues the socket has (port .. port + queues - 1)
   * @return the packet counter of the port's DROP no-listener lines just before, or -1 if the
   *     chains were not changed or the counter is unknown
   */
  long disarm(int port, int queues);

  /**
   * @param port a divert port
   * @return the packet counter of its DROP no-listener lines now, or -1 if unknown
   */
  long noListenerDrops(int port);

  /**
   * @param port a divert port
   * @return the packets its queue lines have sent to its queues so far, or -1 if unknown
   */
  long queuedPackets(int port);

  /**
   * @param port a divert port
   * @return each of its queue lines (keyed by family, chain and text) with its packet count now, or
   *     null if unknown ({@link RuleCounts#queueLines})
   */
  java.util.Map<String, Long> queueLines(int port);

  /**
   * Called once a socket has closed and released its queues.
   *
   * @param socket the socket
   */
  void closed(KernelSocket socket);
}
