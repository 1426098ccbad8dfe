package org.divert4j.testbed;

import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;

/** A UDP socket on a test node. Thread-safe; closing it wakes a blocked receive. */
public interface UdpEndpoint extends AutoCloseable {
  /**
   * @return the bound UDP port
   */
  int port();

  /**
   * Waits for the next datagram (reassembled by the node's stack).
   *
   * @param timeout how long to wait; zero polls
   * @return the datagram, or null if none arrived in time
   * @throws IOException if the endpoint is closed or fails
   */
  Datagram receive(Duration timeout) throws IOException;

  /**
   * Sends a datagram from this endpoint's port.
   *
   * @param destination the destination address
   * @param port the destination port
   * @param payload the payload
   * @throws IOException if the stack refuses it
   */
  void send(InetAddress destination, int port, byte[] payload) throws IOException;

  /** Closes the endpoint. Idempotent. */
  @Override
  void close();
}
