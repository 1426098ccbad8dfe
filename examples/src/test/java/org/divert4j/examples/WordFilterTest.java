package org.divert4j.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.junit.DivertProgram;
import org.divert4j.junit.DivertTestBed;
import org.divert4j.junit.HostNode;
import org.divert4j.junit.Peer;
import org.divert4j.testbed.Datagram;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestNode;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.Test;

/**
 * The filter on a test bed: on the simulation by default, on the kernel with
 * -Ddivert.backend=rawsocket (as root). The test is the same; only the backend changes.
 */
@DivertTestBed
class WordFilterTest {
  @Test
  void datagramsWithTheWordAreDroppedAndTheOthersArrive(
      TestBed bed, @Peer TestNode peer, @HostNode TestNode host) throws Exception {
    DivertSocket socket = bed.host().bind(4000);
    bed.host().addRule(DivertRule.parse("input -p udp --dport 5353 -j DIVERT 4000"));
    WordFilter filter = new WordFilter("forbidden");
    try (UdpEndpoint service = host.openUdp(5353);
        DivertProgram program = DivertProgram.loop(socket, 64, filter::filter)) {
      send(peer, host, "hello");
      send(peer, host, "a forbidden word");
      send(peer, host, "goodbye");
      assertEquals("hello", text(service.receive(Duration.ofSeconds(5))));
      assertEquals("goodbye", text(service.receive(Duration.ofSeconds(5))));
      assertNull(service.receive(bed.settleTime()), "the forbidden datagram arrived");
    }
    assertEquals(1, filter.dropped());
    assertEquals(3, socket.stats().received());
    assertEquals(2, socket.stats().reinjected());
  }

  private static void send(TestNode from, TestNode to, String text) throws Exception {
    from.sendUdp(to.address(), 40000, 5353, text.getBytes(StandardCharsets.UTF_8));
  }

  private static String text(Datagram d) {
    assertNotNull(d, "a datagram arrived");
    return new String(d.payload(), StandardCharsets.UTF_8);
  }
}
