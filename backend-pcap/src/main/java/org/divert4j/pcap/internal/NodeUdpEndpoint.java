package org.divert4j.pcap.internal;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.Arrays;
import org.divert4j.testbed.Datagram;
import org.divert4j.testbed.UdpEndpoint;

/**
 * A UDP socket of a test node: a {@link DatagramSocket} created by a thread inside the node's
 * namespace (a socket belongs to the namespace it was created in). Thread-safe; receives are
 * serialised.
 */
final class NodeUdpEndpoint implements UdpEndpoint {
  private final DatagramSocket socket;
  private final int port;
  private final Runnable onClose;
  private final byte[] buffer = new byte[65535];

  private NodeUdpEndpoint(DatagramSocket socket, Runnable onClose) {
    this.socket = socket;
    this.port = socket.getLocalPort();
    this.onClose = onClose;
  }

  /**
   * Creates a UDP socket in the namespace of {@code ns}, bound to a port on every address, with
   * SO_REUSEADDR so that a node can send from a port it also listens on.
   *
   * @param ns a thread in the namespace
   * @param port the port
   * @return the socket
   * @throws IOException if it cannot be bound
   */
  static DatagramSocket socket(NetnsThread ns, int port) throws IOException {
    try {
      return ns.call(
          () -> {
            DatagramSocket s = new DatagramSocket(null);
            s.setReuseAddress(true);
            s.setReceiveBufferSize(1 << 20);
            s.bind(new InetSocketAddress(port));
            return s;
          });
    } catch (IOException e) {
      throw e;
    } catch (Exception e) {
      throw new IOException("cannot open UDP port " + port + " in " + ns + ": " + e, e);
    }
  }

  static NodeUdpEndpoint open(NetnsThread ns, int port, Runnable onClose) throws IOException {
    return new NodeUdpEndpoint(socket(ns, port), onClose);
  }

  @Override
  public int port() {
    return port;
  }

  @Override
  public synchronized Datagram receive(Duration timeout) throws IOException {
    if (socket.isClosed()) {
      throw new IOException("UDP endpoint " + port + " is closed");
    }
    DatagramPacket p = new DatagramPacket(buffer, buffer.length);
    try {
      socket.setSoTimeout((int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis())));
      socket.receive(p);
    } catch (SocketTimeoutException e) {
      return null;
    }
    InetAddress a = p.getAddress();
    return new Datagram(
        (Inet4Address) a, p.getPort(), Arrays.copyOfRange(buffer, 0, p.getLength()), 0);
  }

  @Override
  public void send(Inet4Address destination, int port, byte[] payload) throws IOException {
    socket.send(new DatagramPacket(payload, payload.length, destination, port));
  }

  @Override
  public void close() {
    if (!socket.isClosed()) {
      socket.close();
      onClose.run();
    }
  }
}
