package org.divert4j.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import org.divert4j.DivertAddress;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.Ipv4;
import org.divert4j.NetInterface;
import org.divert4j.packet.Fragmenter;
import org.divert4j.packet.Ipv4Builder;
import org.junit.jupiter.api.Test;

/**
 * The engine hooks a capture backend relies on: capture drops in the statistics, room and pending
 * counts for a lossless replay, reassembly of originated fragments in ALWAYS_DEFRAGMENT mode, and
 * {@code synchronize()} before configuration changes.
 */
class EngineHooksTest {
  /** A one-interface host whose wire is a list. */
  static final class Env implements StackEnvironment {
    final ReentrantLock lock = new ReentrantLock();
    final List<byte[]> wire = new ArrayList<>();
    volatile long captureDrops;
    int synchronizations;

    @Override
    public List<NetInterface> interfaces() {
      return List.of(new NetInterface("eth0", 2, Ipv4.parse("10.0.0.1"), 24, 1500));
    }

    @Override
    public int route(int destination) {
      return 2;
    }

    @Override
    public boolean isLocal(int address) {
      return address == Ipv4.parseInt("10.0.0.1");
    }

    @Override
    public boolean forwarding() {
      return false;
    }

    @Override
    public void deliverLocal(ByteBuffer packet, int inInterface) {}

    @Override
    public void transmit(ByteBuffer packet, int outInterface) {
      byte[] b = new byte[packet.remaining()];
      packet.duplicate().get(b);
      wire.add(b);
    }

    @Override
    public long captureDrops() {
      return captureDrops;
    }

    @Override
    public void synchronize() {
      synchronizations++;
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

  private static DivertEngine engine(Env env, HostOptions o) {
    return new DivertEngine("test", "h", Set.of(), o, env);
  }

  private static ByteBuffer udp(int id, int payload) {
    return Ipv4Builder.udp(1, 2)
        .source("10.0.0.1")
        .destination("10.0.0.2")
        .identification(id)
        .payload(new byte[payload])
        .build();
  }

  @Test
  void captureDropsShowInHostStatsAndInSocketsForTheTimeTheyAreBound() throws Exception {
    Env env = new Env();
    DivertEngine e = engine(env, HostOptions.defaults());
    DivertHost host = e.openHost(HostOptions.defaults());
    env.captureDrops = 5;
    DivertSocket s = host.bind(100);
    env.captureDrops = 12;
    assertEquals(12, host.stats().dropped(DropReason.CAPTURE));
    assertEquals(7, s.stats().dropped(DropReason.CAPTURE), "only those while bound");
    s.close();
    env.captureDrops = 20;
    assertEquals(7, s.stats().dropped(DropReason.CAPTURE), "frozen at close");
    assertEquals(20, host.stats().dropped(DropReason.CAPTURE));
  }

  @Test
  void roomAndPendingFollowTheSocketsQueues() throws Exception {
    Env env = new Env();
    DivertEngine e = engine(env, HostOptions.defaults());
    DivertHost host = e.openHost(HostOptions.builder().queueLength(3).build());
    assertEquals(Integer.MAX_VALUE, e.room(), "no socket: always room");
    host.addRule(DivertRule.parse("output -p udp -j DIVERT 100"));
    DivertSocket s = host.bind(100);
    assertEquals(3, e.room());
    e.originate(udp(1, 10));
    e.originate(udp(2, 10));
    assertEquals(2, e.pending());
    assertEquals(1, e.room());
    ByteBuffer buf = ByteBuffer.allocate(2048);
    DivertAddress a = s.receive(buf, Duration.ZERO);
    assertNotNull(a);
    assertEquals(2, e.pending(), "a held packet still counts");
    s.send(buf.flip(), a);
    assertEquals(1, e.pending());
    s.close();
    assertEquals(0, e.pending());
    assertEquals(Integer.MAX_VALUE, e.room());
  }

  @Test
  void originatedFragmentsAreReassembledWhenDefragmenting() throws Exception {
    Env env = new Env();
    HostOptions o = HostOptions.builder().fragments(FragmentMode.ALWAYS_DEFRAGMENT).build();
    DivertEngine e = engine(env, o);
    DivertHost host = e.openHost(o);
    host.addRule(DivertRule.parse("output -p udp -j DIVERT 100"));
    DivertSocket s = host.bind(100);
    List<ByteBuffer> frags = new ArrayList<>();
    new Fragmenter()
        .fragment(
            udp(7, 4000),
            1500,
            f -> frags.add(ByteBuffer.allocate(f.remaining()).put(f.duplicate()).flip()));
    assertEquals(3, frags.size());
    for (ByteBuffer f : frags) {
      assertTrue(e.originate(f));
    }
    ByteBuffer buf = ByteBuffer.allocate(65535);
    DivertAddress a = s.receive(buf, Duration.ZERO);
    assertNotNull(a, "one whole datagram");
    assertEquals(4028, buf.position());
    assertEquals(0, buf.getShort(6) & 0x3fff, "MF 0, offset 0");
    assertEquals(1, host.stats().reassembled());
    s.send(buf.flip(), a);
    assertEquals(3, env.wire.size(), "fragmented again to the MTU on the way out");
  }

  @Test
  void configurationChangesSynchronizeFirst() throws Exception {
    Env env = new Env();
    DivertEngine e = engine(env, HostOptions.defaults());
    DivertHost host = e.openHost(HostOptions.defaults());
    var rule = host.addRule(DivertRule.parse("input -j DIVERT 100"));
    DivertSocket s = host.bind(100);
    s.close();
    rule.remove();
    assertEquals(4, env.synchronizations, "add, bind, close, remove");
  }
}
