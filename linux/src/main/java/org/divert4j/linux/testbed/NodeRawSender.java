package org.divert4j.linux.testbed;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.util.List;
import org.divert4j.Ipv6Addresses;
import org.divert4j.linux.Datagrams;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Native;
import org.divert4j.linux.testbed.NamespaceNode.Link;

/**
 * A {@link NamespaceNode}'s raw sends ({@link NamespaceNode#sendRaw}): an {@code AF_PACKET} socket
 * of the node's namespace writes each packet straight onto the link toward its destination (the
 * link whose prefix holds it, else the first), addressed to the MAC at the other end of that link.
 * The bytes go out exactly as given: no checksum, length or ID fix-up, no fragmentation, no ARP
 * wait, and the node's own firewall does not see them. Thread-safe: one send at a time.
 */
final class NodeRawSender implements AutoCloseable {
  private final String name;
  private final Netns netns;
  private final List<Link> links;
  private final ByteBuffer out = NodeUdpEndpoint.direct(65536);
  private final ByteBuffer to = NodeUdpEndpoint.direct(Native.SIZEOF_SOCKADDR_LL);
  private int fd = -1;
  private boolean closed;

  /**
   * @param name the node's name, for messages
   * @param netns the node's namespace, which makes the socket (directly or through a broker)
   * @param links the node's links
   */
  NodeRawSender(String name, Netns netns, List<Link> links) {
    this.name = name;
    this.netns = netns;
    this.links = links;
  }

  /**
   * Sends an IPv4 or IPv6 packet exactly as given on the link toward its destination; opens the
   * {@code AF_PACKET} socket in the node's namespace at the first send. Blocks for the send.
   *
   * @param packet the packet from its position to its limit; not modified
   * @throws IOException if the packet is shorter than an IPv4 header or over 64 KiB, the sender is
   *     closed, or the socket or the send fails
   */
  synchronized void send(ByteBuffer packet) throws IOException {
    int len = packet.remaining();
    if (len < 20) {
      throw new IOException("not an IP packet: " + len + " bytes");
    }
    if (len > out.capacity()) {
      throw new IOException("raw packet too large: " + len + " bytes");
    }
    if (closed) {
      throw new IOException("test node " + name + " is closed");
    }
    if (fd < 0) {
      int proto = Short.toUnsignedInt(Short.reverseBytes((short) Native.ETH_P_IP));
      fd = netns.socket(Native.AF_PACKET, Native.SOCK_DGRAM, proto);
    }
    int p = packet.position();
    boolean six = (packet.get(p) & 0xf0) == 0x60 && len >= 40;
    Link k;
    if (six) {
      byte[] d = new byte[16];
      packet.get(p + 24, d);
      k = linkFor6(Ipv6Addresses.fromBytes(d));
    } else {
      int dst =
          (packet.get(p + 16) & 0xff) << 24
              | (packet.get(p + 17) & 0xff) << 16
              | (packet.get(p + 18) & 0xff) << 8
              | (packet.get(p + 19) & 0xff);
      k = linkFor(dst);
    }
    // the socket's protocol only filters what it receives; sll_protocol is the EtherType sent
    int etherType = six ? Native.ETH_P_IPV6 : Native.ETH_P_IP;
    to.clear();
    to.putShort(0, (short) Native.AF_PACKET);
    to.put(2, (byte) (etherType >>> 8)); // sll_protocol, network order
    to.put(3, (byte) etherType);
    to.putInt(4, k.iface().index());
    to.putShort(8, (short) Native.ARPHRD_ETHER);
    to.put(10, (byte) 0);
    to.put(11, (byte) 6);
    byte[] mac = k.neighbourMac();
    for (int i = 0; i < 8; i++) {
      to.put(12 + i, i < 6 ? mac[i] : 0);
    }
    out.clear();
    out.put(0, packet, p, len);
    out.limit(len);
    try {
      Datagrams.sendTo(fd, out, to);
    } catch (ErrnoException e) {
      throw new IOException(
          "raw send of " + len + " bytes on " + name + "/" + k.iface().name() + " failed: " + e, e);
    }
  }

  private Link linkFor(int destination) {
    for (Link k : links) {
      if (k.contains(destination)) {
        return k;
      }
    }
    return links.get(0);
  }

  private Link linkFor6(InetAddress destination) {
    for (Link k : links) {
      if (k.contains6(destination)) {
        return k;
      }
    }
    return links.get(0);
  }

  /** Closes the socket; later sends fail. Idempotent. */
  @Override
  public synchronized void close() {
    closed = true;
    Native.close(fd);
    fd = -1;
  }
}
