package org.divert4j.stack;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import org.divert4j.Capability;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.IpPrefix;
import org.divert4j.Ipv6Addresses;
import org.divert4j.NetInterface;
import org.divert4j.PacketBatch;
import org.divert4j.packet.Fragmenter;
import org.divert4j.packet.Ipv4Builder;
import org.divert4j.packet.Ipv6Builder;
import org.divert4j.packet.Ipv6Fragmenter;
import org.divert4j.packet.Ipv6View;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The engine's IPv6 paths on a minimal dual-stack router (SEMANTICS.md section K): forwarding with
 * the hop limit, reassembly per family (S63), and divert plus batch write-back without allocation.
 */
class EngineIpv6Test {
  private static final IpPrefix IN6 = IpPrefix.parse("fd00:1::1/64");
  private static final IpPrefix OUT6 = IpPrefix.parse("fd00:2::1/64");
  private static final IpPrefix IN6_HOST = IpPrefix.parse("fd00:1::1/128");
  private static final IpPrefix OUT6_HOST = IpPrefix.parse("fd00:2::1/128");

  /** Two interfaces, each with both families; forwards; the wire and local stack are lists. */
  static final class Env implements StackEnvironment {
    final ReentrantLock lock = new ReentrantLock();
    final List<byte[]> wire = new ArrayList<>();
    final List<byte[]> local = new ArrayList<>();
    boolean record = true;

    @Override
    public List<NetInterface> interfaces() {
      return List.of(
          new NetInterface(
              "eth0",
              2,
              List.of(IpPrefix.parse("10.0.1.1/24"), IN6, IpPrefix.parse("fe80::1:2/64")),
              1500),
          new NetInterface("eth1", 3, List.of(IpPrefix.parse("10.0.2.1/24"), OUT6), 1500));
    }

    @Override
    public int route(int destination) {
      return (destination >>> 8 & 0xff) == 2 ? 3 : 2;
    }

    @Override
    public int route6(ByteBuffer packet, int offset) {
      return OUT6.contains(packet, offset) ? 3 : IN6.contains(packet, offset) ? 2 : 0;
    }

    @Override
    public boolean isLocal(int address) {
      return address == 0x0a000101 || address == 0x0a000201;
    }

    @Override
    public boolean isLocal6(ByteBuffer packet, int offset) {
      return IN6_HOST.contains(packet, offset) || OUT6_HOST.contains(packet, offset);
    }

    @Override
    public boolean forwarding() {
      return true;
    }

    @Override
    public void deliverLocal(ByteBuffer packet, int inInterface) {
      local.add(bytes(packet));
    }

    @Override
    public void transmit(ByteBuffer packet, int outInterface) {
      if (record) {
        wire.add(bytes(packet));
      }
    }

    @Override
    public long nanoTime() {
      return System.nanoTime();
    }

    @Override
    public void enter() {
      lock.lock();
    }

    @Override
    public void exit() {
      lock.unlock();
    }
  }

  private static byte[] bytes(ByteBuffer b) {
    byte[] a = new byte[b.remaining()];
    b.get(b.position(), a);
    return a;
  }

  private static DivertEngine engine(Env env, FragmentMode mode) {
    return new DivertEngine(
        "test",
        "r",
        Set.of(Capability.IPV6, Capability.FORWARD),
        HostOptions.builder().fragments(mode).build(),
        env);
  }

  private static ByteBuffer udp6(int payload, int hopLimit) {
    return Ipv6Builder.udp(1, 2)
        .source("fd00:1::2")
        .destination("fd00:2::2")
        .hopLimit(hopLimit)
        .payload(new byte[payload])
        .build();
  }

  @Test
  void forwardingDecrementsTheHopLimitAndNothingElse() {
    Env env = new Env();
    DivertEngine e = engine(env, FragmentMode.PER_FRAGMENT);
    ByteBuffer p = udp6(20, 9);
    byte[] sent = bytes(p);
    e.receive(p, 2);
    assertEquals(1, env.wire.size());
    sent[7] = 8;
    assertArrayEquals(sent, env.wire.get(0));
    e.receive(udp6(20, 1), 2);
    assertEquals(1, env.wire.size(), "hop limit 1: not forwarded");
    ByteBuffer linkLocal = Ipv6Builder.udp(1, 2).source("fe80::9").destination("fd00:2::2").build();
    e.receive(linkLocal, 2);
    assertEquals(1, env.wire.size(), "a link-local source never leaves its link");
  }

