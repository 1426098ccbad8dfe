package org.divert4j.impair;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import org.divert4j.DivertRule;
import org.divert4j.packet.Checksums;
import org.divert4j.sim.SimProvider;
import org.divert4j.testbed.PacketCapture;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.Test;

/**
 * Corruption on the simulation: the host's outgoing datagrams are impaired on the output chain and
 * captured on the peer's wire, so each one's bytes can be compared with what was sent. Exactly one
 * bit of the UDP payload changes; the checksum is fixed (the peer's stack accepts the datagram) or
 * left wrong (the peer's stack drops it).
 */
class CorruptionSimTest {
  private static final int N = 500;
  private static final int PAYLOAD = 64;
  private static final int UDP_CHECKSUM = 20 + 6;

  private static void run(boolean fix) throws Exception {
    try (TestBed bed = new SimProvider().testBed(TestBedOptions.defaults());
        UdpEndpoint sink = bed.peer().openUdp(9000);
        PacketCapture wire = bed.peer().capture();
        Impairer imp =
            Impairer.builder(bed.host(), 77)
                .rule(
                    DivertRule.parse("output udp dport 9000", 77),
                    Impairment.builder().corrupt(1.0, fix).build())
                .seed(4)
                .clock(new ManualClock())
                .start()) {
      byte[][] sent = new byte[N][];
      for (int i = 0; i < N; i++) {
        byte[] payload = new byte[PAYLOAD];
        ByteBuffer.wrap(payload).putInt(i).putInt(~i);
        for (int k = 8; k < PAYLOAD; k++) {
          payload[k] = (byte) (i * 31 + k);
        }
        sent[i] = payload;
        bed.hostNode().sendUdp(bed.peer().address(), 40000, 9000, payload);
        imp.step(Duration.ZERO);
      }
      ImpairStats s = imp.stats();
      assertEquals(N, s.received());
      assertEquals(N, s.corrupted());
      assertEquals(N, s.sent());
      List<byte[]> frames = wire.packets();
      assertEquals(N, frames.size());
      int[] flippedAt = new int[PAYLOAD];
      for (int i = 0; i < N; i++) {
        byte[] f = frames.get(i);
        ByteBuffer b = ByteBuffer.wrap(f);
        assertEquals(fix, Checksums.isTransportValid(b, 0), "checksum valid: datagram " + i);
        int bits = 0;
        for (int k = 0; k < PAYLOAD; k++) {
          int diff = (f[28 + k] ^ sent[i][k]) & 0xff;
          bits += Integer.bitCount(diff);
          if (diff != 0) {
            flippedAt[k]++;
          }
        }
        assertEquals(1, bits, "bits changed in datagram " + i);
        // Only the payload and, when fixed, the checksum change.
        for (int k = 20; k < 28; k++) {
          if (k != UDP_CHECKSUM && k != UDP_CHECKSUM + 1) {
            assertEquals(headerByte(k), f[k], "UDP header byte " + k);
          }
        }
      }
      for (int k = 0; k < PAYLOAD; k++) {
        assertTrue(flippedAt[k] > 0, "no flip ever landed on payload byte " + k);
      }
      if (fix) {
        for (int i = 0; i < N; i++) {
          assertTrue(sink.receive(Duration.ZERO) != null, "datagram " + i + " accepted");
        }
      }
      assertNull(sink.receive(Duration.ZERO), fix ? "nothing more" : "every one dropped");
    }
  }

  private static byte headerByte(int k) {
    int v =
        switch (k) {
          case 20 -> 40000 >> 8;
          case 21 -> 40000 & 0xff;
          case 22 -> 9000 >> 8;
          case 23 -> 9000 & 0xff;
          case 24 -> (8 + PAYLOAD) >> 8;
          case 25 -> (8 + PAYLOAD) & 0xff;
          default -> throw new IllegalArgumentException("byte " + k);
        };
    return (byte) v;
  }

  @Test
  void aCorruptedDatagramWithItsChecksumFixedIsAcceptedWithOneBitChanged() throws Exception {
    run(true);
  }

  @Test
  void aCorruptedDatagramWithItsChecksumLeftWrongIsDroppedByTheReceiver() throws Exception {
    run(false);
  }
}
