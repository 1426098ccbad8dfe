package org.divert4j.rawsocket.internal;

import org.divert4j.DivertClosedException;

/**
 * Whether a socket is closed, shared by the pieces of its packet path so that each can refuse work
 * and wake up the same way. Thread-safe.
 */
final class SocketState {
  private final int port;
  private volatile boolean closed;

  SocketState(int port) {
    this.port = port;
  }

  /**
   * @return the socket's divert port
   */
  int port() {
    return port;
  }

  boolean closed() {
    return closed;
  }

  void markClosed() {
    closed = true;
  }

  /**
   * @return the error every operation on the closed socket fails with
   */
  DivertClosedException closedException() {
    return new DivertClosedException("divert socket on port " + port);
  }

  /**
   * @throws DivertClosedException if the socket is closed
   */
  void checkOpen() throws DivertClosedException {
    if (closed) {
      throw closedException();
    }
  }
}