  @Test
  void theFamiliesReassembleInTheirOwnBuffers() throws Exception {
    Env env = new Env();
    DivertEngine e = engine(env, FragmentMode.ALWAYS_DEFRAGMENT);
    ByteBuffer v4 =
        Ipv4Builder.udp(1, 2)
            .source("10.0.1.2")
            .destination("10.0.1.1")
            .identification(77)
            .payload(new byte[3000])
            .build();
    ByteBuffer v6 =
        Ipv6Builder.udp(1, 2)
            .source("fd00:1::2")
            .destination("fd00:1::1")
            .payload(new byte[3000])
            .build();
    List<ByteBuffer> f4 = Fragmenter.fragment(v4, 1500);
    List<ByteBuffer> f6 = Ipv6Fragmenter.fragment(v6, 1500, 77);
    for (int i = 0; i < 3; i++) {
      e.receive(f4.get(i), 2);
      e.receive(f6.get(i), 2);
    }
    assertEquals(2, env.local.size(), "one datagram of each family, whole");
    assertArrayEquals(bytes(v4), env.local.get(0));
    assertArrayEquals(bytes(v6), env.local.get(1));
    assertEquals(0, e.reassemblyBytesHeld());
  }

  @Test
  void reassembledIpv6WrittenBackOverTheMtuIsFragmentedWithANewIdentification() throws Exception {
    Env env = new Env();
    DivertEngine e = engine(env, FragmentMode.ALWAYS_DEFRAGMENT);
    DivertHost host = e.openHost(HostOptions.defaults());
    host.addRule(DivertRule.parse("forward -6 -j DIVERT 10"));
    try (DivertSocket s = host.bind(10)) {
      for (ByteBuffer f : Ipv6Fragmenter.fragment(udp6(3000, 64), 1500, 0x1234)) {
        e.receive(f, 2);
      }
      ByteBuffer b = ByteBuffer.allocate(70000);
      var a = s.receive(b, Duration.ZERO);
      b.flip();
      assertTrue(!new Ipv6View().wrap(b).hasFragmentHeader(), "S58");
      s.send(b, a);
    }
    assertEquals(3, env.wire.size());
    Ipv6View v = new Ipv6View();
    int id = v.wrap(ByteBuffer.wrap(env.wire.get(0))).fragmentIdentification();
    assertNotEquals(0, id);
    assertNotEquals(0x1234, id, "a new Identification");
    for (byte[] f : env.wire) {
      assertTrue(f.length <= 1500);
      assertEquals(id, v.wrap(ByteBuffer.wrap(f)).fragmentIdentification());
    }
  }

  @Test
  void divertAndBatchWriteBackOfIpv6AllocateNothingPerPacket() throws Exception {
    Assumptions.assumeTrue(
        ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean t
            && t.isThreadAllocatedMemorySupported()
            && t.isThreadAllocatedMemoryEnabled(),
        "no allocation counting");
    com.sun.management.ThreadMXBean bean =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    Env env = new Env();
    env.record = false;
    DivertEngine e = engine(env, FragmentMode.PER_FRAGMENT);
    DivertHost host = e.openHost(HostOptions.defaults());
    host.addRule(DivertRule.parse("input -6 -p udp --dport 2 -j DIVERT 10"));
    PacketBatch batch = PacketBatch.allocate(8);
    ByteBuffer p = udp6(64, 64);
    int length = p.remaining();
    Object interfaceAddress = Ipv6Addresses.parse("fd00:1::1");
    try (DivertSocket s = host.bind(10)) {
      Runnable round =
          () -> {
            try {
              for (int i = 0; i < 8; i++) {
                p.clear().limit(length);
                p.put(7, (byte) 64); // forwarding decremented it
                e.receive(p, 2);
              }
              assertEquals(8, s.receive(batch, Duration.ZERO));
              assertEquals(interfaceAddress, batch.interfaceAddress6(0));
              assertEquals(8, s.send(batch));
            } catch (Exception x) {
              throw new AssertionError(x);
            }
          };
      for (int i = 0; i < 2000; i++) {
        round.run(); // warm up: pools fill, the JIT removes what escape analysis can
      }
      long before = bean.getThreadAllocatedBytes(Thread.currentThread().getId());
      for (int i = 0; i < 1000; i++) {
        round.run();
      }
      long used = bean.getThreadAllocatedBytes(Thread.currentThread().getId()) - before;
      assertTrue(used < 8000, used + " bytes for 8000 packets diverted and written back");
    }
  }
}
