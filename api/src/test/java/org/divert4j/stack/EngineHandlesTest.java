package org.divert4j.stack;

import static org.divert4j.stack.TestNet.udp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import javax.management.ObjectName;
import org.divert4j.Capability;
import org.divert4j.DivertAddress;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.InstalledRule;
import org.divert4j.SnifferWriteBackException;
import org.divert4j.management.StatsBeans;
import org.divert4j.packet.Fragmenter;
import org.divert4j.packet.Ipv6Builder;
import org.divert4j.packet.Ipv6Fragmenter;
import org.junit.jupiter.api.Test;

/**
 * Host handles and sniffers: a closed handle refuses work and unregisters its beans, a handle names
 * itself and its backend, rule ids are positive, an IPv6 rule needs the capability, a sniffer's
 * copies are not held and take no room from the traffic (S71), and the engine's statistics add both
 * families' reassembly drops and the environment's counters.
 */
class EngineHandlesTest {
  /** Host names unique in this JVM: PIT runs a test many times in one JVM, beans are global. */
  private static final java.util.concurrent.atomic.AtomicInteger RUN =
      new java.util.concurrent.atomic.AtomicInteger();

  private final TestNet net = new TestNet();

  private static int beans(String hostName) throws Exception {
    return ManagementFactory.getPlatformMBeanServer()
        .queryNames(
            new ObjectName(StatsBeans.DOMAIN + ":host=" + ObjectName.quote(hostName) + ",*"), null)
        .size();
  }

  @Test
  void aHandleNamesItselfAndItsBackend() throws Exception {
    DivertEngine e = net.engine(HostOptions.defaults(), "named", Set.of());
    DivertHost first = e.openHost(HostOptions.defaults());
    DivertHost second = e.openHost(HostOptions.defaults());
    assertEquals("named#1", first.name());
    assertEquals("named#2", second.name());
    assertEquals("test", first.backend());
    assertTrue(first.toString().contains("named#1"));
    InstalledRule r1 = first.addRule(DivertRule.parse("input -j DIVERT 1"));
    InstalledRule r2 = second.addRule(DivertRule.parse("input -j DIVERT 2"));
    assertTrue(r1.id() > 0 && r2.id() > 0, "positive ids");
    assertTrue(r1.id() != r2.id());
    assertEquals(r1, first.rules().get(0));
    assertTrue(r1.isInstalled());
    r1.remove();
    assertFalse(r1.isInstalled());
    r1.remove(); // twice: nothing more
    assertEquals(List.of(), first.rules());
    assertEquals(List.of(r2), second.rules());
  }

  @Test
  void aClosedHandleRefusesWorkAndLeavesNoBeans() throws Exception {
    String name = "closing" + RUN.incrementAndGet();
    DivertEngine e = net.engine(HostOptions.defaults(), name, Set.of());
    DivertHost h = e.openHost(HostOptions.defaults());
    h.addRule(DivertRule.parse("input -j DIVERT 1"));
    DivertSocket s = h.bind(1);
    h.bind(2);
    assertEquals(3, beans(name + "#1"), "the host's and two sockets'");
    s.close();
    assertEquals(2, beans(name + "#1"), "a closed socket's bean goes");
    assertTrue(h.isOpen());
    h.close();
    assertFalse(h.isOpen());
    assertEquals(0, beans(name + "#1"));
    assertEquals(List.of(), e.state());
    assertThrows(DivertClosedException.class, () -> h.bind(3));
    assertThrows(
        DivertClosedException.class, () -> h.addRule(DivertRule.parse("input -j DIVERT 1")));
    assertThrows(
        DivertClosedException.class, () -> h.insertRule(0, DivertRule.parse("input -j DIVERT 1")));
    assertThrows(DivertClosedException.class, h::interfaces);
    assertEquals(List.of(), e.state(), "nothing was added");
    h.close();
    // the ports are free for another handle
    DivertHost again = e.openHost(HostOptions.defaults());
    again.bind(1);
    again.bind(2);
  }

  @Test
  void anIpv6RuleNeedsTheCapability() throws Exception {
    DivertEngine e = net.engine(HostOptions.defaults(), "v4only", Set.of());
    DivertHost h = e.openHost(HostOptions.defaults());
    assertThrows(DivertException.class, () -> h.addRule(DivertRule.parse("input -6 -j DIVERT 1")));
    h.addRule(DivertRule.parse("input -j DIVERT 1"));
    assertThrows(
        DivertException.class, () -> h.insertRule(0, DivertRule.parse("input -6 -j DIVERT 2")));
    assertEquals(1, h.rules().size());
    DivertHost six =
        net.engine(HostOptions.defaults(), "v6", Set.of(Capability.IPV6))
            .openHost(HostOptions.defaults());
    six.addRule(DivertRule.parse("input -6 -j DIVERT 1"));
    six.insertRule(0, DivertRule.parse("input -6 -j DIVERT 2"));
    assertEquals(2, six.rules().size());
  }

  @Test
  void withoutTheCapabilityThereAreNoSniffers() throws Exception {
    DivertHost h = net.engine(HostOptions.defaults()).openHost(HostOptions.defaults());
    assertThrows(UnsupportedOperationException.class, () -> h.bindSniffer(1));
  }

