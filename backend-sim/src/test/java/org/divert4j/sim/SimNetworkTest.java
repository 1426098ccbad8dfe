package org.divert4j.sim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import org.divert4j.Divert;
import org.divert4j.DivertAddress;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.HostOptions;
import org.divert4j.Ipv4;
import org.divert4j.PermissionException;
import org.divert4j.testbed.Datagram;
import org.divert4j.testbed.PacketCapture;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.Test;

/** The simulated network itself: links, routing, fragmentation, the local stack, the clock. */
class SimNetworkTest {
  private static final Duration NOW = Duration.ZERO;

  private static TestBed bed(boolean far) throws Exception {
    return new SimProvider()
        .testBed(TestBedOptions.builder().farPeer(far).farPeerMtu(1400).build());
  }

  @Test
  void providerIsFoundByNameAndNeverAutoSelected() throws Exception {
    assertEquals("sim", Divert.provider("sim").name());
    assertFalse(new SimProvider().autoSelectable());
  }

  @Test
  void pingCrossesALinkAndIsAnswered() throws Exception {
    try (TestBed bed = bed(false)) {
      assertTrue(bed.peer().ping(bed.hostNode().address(), 56, NOW));
      assertTrue(bed.hostNode().ping(bed.peer().address(), 56, NOW));
      assertFalse(bed.peer().ping(Ipv4.parse("10.0.1.99"), 56, NOW), "nobody has .99");
    }
  }

  @Test
  void largeDatagramsTravelAsFragmentsAndArriveWhole() throws Exception {
    try (TestBed bed = bed(false);
        UdpEndpoint sink = bed.hostNode().openUdp(9000);
        PacketCapture wire = bed.hostNode().capture()) {
      byte[] payload = new byte[3972];
      for (int i = 0; i < payload.length; i++) {
        payload[i] = (byte) (i * 7);
      }
      bed.peer().sendUdp(bed.hostNode().address(), 1234, 9000, payload);
      Datagram d = sink.receive(NOW);
      assertNotNull(d);
      assertArrayEquals(payload, d.payload());
      assertEquals(1234, d.sourcePort());
      assertEquals(2, d.interfaceIndex(), "arrived on eth0");
      List<byte[]> frames = wire.packets();
      assertEquals(3, frames.size());
      int[] offsets =
          frames.stream().mapToInt(f -> (((f[6] & 0x1f) << 8) | (f[7] & 0xff)) * 8).toArray();
      assertArrayEquals(new int[] {0, 1480, 2960}, offsets);
    }
  }

  @Test
  void theHostForwardsBetweenItsPeersAndRefragmentsToTheSmallerMtu() throws Exception {
    try (TestBed bed = bed(true);
        UdpEndpoint sink = bed.farPeer().orElseThrow().openUdp(53);
        PacketCapture wire = bed.farPeer().orElseThrow().capture()) {
      bed.peer().sendUdp(bed.farPeer().orElseThrow().address(), 5000, 53, new byte[1472]);
      assertEquals(1472, sink.receive(NOW).payload().length);
      List<byte[]> frames = wire.packets();
      assertEquals(2, frames.size(), "1500 bytes re-fragmented to MTU 1400");
      assertEquals(63, frames.get(0)[8] & 0xff, "TTL decremented by the router");
      assertTrue(bed.peer().ping(bed.farPeer().orElseThrow().address(), 56, NOW));
    }
  }

  @Test
  void rawSendsAreNotFragmented() throws Exception {
    try (TestBed bed = bed(false)) {
      ByteBuffer big =
          org.divert4j.packet.Ipv4Builder.udp(1, 2)
              .source(Ipv4.toInt(bed.peer().address()))
              .destination(Ipv4.toInt(bed.hostNode().address()))
              .payload(new byte[1500])
              .build();
      IOException e = assertThrows(IOException.class, () -> bed.peer().sendRaw(big));
      assertTrue(e.getMessage().contains("Message too long"));
    }
  }

  @Test
  void udpEndpointsTimeOutAndClose() throws Exception {
    try (TestBed bed = bed(false)) {
      UdpEndpoint e = bed.hostNode().openUdp(7);
      assertNull(e.receive(NOW));
      assertThrows(IOException.class, () -> bed.hostNode().openUdp(7));
      e.close();
      assertThrows(IOException.class, () -> e.receive(NOW));
      bed.hostNode().openUdp(7).close();
    }
  }

  @Test
  void aDivertedPingIsAnsweredOnlyWhenWrittenBack() throws Exception {
    try (TestBed bed = bed(false)) {
      DivertHost host = bed.host();
      host.addRule(DivertRule.parse("input icmp port 1234"));
      try (DivertSocket s = host.bind(1234)) {
        assertFalse(bed.peer().ping(bed.hostNode().address(), 56, NOW), "taken out of the stack");
        ByteBuffer buf = ByteBuffer.allocate(65535);
        DivertAddress a = s.receive(buf, NOW);
        assertNotNull(a);
        s.send(buf.flip(), a);
        assertEquals(1, s.stats().reinjected());
      }
    }
  }

  @Test
  void theSimulationCanPretendToLackPrivileges() throws Exception {
    try (TestBed bed = bed(false)) {
      PermissionException e =
          assertThrows(
              PermissionException.class, () -> bed.openUnprivileged(HostOptions.defaults()));
      assertEquals(List.of("CAP_NET_ADMIN", "CAP_NET_RAW"), e.missing());
    }
  }
}
