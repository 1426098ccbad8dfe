package org.divert4j.testbed;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.divert4j.IpFamily;
import org.divert4j.NetInterface;

/**
 * One IP stack of a test bed (a peer, or the host's own stack): it sends and receives as an
 * ordinary host would, and can capture what arrives on its interfaces. Thread-safe.
 */
public interface TestNode {
  /**
   * @return a short name, e.g. {@code peer}
   */
  String name();

  /**
   * @return the node's address on link A (for the far peer: on link B)
   */
  Inet4Address address();

  /**
   * @param family a family
   * @return the node's address of that family on the same link as {@link #address()}: for IPv6 its
   *     first address there that is not link-local if it has one, else its link-local one; empty
   *     when the node has no address of the family there
   */
  default Optional<InetAddress> address(IpFamily family) {
    Inet4Address four = address();
    if (family == IpFamily.IPV4) {
      return Optional.of(four);
    }
    for (NetInterface i : interfaces()) {
      if (i.hasAddress(four)) {
        return i.address(family);
      }
    }
    return Optional.empty();
  }

  /**
   * The node's interfaces as the divert host receives on them (S6's expected values): for a backend
   * that diverts in the node's own stack, the node's own interfaces; for an inline backend standing
   * in front of the node, the interface of the divert point that faces the peer, carrying the
   * node's address.
   *
   * @return the node's interfaces
   */
  List<NetInterface> interfaces();

  /**
   * Sends a UDP datagram through the node's own stack, which fragments it to the egress MTU (DF
   * clear), as any program's datagram would be.
   *
   * @param destination the destination address
   * @param sourcePort the UDP source port
   * @param destinationPort the UDP destination port
   * @param payload the UDP payload, up to 65507 bytes
   * @throws IOException if the stack refuses it
   */
  void sendUdp(InetAddress destination, int sourcePort, int destinationPort, byte[] payload)
      throws IOException;

  /**
   * Sends one IP packet exactly as given (header included) from this node onto its link toward the
   * destination, without fragmenting it; for crafted fragments and malformed traffic. The node's
   * stack may fix the header checksum. The packet must fit the link MTU.
   *
   * @param packet the IP packet, from position to limit; not modified
   * @throws IOException if the stack refuses it
   */
  void sendRaw(ByteBuffer packet) throws IOException;

  /**
   * Opens a UDP endpoint bound to a port on every address of this node.
   *
   * @param port the UDP port
   * @return the endpoint; closed by the caller or when the test bed closes
   * @throws IOException if the port cannot be bound
   */
  UdpEndpoint openUdp(int port) throws IOException;

  /**
   * Opens a TCP listening socket of this node's own stack, bound to a port on every address, for
   * bulk transfers through the divert path (S69, S70). Blocking channel; accept and read from any
   * thread.
   *
   * @param port the TCP port
   * @return the listening channel; closed by the caller or when the test bed closes
   * @throws IOException if the port cannot be bound
   * @throws UnsupportedOperationException if the node has no TCP (the user-space stacks of the
   *     simulation and pcap test beds)
   */
  default java.nio.channels.ServerSocketChannel listenTcp(int port) throws IOException {
    throw new UnsupportedOperationException("node " + name() + " has no TCP");
  }

  /**
   * Opens an unconnected TCP socket of this node's own stack; connect and write from any thread.
   *
   * @return the channel; closed by the caller or when the test bed closes
   * @throws IOException if the socket cannot be made
   * @throws UnsupportedOperationException if the node has no TCP
   */
  default java.nio.channels.SocketChannel openTcp() throws IOException {
    throw new UnsupportedOperationException("node " + name() + " has no TCP");
  }

  /**
   * Sends one ICMP echo request and waits for the reply.
   *
   * @param destination whom to ping
   * @param payloadSize ICMP payload bytes (the datagram is 28 bytes more; large ones fragment)
   * @param timeout how long to wait for the reply
   * @return true if the reply arrived in time
   * @throws IOException if the request cannot be sent
   */
  boolean ping(InetAddress destination, int payloadSize, Duration timeout) throws IOException;

  /**
   * Starts capturing the IPv4 packets that arrive at this node's interfaces, as they are on the
   * wire (each fragment on its own), from now until the capture is closed.
   *
   * @return the capture; closed by the caller or when the test bed closes
   * @throws IOException if capturing is not possible
   */
  PacketCapture capture() throws IOException;

  /**
   * Sends a UDP datagram as {@link #sendUdp(InetAddress, int, int, byte[])} does, from a socket
   * whose firewall mark is {@code mark} ({@code SO_MARK} on Linux), so that the packet enters the
   * node's rules carrying it. For the marks rules (S3, S73) on test beds whose host has {@link
   * org.divert4j.Capability#PACKET_MARK}. Blocks until the datagram is handed to the stack.
   *
   * @param destination the destination address
   * @param sourcePort the UDP source port
   * @param destinationPort the UDP destination port
   * @param payload the payload
   * @param mark the firewall mark, an unsigned 32-bit pattern
   * @throws IOException if it cannot be sent
   * @throws UnsupportedOperationException if this test bed's nodes have no firewall marks
   */
  default void sendUdp(
      InetAddress destination, int sourcePort, int destinationPort, byte[] payload, int mark)
      throws IOException {
    throw new UnsupportedOperationException(name() + ": this test bed's nodes have no marks");
  }

  /**
   * Starts counting the UDP datagrams to {@code destinationPort} that leave this node, by the
   * firewall mark they carry after every rule of the divert host (the host's own output path: later
   * rules, routing and other software see this mark, S73). A packet is counted under each of {@code
   * marks} that equals its mark on the bits of {@code significant}.
   *
   * @param destinationPort the UDP destination port
   * @param significant the mark bits compared ({@code -1} for the whole mark)
   * @param marks the marks to count
   * @return the counter; closed by the caller or when the test bed closes
   * @throws IOException if counting cannot start
   * @throws UnsupportedOperationException if this test bed's nodes have no firewall marks
   */
  default MarkCounter countOutgoingMarks(int destinationPort, int significant, int... marks)
      throws IOException {
    throw new UnsupportedOperationException(name() + ": this test bed's nodes have no marks");
  }
}
