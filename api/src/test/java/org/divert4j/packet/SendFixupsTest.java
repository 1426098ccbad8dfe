package org.divert4j.packet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SendFixupsTest {
  /** A 60-byte UDP datagram with DF set, ID 0, total length 0 and a wrong checksum. */
  private static ByteBuffer broken(ByteOrder order) {
    ByteBuffer b = ByteBuffer.allocateDirect(128).order(order);
    Ipv4Builder.udp(1, 2)
        .source(0x0a000001)
        .destination(0x0a000002)
        .dontFragment(true)
        .payloadLength(32)
        .writeTo(b, 0);
    b.put(2, (byte) 0).put(3, (byte) 0).put(4, (byte) 0).put(5, (byte) 0);
    b.put(10, (byte) 0xbe).put(11, (byte) 0xef);
    return b;
  }

  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void fixesLengthIdAndChecksumInEitherByteOrder(boolean little) {
    ByteBuffer b = broken(little ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN);
    AtomicInteger calls = new AtomicInteger();
    Ipv4View v = new Ipv4View().wrap(b, 0, 60);
    SendFixups.apply(v, () -> 0x1000 + calls.incrementAndGet());
    assertEquals(60, v.totalLength(), "S40: total length = bytes written");
    assertEquals(0x1001, v.identification(), "S39: ID 0 replaced, also with DF");
    assertTrue(v.dontFragment(), "S41: flags unchanged");
    assertTrue(Checksums.isIpv4HeaderValid(b, 0), "S38: checksum recomputed");
    SendFixups.apply(v, () -> 0x1000 + calls.incrementAndGet());
    assertEquals(0x1001, v.identification(), "a non-zero ID is kept");
    assertEquals(1, calls.get(), "no ID is taken when none is needed");
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 0x10000})
  void aZeroIdFromTheSourceIsNeverWritten(int given) {
    ByteBuffer b = broken(ByteOrder.BIG_ENDIAN);
    Ipv4View v = SendFixups.apply(new Ipv4View().wrap(b, 0, 60), () -> given);
    assertEquals(1, v.identification(), "S39: the ID written is never 0");
  }

  @Test
  void ipv6SetsThePayloadLengthAndNothingElse() {
    ByteBuffer p =
        Ipv6Builder.udp(1, 2)
            .trafficClass(0xb8)
            .flowLabel(0x12345)
            .hopLimit(3)
            .hopByHop(new byte[6])
            .fragmentHeader(0, true, 77)
            .payloadLength(16)
            .build();
    byte[] before = TestPackets.bytes(p);
    p.put(4, (byte) 0x12).put(5, (byte) 0x34); // a wrong payload length
    Ipv6View v = SendFixups.apply(new Ipv6View().wrap(p));
    assertEquals(p.remaining() - 40, v.payloadLength(), "S61: bytes written minus 40");
    assertArrayEquals(before, TestPackets.bytes(p), "S61: nothing else changes");
  }

  @Test
  void theVersionNibbleChoosesTheFamily() {
    ByteBuffer six = ByteBuffer.allocate(100).position(10);
    Ipv6Builder.icmpv6EchoRequest(1, 1).payloadLength(12).writeTo(six);
    six.put(14, (byte) 0).put(15, (byte) 0);
    ByteBuffer four = broken(ByteOrder.BIG_ENDIAN);
    Ipv4View v4 = new Ipv4View();
    Ipv6View v6 = new Ipv6View();
    AtomicInteger ids = new AtomicInteger(0x4000);
    assertEquals(6, SendFixups.apply(six, 10, 60, v4, v6, ids::incrementAndGet));
    assertEquals(20, Bytes.u16(six, 14));
    assertEquals(0x4000, ids.get(), "no IPv4 ID is taken for IPv6");
    assertEquals(4, SendFixups.apply(four, 0, 60, v4, v6, ids::incrementAndGet));
    assertEquals(60, v4.totalLength());
    assertTrue(Checksums.isIpv4HeaderValid(four, 0));
    ByteBuffer other = ByteBuffer.allocate(40).put(0, (byte) 0x50);
    assertEquals(5, SendFixups.apply(other, 0, 40, v4, v6, ids::incrementAndGet));
    assertEquals(0x50, other.get(0));
    assertArrayEquals(new byte[39], Arrays.copyOfRange(other.array(), 1, 40), "left alone");
    assertEquals(-1, SendFixups.apply(other, 0, 0, v4, v6, ids::incrementAndGet));
  }
}