  @Test
  void aSniffersCopiesAreNotHeldAndTakeNoRoomFromTheTraffic() throws Exception {
    HostOptions o = HostOptions.builder().queueLength(2).failOpen(true).build();
    DivertEngine e = net.engine(o, "sniff", Set.of(Capability.SNIFF));
    DivertHost h = e.openHost(o);
    h.addRule(DivertRule.parse("output -p udp -j DIVERT 50"));
    DivertSocket sniffer = h.bindSniffer(50);
    assertTrue(sniffer.isSniffer());
    assertTrue(sniffer.toString().contains("sniffer"));
    for (int i = 0; i < 3; i++) {
      assertTrue(e.originate(udp("10.0.0.1", "10.0.0.2", i, 10)));
    }
    assertEquals(3, net.wire.size(), "the traffic goes on at once");
    assertEquals(Integer.MAX_VALUE, e.room(), "a sniffer does not hold traffic back");
    assertEquals(0, e.pending());
    assertEquals(1, sniffer.stats().dropped(DropReason.QUEUE_FULL), "fail-open is not for copies");
    assertEquals(0, sniffer.stats().failOpenAccepted());
    ByteBuffer buf = ByteBuffer.allocate(2048);
    DivertAddress a = sniffer.receive(buf, Duration.ZERO);
    assertNotNull(a);
    assertEquals(0, sniffer.stats().held(), "a copy is not held");
    assertThrows(SnifferWriteBackException.class, () -> sniffer.send(buf.flip(), a));
    sniffer.drop(a); // nothing
    org.divert4j.PacketBatch batch = org.divert4j.PacketBatch.allocate(4);
    assertEquals(1, sniffer.receive(batch, Duration.ZERO));
    assertEquals(0, sniffer.stats().held());
    assertEquals(0, sniffer.send(batch));
    assertTrue(batch.error(0) instanceof SnifferWriteBackException);
    assertEquals(3, net.wire.size());
    // two more copies fit: the received ones took no room
    assertTrue(e.originate(udp("10.0.0.1", "10.0.0.2", 7, 10)));
    assertTrue(e.originate(udp("10.0.0.1", "10.0.0.2", 8, 10)));
    assertEquals(1, sniffer.stats().dropped(DropReason.QUEUE_FULL));
    // a new packet from a sniffer is injected as from any socket
    sniffer.send(udp("10.0.0.1", "10.0.0.2", 9, 10), DivertAddress.OUTBOUND);
    assertEquals(6, net.wire.size());
    assertEquals(1, sniffer.stats().injected());
  }

  @Test
  void aSnifferBesideADivertingSocketLeavesTheRoomToTheDivertingOne() throws Exception {
    HostOptions o = HostOptions.builder().queueLength(3).build();
    DivertEngine e = net.engine(o, "sniff2", Set.of(Capability.SNIFF));
    DivertHost h = e.openHost(o);
    h.addRule(DivertRule.parse("output -p udp -j DIVERT 50"));
    h.addRule(DivertRule.parse("output -p udp -j DIVERT 60"));
    DivertSocket sniffer = h.bindSniffer(50);
    DivertSocket s = h.bind(60);
    assertTrue(e.originate(udp("10.0.0.1", "10.0.0.2", 1, 10)));
    assertEquals(2, e.room(), "the diverting socket's room");
    assertEquals(1, e.pending(), "the copy is not the traffic's");
    ByteBuffer buf = ByteBuffer.allocate(2048);
    assertNotNull(sniffer.receive(buf, Duration.ZERO));
    DivertAddress a = s.receive(buf.clear(), Duration.ZERO);
    assertEquals(2, e.room(), "held");
    s.send(buf.flip(), a);
    assertEquals(3, e.room());
    assertEquals(1, net.wire.size());
  }

  @Test
  void hostStatisticsAddBothFamiliesAndTheEnvironmentsCounters() throws Exception {
    HostOptions o =
        HostOptions.builder()
            .fragments(FragmentMode.ALWAYS_DEFRAGMENT)
            .reassemblyTimeout(Duration.ofSeconds(1))
            .build();
    DivertEngine e = net.engine(o);
    DivertHost h = e.openHost(o);
    net.transmitDrops = 5;
    net.now = 0;
    ByteBuffer[] v4 = new ByteBuffer[1];
    new Fragmenter()
        .fragment(
            udp("10.0.0.9", "10.0.0.1", 1, 3000),
            1500,
            f -> {
              if (v4[0] == null) {
                v4[0] = ByteBuffer.allocate(f.remaining()).put(f.duplicate()).flip();
              }
            });
    e.receive(v4[0], TestNet.ETH0);
    long held4 = e.reassemblyBytesHeld();
    assertTrue(held4 > 0);
    ByteBuffer[] v6 = new ByteBuffer[1];
    new Ipv6Fragmenter()
        .fragment(
            Ipv6Builder.udp(1, 2)
                .source("fd00::9")
                .destination("fd00::1")
                .payload(new byte[3000])
                .build(),
            1280,
            42,
            f -> {
              if (v6[0] == null) {
                v6[0] = ByteBuffer.allocate(f.remaining()).put(f.duplicate()).flip();
              }
            });
    e.receive(v6[0], TestNet.ETH0);
    long held = e.reassemblyBytesHeld();
    assertTrue(held > held4, held + " > " + held4);
    net.advance(Duration.ofSeconds(1));
    e.tick();
    assertEquals(0, e.reassemblyBytesHeld());
    assertEquals(2, h.stats().dropped(DropReason.REASSEMBLY_TIMEOUT));
    assertEquals(5, h.stats().dropped(DropReason.TRANSMIT));
    assertEquals(0, h.stats().reassembled());
  }
}
