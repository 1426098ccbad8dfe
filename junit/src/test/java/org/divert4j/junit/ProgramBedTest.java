package org.divert4j.junit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.packet.Ipv4View;
import org.divert4j.testbed.Datagram;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestNode;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.Test;

/**
 * The extension as a user's test sees it, on the backend named by divert.backend: the pom runs it
 * on sim and, as root, on rawsocket.
 */
@DivertTestBed
class ProgramBedTest {
  private static final int DIVERT_PORT = 4321;
  private static final int SINK = 7000;
  private static final Duration WAIT = Duration.ofSeconds(5);

  @Test
  void parametersAreTheHostAndNodesOfOneTestBed(
      TestBed bed, DivertHost host, @Peer TestNode peer, @HostNode TestNode node) {
    assertSame(bed.host(), host);
    assertSame(bed.peer(), peer);
    assertSame(bed.hostNode(), node);
    assertTrue(host.isOpen());
    assertEquals(System.getProperty("divert.backend", "sim"), bed.backend());
  }

  @Test
  void aProgramSeesEachDivertedDatagramAndWritesItBack(
      TestBed bed, @Peer TestNode peer, @HostNode TestNode node) throws Exception {
    DivertSocket socket = bed.host().bind(DIVERT_PORT);
    bed.host()
        .addRule(DivertRule.parse("input -p udp --dport " + SINK + " -j DIVERT " + DIVERT_PORT));
    AtomicInteger seen = new AtomicInteger();
    try (UdpEndpoint sink = node.openUdp(SINK);
        DivertProgram program =
            DivertProgram.loop(socket, 16, batch -> seen.addAndGet(batch.size()))) {
      for (int i = 0; i < 3; i++) {
        peer.sendUdp(
            node.address(), 40000, SINK, ("datagram " + i).getBytes(StandardCharsets.UTF_8));
        Datagram d = sink.receive(WAIT);
        assertNotNull(d, "datagram " + i + " was written back and arrived");
        assertEquals("datagram " + i, new String(d.payload(), StandardCharsets.UTF_8));
      }
      assertTrue(program.isRunning());
    }
    assertEquals(3, seen.get());
    assertFalse(socket.isOpen(), "stopping the program closed its socket");
    assertEquals(3, socket.stats().received());
    assertEquals(3, socket.stats().reinjected());
  }

  @Test
  void whatTheProgramDropsGoesNoFurther(TestBed bed, @Peer TestNode peer, @HostNode TestNode node)
      throws Exception {
    DivertSocket socket = bed.host().bind(DIVERT_PORT);
    bed.host()
        .addRule(DivertRule.parse("input -p udp --dport " + SINK + " -j DIVERT " + DIVERT_PORT));
    Ipv4View ip = new Ipv4View();
    try (UdpEndpoint sink = node.openUdp(SINK);
        DivertProgram program =
            DivertProgram.loop(
                socket,
                16,
                batch -> {
                  for (int i = 0; i < batch.size(); i++) {
                    ByteBuffer p = batch.packet(i);
                    ip.wrap(p);
                    // the UDP payload starts 8 bytes after the IP header
                    if (p.get(p.position() + ip.headerLength() + 8) == 'd') {
                      batch.drop(i);
                    }
                  }
                })) {
      peer.sendUdp(node.address(), 40000, SINK, "drop me".getBytes(StandardCharsets.UTF_8));
      peer.sendUdp(node.address(), 40000, SINK, "keep me".getBytes(StandardCharsets.UTF_8));
      Datagram kept = sink.receive(WAIT);
      assertNotNull(kept, "the second datagram was written back");
      assertEquals("keep me", new String(kept.payload(), StandardCharsets.UTF_8));
      // The program gave its verdict on the first before the second: it is gone for good.
      assertNull(sink.receive(bed.settleTime()), "the dropped datagram arrived");
    }
    assertEquals(2, socket.stats().received());
    assertEquals(1, socket.stats().reinjected());
  }
}
