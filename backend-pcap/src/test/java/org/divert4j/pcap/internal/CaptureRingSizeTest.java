package org.divert4j.pcap.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import org.divert4j.linux.NetnsThread;
import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.linux.testbed.VethPair;
import org.divert4j.pcap.PcapProvider;
import org.junit.jupiter.api.Test;

/**
 * A live capture's kernel ring holds a burst of MTU-sized frames however the interface's offloads
 * are set: the inline segment must not lose, at its own capture, a burst that its buffer size
 * promises to hold (S24, S50: with offloads on, libpcap sized each ring frame for 64 KiB and a 4
 * MiB buffer held 63 frames).
 */
class CaptureRingSizeTest {
  private static final int BUFFER = 4 << 20;
  private static final int FRAMES = 300;
  private static final int FRAME_BYTES = 1514;

  @Test
  void aBurstOfMtuFramesFitsTheBufferWithOffloadsOn() throws Exception {
    assumeTrue(Shell.isRoot(), "needs root (a network namespace)");
    assumeTrue(new PcapProvider().availability().available(), "pcap unavailable");
    try (Netns ns = Netns.create(Netns.uniqueName("ring"))) {
      // No IPv6 (its router and listener solicitations would join the burst; the filter below
      // keeps only the test's frames anyway). A veth pair as created, offloads (TSO, GSO) left
      // on, as on a user's system.
      ns.sysctl("net.ipv6.conf.all.disable_ipv6", "1");
      ns.sysctl("net.ipv6.conf.default.disable_ipv6", "1");
      VethPair.create(ns, "snd0", ns, "rcv0", 1500);
      try (NetnsThread t = NetnsThread.open(ns.path().toString(), "ring")) {
        t.run(
            () -> {
              try (CaptureHandle rx =
                      Pcap.openLive("rcv0", Pcap.liveSnaplen(1500), BUFFER, "ether proto 0x88b5");
                  CaptureHandle tx = Pcap.openLive("snd0", Pcap.SNAPLEN, 1 << 20, null)) {
                // The burst arrives while nobody reads the capture: only the ring holds it.
                for (int i = 0; i < FRAMES; i++) {
                  ByteBuffer b = tx.sendBuffer();
                  for (int k = 0; k < FRAME_BYTES; k++) {
                    b.put(k, (byte) 0);
                  }
                  for (int k = 0; k < 6; k++) {
                    b.put(k, (byte) 0xff); // broadcast
                    b.put(6 + k, (byte) (k == 0 ? 0x02 : k));
                  }
                  b.putShort(12, (short) 0x88b5); // local experimental EtherType
                  b.putInt(14, i);
                  tx.send(FRAME_BYTES);
                }
                assertEquals(0, rx.droppedByKernel(), "frames the capture ring could not hold");
                for (int i = 0; i < FRAMES; i++) {
                  assertEquals(CaptureHandle.PACKET, rx.next(), "frame " + i);
                  assertEquals(FRAME_BYTES, rx.wireLength(), "frame " + i + " length on the wire");
                  assertEquals(FRAME_BYTES, rx.length(), "frame " + i + " captured whole");
                }
              }
              return null;
            });
      }
    }
  }
}
