package org.divert4j.packet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicInteger;
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
}
