package org.divert4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import org.divert4j.packet.Defect;
import org.junit.jupiter.api.Test;

class ApiValuesTest {
  @Test
  void hostOptionsDefaultsFollowTheSeed() {
    HostOptions o = HostOptions.defaults();
    assertEquals(NoListenerPolicy.DROP, o.noListener());
    assertEquals(FragmentMode.PER_FRAGMENT, o.fragments());
    assertEquals(1024, o.queueLength());
    assertEquals(Duration.ofSeconds(30), o.reassemblyTimeout());
    assertEquals(o, o.toBuilder().build());
    HostOptions p = o.toBuilder().property("rawsocket.netns", "x").failOpen(true).build();
    assertNotEquals(o, p);
    assertEquals("x", p.property("rawsocket.netns", "y"));
    assertTrue(p.toString().contains("failOpen=true"));
  }

  @Test
  void hostOptionsRejectBadValues() {
    assertThrows(IllegalArgumentException.class, () -> HostOptions.builder().queueLength(0));
    assertThrows(IllegalArgumentException.class, () -> HostOptions.builder().queueLength(65536));
    assertThrows(
        IllegalArgumentException.class,
        () -> HostOptions.builder().reassemblyTimeout(Duration.ZERO));
    assertThrows(IllegalArgumentException.class, () -> HostOptions.builder().reassemblyMemory(100));
    assertThrows(IllegalArgumentException.class, () -> HostOptions.builder().parallelism(0));
    assertThrows(
        IllegalArgumentException.class,
        () -> HostOptions.builder().holdTimeout(Duration.ofSeconds(-1)));
  }

  @Test
  void addressesCarryDirectionAndInterface() {
    DivertAddress in = DivertAddress.received(7, Chain.INPUT, "eth0", 2, 0x0A000001, 3, 99L);
    assertEquals(Direction.INBOUND, in.direction());
    assertEquals("10.0.0.1", in.interfaceAddress().getHostAddress());
    assertEquals("port 7 input in on eth0#2 10.0.0.1 rule 3", in.toString());
    DivertAddress out = DivertAddress.received(7, Chain.OUTPUT, "eth0", 2, 0x0A000001, 3, 99L);
    // S6: outbound packets carry no interface address.
    assertEquals(0, out.interfaceAddressBits());
    assertEquals("", out.interfaceName());
    assertEquals(DivertAddress.OUTBOUND, out.withoutTicket());
    assertTrue(DivertAddress.OUTBOUND.isZero());
    assertEquals(DivertAddress.OUTBOUND, DivertAddress.inbound(Ipv4.ANY));
    DivertAddress inj = in.withoutTicket();
    assertEquals(0, inj.ticket());
    assertEquals(Direction.INBOUND, inj.direction());
    assertEquals(0x0A000001, inj.interfaceAddressBits());
  }

  @Test
  void ipv4ParsingNeverLooksUpNames() {
    assertEquals(0x0A000102, Ipv4.parseInt("10.0.1.2"));
    assertEquals("255.255.255.255", Ipv4.toString(-1));
    for (String bad :
        List.of("localhost", "1.2.3", "1.2.3.4.5", "1.2.3.256", "1..2.3", "-1.2.3.4")) {
      assertThrows(IllegalArgumentException.class, () -> Ipv4.parseInt(bad), bad);
    }
  }

  @Test
  void exceptionsNameWhatIsWrong() {
    PermissionException p =
        new PermissionException("open", List.of("CAP_NET_ADMIN", "CAP_NET_RAW"), 1, null);
    assertTrue(p.getMessage().contains("CAP_NET_ADMIN and CAP_NET_RAW"));
    assertEquals(1, p.errno().getAsInt());
    PacketTooLargeException t = new PacketTooLargeException(1501, 1500, "eth0", 90);
    assertEquals(1500, t.mtu());
    assertTrue(t.getMessage().contains("1501 bytes exceeds the MTU of 1500 (eth0) (errno 90)"));
    MalformedPacketException m = new MalformedPacketException(Defect.BAD_VERSION, "version 6");
    assertEquals(Defect.BAD_VERSION, m.defect());
    assertTrue(m.getMessage().contains("IP version is not 4 (version 6)"));
    assertTrue(new DivertException("x").errno().isEmpty());
  }

  @Test
  void batchesHoldPacketsAndAddresses() {
    PacketBatch b = PacketBatch.allocate(2, 64, false);
    assertEquals(0, b.size());
    ByteBuffer p = ByteBuffer.wrap(new byte[] {1, 2, 3});
    int i = b.add(p, DivertAddress.OUTBOUND);
    assertEquals(0, p.position());
    assertEquals(3, b.packet(i).remaining());
    assertEquals(DivertAddress.OUTBOUND, b.address(i));
    assertNull(b.chain(i));
    b.drop(i);
    assertTrue(b.isDropped(i));
    b.add(p, DivertAddress.OUTBOUND);
    assertThrows(IllegalStateException.class, () -> b.add(p, DivertAddress.OUTBOUND));
    assertThrows(IndexOutOfBoundsException.class, () -> b.packet(2));
    b.clear();
    assertEquals(0, b.size());
    assertThrows(
        IllegalArgumentException.class,
        () -> b.add(ByteBuffer.allocate(65), DivertAddress.OUTBOUND));
  }
}
