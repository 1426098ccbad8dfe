package org.divert4j.stack;

import static org.divert4j.stack.TestNet.ETH0;
import static org.divert4j.stack.TestNet.udp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.divert4j.Capability;
import org.divert4j.DivertAddress;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.InstalledRule;
import org.divert4j.MalformedPacketException;
import org.divert4j.NoListenerPolicy;
import org.divert4j.PacketBatch;
import org.divert4j.TimestampClock;
import org.divert4j.packet.Fragmenter;
import org.divert4j.packet.Ipv6Builder;
import org.divert4j.packet.Ipv6Fragmenter;
import org.divert4j.packet.Ipv6View;
import org.junit.jupiter.api.Test;

/**
 * The engine's smaller promises, each with an exact outcome: only fragments are reassembled and
 * counted, a PER_FRAGMENT engine diverts fragments as they are, an interrupted receive keeps the
 * interrupt, a dropped batch entry drops its held packet, a batch send expires due packets, each
 * IPv6 datagram the engine fragments gets its own Identification, and the accessors report what the
 * handle was built with.
 */
class EngineEdgesTest {
  private final TestNet net = new TestNet();

  private static ByteBuffer udp6(String dst, int payload) {
    return Ipv6Builder.udp(1, 2)
        .source("fd00::9")
        .destination(dst)
        .payload(new byte[payload])
        .build();
  }

  @Test
  void onlyFragmentsAreReassembledAndCounted() throws Exception {
    HostOptions o = HostOptions.builder().fragments(FragmentMode.ALWAYS_DEFRAGMENT).build();
    DivertEngine e = net.engine(o);
    DivertHost h = e.openHost(o);
    e.receive(udp("10.0.0.9", "10.0.0.1", 1, 10), ETH0);
    e.receive(udp6("fd00::1", 10), ETH0);
    assertEquals(1, net.local.size(), "the IPv4 datagram; the IPv6 one is not local here");
    assertEquals(0, h.stats().reassembled());
    for (ByteBuffer f : Fragmenter.fragment(udp("10.0.0.9", "10.0.0.1", 2, 3000), 1500)) {
      e.receive(f, ETH0);
    }
    assertEquals(2, net.local.size());
    assertEquals(1, h.stats().reassembled());
  }

  @Test
  void perFragmentDivertsFragmentsAsTheyAre() throws Exception {
    DivertEngine e = net.engine(HostOptions.defaults());
    DivertHost h = e.openHost(HostOptions.defaults());
    h.addRule(DivertRule.parse("input -j DIVERT 100"));
    DivertSocket s = h.bind(100);
    List<ByteBuffer> frags = Fragmenter.fragment(udp("10.0.0.9", "10.0.0.1", 2, 3000), 1500);
    e.receive(frags.get(0), ETH0);
    ByteBuffer buf = ByteBuffer.allocate(2048);
    assertNotNull(s.receive(buf, Duration.ZERO), "the first fragment alone");
    assertEquals(frags.get(0).remaining(), buf.position());
    for (ByteBuffer f : Ipv6Fragmenter.fragment(udp6("fd00::1", 3000), 1280, 5)) {
      e.receive(f, ETH0);
    }
    assertEquals(4, e.pending(), "three IPv6 fragments wait beside the held one");
    assertEquals(0, h.stats().reassembled());
    assertEquals(0, e.reassemblyBytesHeld());
  }

  @Test
  void anIpv6PacketIsNotLocalUnlessTheEnvironmentSaysSo() throws Exception {
    DivertEngine e = net.engine(HostOptions.defaults());
    e.receive(udp6("fd00::1", 10), ETH0);
    assertEquals(0, net.local.size());
    assertEquals(0, net.wire.size(), "nor routed: the environment has no IPv6 routes");
  }

  @Test
  void anIpv6PacketFromAnUnknownInterfaceHasNoInterfaceAddress() throws Exception {
    DivertEngine e = net.engine(HostOptions.defaults(), "six", Set.of(Capability.IPV6));
    DivertHost h = e.openHost(HostOptions.defaults());
    h.addRule(DivertRule.parse("input -6 -j DIVERT 100"));
    DivertSocket s = h.bind(100);
    e.receive(udp6("fd00::1", 10), 4);
    DivertAddress a = s.receive(ByteBuffer.allocate(2048), Duration.ZERO);
    assertNotNull(a);
    assertNull(a.interfaceAddress6());
    // an interface index below the largest that no interface has
    EngineHooksTest.Env gap = new EngineHooksTest.Env(); // only index 2
    DivertEngine g =
        new DivertEngine("test", "gap", Set.of(Capability.IPV6), HostOptions.defaults(), gap);
    DivertHost gh = g.openHost(HostOptions.defaults());
    gh.addRule(DivertRule.parse("input -6 -j DIVERT 100"));
    DivertSocket gs = gh.bind(100);
    g.receive(udp6("fd00::1", 10), 1);
    DivertAddress b = gs.receive(ByteBuffer.allocate(2048), Duration.ZERO);
    assertNotNull(b);
    assertNull(b.interfaceAddress6());
  }

