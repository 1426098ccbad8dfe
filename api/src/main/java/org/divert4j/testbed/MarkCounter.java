package org.divert4j.testbed;

import java.io.IOException;

/**
 * Counts a node's outgoing datagrams by firewall mark ({@link TestNode#countOutgoingMarks}).
 * Thread-safe. {@link #close()} stops counting and removes what the test bed installed for it.
 */
public interface MarkCounter extends AutoCloseable {
  /**
   * @param mark one of the marks the counter was made for
   * @return the datagrams counted under it so far
   * @throws IOException if the count cannot be read
   * @throws IllegalArgumentException if the counter was not made for that mark
   */
  long count(int mark) throws IOException;

  @Override
  void close() throws IOException;
}
