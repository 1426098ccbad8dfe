package org.divert4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.divert4j.Ipv4;
import org.divert4j.linux.Shell;
import org.divert4j.packet.Ipv4Builder;
import org.divert4j.packet.Ipv6Builder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PcapWriterTest {
  @Test
  void writesTheClassicHeaderAndOneRecordPerPacket() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    ByteBuffer packet = ByteBuffer.wrap(new byte[] {0x45, 0, 0, 5, 9});
    packet.position(0);
    try (PcapWriter w = new PcapWriter(bytes)) {
      w.write(packet, 1_700_000_000_123_456L);
      assertEquals(1, w.records());
    }
    assertEquals(0, packet.position(), "the packet is not consumed");
    ByteBuffer b = ByteBuffer.wrap(bytes.toByteArray()).order(ByteOrder.LITTLE_ENDIAN);
    assertEquals(24 + 16 + 5, b.limit());
    assertEquals(0xa1b2c3d4, b.getInt(0));
    assertEquals(2, b.getShort(4));
    assertEquals(4, b.getShort(6));
    assertEquals(65535, b.getInt(16));
    assertEquals(101, b.getInt(20), "LINKTYPE_RAW");
    assertEquals(1_700_000_000, b.getInt(24));
    assertEquals(123_456, b.getInt(28));
    assertEquals(5, b.getInt(32));
    assertEquals(5, b.getInt(36));
    byte[] data = new byte[5];
    b.get(40, data);
    assertArrayEquals(new byte[] {0x45, 0, 0, 5, 9}, data);
  }

  @Test
  void wiresharkDecodesBothFamilies(@TempDir Path dir) throws Exception {
    assumeTrue(Shell.which("tshark").isPresent(), "tshark is not installed (test.sh installs it)");
    Path file = dir.resolve("both.pcap");
    try (OutputStream out = Files.newOutputStream(file);
        PcapWriter w = new PcapWriter(out)) {
      w.write(
          Ipv4Builder.udp(1000, 53)
              .source(Ipv4.parseInt("10.0.1.2"))
              .destination(Ipv4.parseInt("10.0.1.1"))
              .payload(new byte[4])
              .build(),
          1L);
      w.write(
          Ipv6Builder.udp(1000, 5353)
              .source("fd00:1::2")
              .destination("fd00:1::1")
              .fragmentHeader(0, false, 5)
              .payload(new byte[4])
              .build(),
          2L);
    }
    Shell.Result r =
        Shell.run(
            null,
            Duration.ofSeconds(60),
            List.of(
                "tshark",
                "-n",
                "-r",
                file.toString(),
                "-T",
                "fields",
                "-e",
                "ip.version",
                "-e",
                "ipv6.dst",
                "-e",
                "udp.dstport",
                "-E",
                "separator=,"));
    assertTrue(r.ok(), r.describe());
    assertEquals(
        List.of("4,,53", "6,fd00:1::1,5353"), r.stdout().lines().map(String::strip).toList());
  }
}
