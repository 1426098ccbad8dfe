package org.divert4j.pcap.internal;

import com.sun.jna.Memory;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.Inet4Address;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.divert4j.Ipv4;
import org.divert4j.NetInterface;
import org.divert4j.testbed.PacketCapture;
import org.divert4j.testbed.TestNode;
import org.divert4j.testbed.UdpEndpoint;
import org.divert4j.testbed.linux.Netns;
import org.divert4j.testbed.linux.Shell;

/**
 * A test node that is a real Linux IP stack: a network namespace with one interface. Its sockets
 * (UDP, and a raw {@code IPPROTO_RAW} socket for crafted packets) are created by a thread that
 * entered the namespace; pings run the {@code ping} program inside it; captures are pcap captures
 * there. Thread-safe; {@link #close()} closes everything the node opened.
 */
final class NamespaceNode implements TestNode, AutoCloseable {
  private final String name;
  private final Netns netns;
  private final NetnsThread thread;
  private final String device;
  private final Inet4Address address;
  private final int prefixLength;
  private final List<AutoCloseable> open = new CopyOnWriteArrayList<>();
  private int rawFd = -1;
  private Memory rawBuffer;

  NamespaceNode(String name, Netns netns, String device, Inet4Address address, int prefixLength)
      throws IOException {
    this.name = name;
    this.netns = netns;
    this.device = device;
    this.address = address;
    this.prefixLength = prefixLength;
    this.thread = NetnsThread.start(netns.path().toString(), false);
  }

  /**
   * @return the node's namespace
   */
  Netns netns() {
    return netns;
  }

  /**
   * @return the thread inside the node's namespace
   */
  NetnsThread thread() {
    return thread;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public Inet4Address address() {
    return address;
  }

  @Override
  public List<NetInterface> interfaces() {
    try {
      Native.Link l = thread.call(() -> Native.link(device));
      return List.of(new NetInterface(device, l.index(), address, prefixLength, l.mtu()));
    } catch (Exception e) {
      throw new IllegalStateException("cannot read " + device + " of " + name + ": " + e, e);
    }
  }

  @Override
  public void sendUdp(Inet4Address destination, int sourcePort, int destinationPort, byte[] payload)
      throws IOException {
    if (payload.length > 65507) {
      throw new IOException("UDP payload too large: " + payload.length + " bytes (max 65507)");
    }
    try (DatagramSocket s = NodeUdpEndpoint.socket(thread, sourcePort)) {
      s.setSendBufferSize(1 << 20);
      s.send(new DatagramPacket(payload, payload.length, destination, destinationPort));
    }
  }

  @Override
  public synchronized void sendRaw(ByteBuffer packet) throws IOException {
    int len = packet.remaining();
    if (len < 20) {
      throw new IOException("raw packet shorter than an IP header: " + len + " bytes");
    }
    if (rawFd < 0) {
      try {
        rawFd =
            thread.call(() -> Native.socket(Native.AF_INET, Native.SOCK_RAW, Native.IPPROTO_RAW));
      } catch (IOException e) {
        throw e;
      } catch (Exception e) {
        throw new IOException("cannot open a raw socket in " + name + ": " + e, e);
      }
      rawBuffer = new Memory(65536);
    }
    byte[] b = new byte[len];
    packet.duplicate().get(b);
    rawBuffer.write(0, b, 0, len);
    int dst = packet.getInt(packet.position() + 16);
    Native.sendRaw(rawFd, rawBuffer, len, dst);
  }

  @Override
  public UdpEndpoint openUdp(int port) throws IOException {
    NodeUdpEndpoint[] self = new NodeUdpEndpoint[1];
    self[0] = NodeUdpEndpoint.open(thread, port, () -> open.remove(self[0]));
    open.add(self[0]);
    return self[0];
  }

  @Override
  public boolean ping(Inet4Address destination, int payloadSize, Duration timeout)
      throws IOException {
    if (Shell.which("ping").isEmpty()) {
      throw new IOException("no ping program (install iputils-ping)");
    }
    long secs = Math.max(1, (timeout.toMillis() + 999) / 1000);
    List<String> cmd = new ArrayList<>();
    cmd.add(Shell.which("ping").get().toString());
    cmd.addAll(
        List.of(
            "-n",
            "-q",
            "-c",
            "1",
            "-M",
            "dont",
            "-s",
            Integer.toString(payloadSize),
            "-W",
            Long.toString(secs),
            destination.getHostAddress()));
    Shell.Result r = netns.exec(null, timeout.plusSeconds(5), cmd);
    return r.ok();
  }

  @Override
  public PacketCapture capture() throws IOException {
    NodeCapture[] self = new NodeCapture[1];
    try {
      self[0] = NodeCapture.open(thread, device, name, () -> open.remove(self[0]));
    } catch (IOException e) {
      throw e;
    } catch (Exception e) {
      throw new IOException("cannot capture on " + device + " of " + name + ": " + e, e);
    }
    open.add(self[0]);
    return self[0];
  }

  /** Closes the node's endpoints, captures, raw socket and thread. Idempotent. */
  @Override
  public synchronized void close() {
    for (AutoCloseable c : new ArrayList<>(open)) {
      try {
        c.close();
      } catch (Exception e) {
        // closing the rest matters more
      }
    }
    open.clear();
    Native.closeQuietly(rawFd);
    rawFd = -1;
    if (rawBuffer != null) {
      rawBuffer.close();
      rawBuffer = null;
    }
    thread.close();
  }

  @Override
  public String toString() {
    return name + " " + address.getHostAddress() + "/" + prefixLength + " (" + netns + ")";
  }

  static Inet4Address address(int bits) {
    return Ipv4.fromInt(bits);
  }
}
