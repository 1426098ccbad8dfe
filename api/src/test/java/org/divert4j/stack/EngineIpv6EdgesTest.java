package org.divert4j.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Set;
import org.divert4j.Capability;
import org.divert4j.DivertAddress;
import org.divert4j.DivertHost;
import org.divert4j.DivertSocket;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.Ipv6Addresses;
import org.divert4j.packet.Ipv6Builder;
import org.junit.jupiter.api.Test;

/**
 * IPv6 edges of the engine on the dual-stack router of {@link EngineIpv6Test}: an inbound injection
 * is counted, a link-local destination leaves by the interface the sender names (S60), and an
 * atomic fragment is whole (RFC 6946): it is not reassembled.
 */
class EngineIpv6EdgesTest {
  private final EngineIpv6Test.Env env = new EngineIpv6Test.Env();

  private DivertEngine engine(FragmentMode mode) {
    return new DivertEngine(
        "test", "r6", Set.of(Capability.IPV6), HostOptions.builder().fragments(mode).build(), env);
  }

  @Test
  void anInboundIpv6InjectionIsCountedAndEntersAtItsInterface() throws Exception {
    DivertEngine e = engine(FragmentMode.PER_FRAGMENT);
    DivertSocket s = e.openHost(HostOptions.defaults()).bind(100);
    ByteBuffer p =
        Ipv6Builder.udp(1, 2)
            .source("fd00:1::9")
            .destination("fd00:1::1")
            .payload(new byte[8])
            .build();
    s.send(p, DivertAddress.inbound(Ipv6Addresses.parse("fd00:1::1")));
    assertEquals(1, env.local.size());
    assertEquals(1, s.stats().injected());
    assertEquals(56, s.stats().sentBytes());
  }

  @Test
  void aLinkLocalDestinationLeavesByTheNamedInterface() throws Exception {
    DivertEngine e = engine(FragmentMode.PER_FRAGMENT);
    ByteBuffer p = Ipv6Builder.udp(1, 2).source("fe80::1:2").destination("fe80::7").build();
    assertTrue(e.originate(p, 0, 2));
    assertEquals(1, env.wire.size());
    ByteBuffer q = Ipv6Builder.udp(1, 2).source("fe80::1:2").destination("fe80::7").build();
    assertTrue(!e.originate(q, 0, 0), "no interface named: no route");
    assertEquals(1, env.wire.size());
  }

  @Test
  void anAtomicFragmentIsWholeAndNotReassembled() throws Exception {
    DivertEngine e = engine(FragmentMode.ALWAYS_DEFRAGMENT);
    DivertHost h = e.openHost(HostOptions.defaults());
    ByteBuffer atomic =
        Ipv6Builder.udp(1, 2)
            .source("fd00:1::9")
            .destination("fd00:1::1")
            .fragmentHeader(0, false, 99)
            .payload(new byte[8])
            .build();
    e.receive(atomic, 2);
    assertEquals(1, env.local.size(), "delivered at once");
    assertEquals(0, h.stats().reassembled());
  }

  @Test
  void anInboundIpv6InjectionEntersAtTheInterfaceWithThatAddress() throws Exception {
    DivertEngine e = engine(FragmentMode.PER_FRAGMENT);
    DivertHost h = e.openHost(HostOptions.defaults());
    h.addRule(org.divert4j.DivertRule.parse("input -6 -i eth1 -j DIVERT 200"));
    DivertSocket s = h.bind(100);
    DivertSocket watch = h.bind(200);
    ByteBuffer p =
        Ipv6Builder.udp(1, 2)
            .source("fd00:2::9")
            .destination("fd00:2::1")
            .payload(new byte[8])
            .build();
    s.send(p, DivertAddress.inbound(Ipv6Addresses.parse("fd00:2::1")));
    DivertAddress a = watch.receive(ByteBuffer.allocate(2048), java.time.Duration.ZERO);
    assertTrue(a != null, "entered at eth1, the interface with fd00:2::1");
    assertEquals("eth1", a.interfaceName());
    ByteBuffer q =
        Ipv6Builder.udp(1, 2)
            .source("fd00:2::9")
            .destination("fd00:2::1")
            .payload(new byte[8])
            .build();
    org.junit.jupiter.api.Assertions.assertThrows(
        org.divert4j.AddressNotAvailableException.class,
        () -> s.send(q, DivertAddress.inbound(Ipv6Addresses.parse("fd00:9::1"))));
    assertEquals(1, s.stats().injected());
  }
}
