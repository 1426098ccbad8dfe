package org.divert4j.stack;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import org.divert4j.Capability;
import org.divert4j.Ipv4;
import org.divert4j.NetInterface;
import org.divert4j.packet.Ipv4Builder;

/**
 * A two-interface router for engine tests, on a clock the test moves: lo (index 1, 127.0.0.1/8, MTU
 * 65535), eth0 (index 2, 10.0.0.1/24, MTU 1500) and eth1 (index 3, 10.0.1.1/24, MTU 1000). Routes
 * 127.0.0.0/8 to lo, 10.0.0.0/24 to eth0, 10.0.1.0/24 to eth1, nothing else. The wire and the local
 * stack are lists, each entry a copy with the interface and the mark it went with.
 */
final class TestNet implements StackEnvironment {
  static final int LO = 1;
  static final int ETH0 = 2;
  static final int ETH1 = 3;
  static final int ETH0_MTU = 1500;
  static final int ETH1_MTU = 1000;
  static final int HOST0 = Ipv4.parseInt("10.0.0.1");
  static final int HOST1 = Ipv4.parseInt("10.0.1.1");

  /** A packet that left the engine: its bytes, the interface and the mark. */
  record Sent(byte[] bytes, int ifIndex, int mark) {
    int ttl() {
      return bytes[8] & 0xff;
    }

    int identification() {
      return ((bytes[4] & 0xff) << 8) | (bytes[5] & 0xff);
    }
  }

  final ReentrantLock lock = new ReentrantLock();
  final List<Sent> wire = new ArrayList<>();
  final List<Sent> local = new ArrayList<>();
  boolean forwarding = true;

  /** When set (non-negative), every IPv4 route answers this index. */
  int routeOverride = -1;

  long transmitDrops;
  long now = 1_000_000_000L;
  int synchronizations;

  @Override
  public List<NetInterface> interfaces() {
    return List.of(
        new NetInterface("lo", LO, Ipv4.parse("127.0.0.1"), 8, 65535),
        new NetInterface("eth0", ETH0, Ipv4.parse("10.0.0.1"), 24, ETH0_MTU),
        new NetInterface("eth1", ETH1, Ipv4.parse("10.0.1.1"), 24, ETH1_MTU));
  }

  @Override
  public int route(int destination) {
    if (routeOverride >= 0) {
      return routeOverride;
    }
    if (destination >>> 24 == 127) {
      return LO;
    }
    int net = destination & 0xffffff00;
    if (net == (HOST0 & 0xffffff00)) {
      return ETH0;
    }
    if (net == (HOST1 & 0xffffff00)) {
      return ETH1;
    }
    return 0;
  }

  @Override
  public boolean isLocal(int address) {
    return address == HOST0 || address == HOST1;
  }

  @Override
  public boolean forwarding() {
    return forwarding;
  }

  @Override
  public void deliverLocal(ByteBuffer packet, int inInterface) {
    local.add(new Sent(copy(packet), inInterface, 0));
  }

  @Override
  public void transmit(ByteBuffer packet, int outInterface) {
    throw new AssertionError("the engine transmits with a mark");
  }

  @Override
  public void transmit(ByteBuffer packet, int outInterface, int mark) {
    wire.add(new Sent(copy(packet), outInterface, mark));
  }

  @Override
  public long transmitDrops() {
    return transmitDrops;
  }

  @Override
  public void synchronize() {
    synchronizations++;
  }

  @Override
  public long nanoTime() {
    return now;
  }

  void advance(Duration d) {
    now += d.toNanos();
  }

  @Override
  public void enter() {
    lock.lock();
  }

  @Override
  public void exit() {
    lock.unlock();
  }

  DivertEngine engine(org.divert4j.HostOptions o) {
    return new DivertEngine("test", "r", Set.of(), o, this);
  }

  DivertEngine engine(org.divert4j.HostOptions o, String name, Set<Capability> capabilities) {
    return new DivertEngine("test", name, capabilities, o, this);
  }

  static byte[] copy(ByteBuffer p) {
    byte[] b = new byte[p.remaining()];
    p.duplicate().get(b);
    return b;
  }

  /** A UDP datagram of {@code payload} bytes, TTL 64, source port 1, destination port 2. */
  static ByteBuffer udp(String src, String dst, int id, int payload) {
    return Ipv4Builder.udp(1, 2)
        .source(src)
        .destination(dst)
        .identification(id)
        .payload(new byte[payload])
        .build();
  }
}