  @Test
  void eachFragmentedIpv6DatagramGetsItsOwnIdentification() throws Exception {
    EngineIpv6Test.Env env = new EngineIpv6Test.Env();
    DivertEngine e =
        new DivertEngine(
            "test",
            "r",
            Set.of(Capability.IPV6),
            HostOptions.builder().fragments(FragmentMode.ALWAYS_DEFRAGMENT).build(),
            env);
    DivertSocket s = e.openHost(HostOptions.defaults()).bind(100);
    List<Integer> ids = new ArrayList<>();
    Ipv6View v = new Ipv6View();
    for (int i = 0; i < 3; i++) {
      s.send(
          Ipv6Builder.udp(1, 2)
              .source("fd00:1::1")
              .destination("fd00:2::2")
              .payload(new byte[3000])
              .build(),
          DivertAddress.OUTBOUND);
      int id = v.wrap(ByteBuffer.wrap(env.wire.get(env.wire.size() - 1))).fragmentIdentification();
      assertNotEquals(0, id);
      assertFalse(ids.contains(id), "a new Identification each time: " + ids);
      ids.add(id);
    }
  }

  @Test
  void anEmptyPacketIsMalformed() throws Exception {
    DivertSocket s = net.engine(HostOptions.defaults()).openHost(HostOptions.defaults()).bind(1);
    assertThrows(
        MalformedPacketException.class,
        () -> s.send(ByteBuffer.allocate(0), DivertAddress.OUTBOUND));
  }

  @Test
  void anInterruptedReceiveThrowsAndKeepsTheInterrupt() throws Exception {
    DivertSocket s = net.engine(HostOptions.defaults()).openHost(HostOptions.defaults()).bind(1);
    ExecutorService other = Executors.newSingleThreadExecutor();
    try {
      Future<Boolean> f =
          other.submit(
              () -> {
                Thread.currentThread().interrupt();
                try {
                  s.receive(ByteBuffer.allocate(2048));
                  return false;
                } catch (DivertException x) {
                  return Thread.currentThread().isInterrupted();
                }
              });
      assertTrue(f.get(20, TimeUnit.SECONDS), "the interrupt status is kept");
    } finally {
      other.shutdownNow();
    }
  }

  @Test
  void aDroppedBatchEntryDropsItsHeldPacket() throws Exception {
    DivertEngine e = net.engine(HostOptions.defaults());
    DivertHost h = e.openHost(HostOptions.defaults());
    h.addRule(DivertRule.parse("output -j DIVERT 100"));
    DivertSocket s = h.bind(100);
    assertTrue(e.originate(udp("10.0.0.1", "10.0.0.2", 1, 10)));
    assertTrue(e.originate(udp("10.0.0.1", "10.0.0.2", 2, 10)));
    PacketBatch batch = PacketBatch.allocate(2);
    assertEquals(2, s.receive(batch, Duration.ZERO));
    batch.drop(0);
    assertEquals(1, s.send(batch));
    assertEquals(1, s.stats().dropped(DropReason.PROGRAM));
    assertEquals(0, s.stats().held());
    assertEquals(1, net.wire.size());
  }

  @Test
  void aBatchSendExpiresDuePackets() throws Exception {
    HostOptions o = HostOptions.builder().holdTimeout(Duration.ofMillis(10)).build();
    DivertEngine e = net.engine(o);
    DivertHost h = e.openHost(o);
    h.addRule(DivertRule.parse("output -j DIVERT 100"));
    DivertSocket s = h.bind(100);
    assertTrue(e.originate(udp("10.0.0.1", "10.0.0.2", 1, 10)));
    assertNotNull(s.receive(ByteBuffer.allocate(2048), Duration.ZERO));
    net.advance(Duration.ofMillis(10));
    assertEquals(0, s.send(PacketBatch.allocate(1)));
    assertEquals(1, s.stats().dropped(DropReason.HOLD_EXPIRED));
  }

  @Test
  void accessorsReportWhatTheHandleWasBuiltWith() throws Exception {
    HostOptions o = HostOptions.builder().queueLength(9).build();
    DivertEngine e = net.engine(o);
    assertSame(o, e.options());
    assertEquals(net.interfaces(), e.interfaces());
    HostOptions mine = HostOptions.builder().noListener(NoListenerPolicy.PASS_THROUGH).build();
    DivertHost h = e.openHost(mine);
    assertSame(mine, h.options());
    assertEquals(net.interfaces(), h.interfaces());
    assertEquals(TimestampClock.MONOTONIC, h.timestampClock());
    DivertSocket s = h.bind(7);
    assertSame(h, s.host());
    assertFalse(s.isSniffer());
    assertTrue(s.toString().contains("port 7"));
    assertFalse(s.toString().contains("closed"));
    InstalledRule r = h.addRule(DivertRule.parse("input -j DIVERT 7"));
    assertEquals(DivertRule.parse("input -j DIVERT 7"), r.rule());
    assertTrue(r.toString().contains("pass-through"), r.toString());
    DivertHost dropping = e.openHost(HostOptions.defaults());
    InstalledRule d = dropping.addRule(DivertRule.parse("input -j DIVERT 8"));
    assertTrue(d.toString().startsWith("#" + d.id()), d.toString());
    assertFalse(d.toString().contains("pass-through"));
    assertFalse(h.toString().contains("closed"));
    s.close();
    h.close();
    assertTrue(s.toString().contains("(closed)"));
    assertTrue(h.toString().contains("(closed)"));
  }
}
