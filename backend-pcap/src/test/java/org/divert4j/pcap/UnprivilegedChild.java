package org.divert4j.pcap;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.divert4j.DivertHost;
import org.divert4j.HostOptions;
import org.divert4j.linux.testbed.UnprivilegedJava;
import org.divert4j.packet.Ipv4Builder;

/**
 * Run by {@link UnprivilegedUserTest} in a child JVM as a real unprivileged user: opens an inline
 * pcap host on the two interfaces named by its arguments (needs CAP_NET_RAW), and a savefile replay
 * (needs nothing), and prints one line per operation, {@code OP <name> -> ...}.
 */
public final class UnprivilegedChild {
  private UnprivilegedChild() {}

  public static void main(String[] args) throws Exception {
    op(
        "open-inline",
        () ->
            new PcapProvider()
                .open(
                    HostOptions.builder()
                        .property(PcapProvider.OUTSIDE, args[0])
                        .property(PcapProvider.INSIDE, args[1])
                        .build()));
    Path dir = Path.of(System.getProperty("java.io.tmpdir"));
    Path in = dir.resolve("in.pcap");
    Files.write(in, onePacketCapture());
    op(
        "open-replay",
        () -> {
          try (DivertHost h =
              new PcapProvider()
                  .open(
                      HostOptions.builder()
                          .property(PcapProvider.INPUT, in.toString())
                          .property(PcapProvider.OUTPUT, dir.resolve("out.pcap").toString())
                          .property(PcapProvider.START, "open")
                          .build())) {
            PcapReplay r = PcapReplay.of(h);
            r.awaitFinished(Duration.ofSeconds(20));
            return "read " + r.packetsRead() + " written " + r.packetsWritten();
          }
        });
    op("availability", () -> new PcapProvider().availability());
    System.out.flush();
  }

  /** A little-endian microsecond pcap file, raw IP, holding one UDP datagram. */
  static byte[] onePacketCapture() {
    ByteBuffer p = Ipv4Builder.udp(1, 2).source("10.0.0.1").destination("10.0.0.2").build();
    ByteBuffer f = ByteBuffer.allocate(24 + 16 + p.remaining()).order(ByteOrder.LITTLE_ENDIAN);
    f.putInt(0xa1b2c3d4).putShort((short) 2).putShort((short) 4).putInt(0).putInt(0);
    f.putInt(65535).putInt(101); // LINKTYPE_RAW
    f.putInt(1).putInt(0).putInt(p.remaining()).putInt(p.remaining());
    f.put(p);
    return f.array();
  }

  private static void op(String name, UnprivilegedJava.Operation c) {
    UnprivilegedJava.report(name, c);
  }
}
