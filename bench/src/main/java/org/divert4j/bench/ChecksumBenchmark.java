package org.divert4j.bench;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.divert4j.packet.Checksums;
import org.divert4j.packet.Ipv4Builder;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Checksum costs on the per-packet path: the IPv4 header checksum (every injected packet, S38) and
 * the UDP checksum of a small and of an MTU-sized datagram. {@code byteWiseUdp1500} is the obvious
 * 16-bit loop, for scale.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class ChecksumBenchmark {
  /** heap or direct buffers: backends receive into direct ones. */
  @Param({"heap", "direct"})
  public String buffer;

  private ByteBuffer header20;
  private ByteBuffer udp64;
  private ByteBuffer udp1500;

  @Setup
  public void setup() {
    header20 = copy(Ipv4Builder.raw(253).source("10.0.0.1").destination("10.0.0.2").build());
    udp64 = copy(Ipv4Builder.udp(5000, 9).payloadLength(64 - 28).build());
    udp1500 = copy(Ipv4Builder.udp(5000, 9).payloadLength(1500 - 28).build());
  }

  private ByteBuffer copy(ByteBuffer b) {
    ByteBuffer c =
        "direct".equals(buffer)
            ? ByteBuffer.allocateDirect(b.remaining())
            : ByteBuffer.allocate(b.remaining());
    c.put(0, b, 0, b.remaining());
    return c;
  }

  @Benchmark
  public int ipv4Header20() {
    return Checksums.ipv4Header(header20, 0);
  }

  @Benchmark
  public int udp64() {
    return Checksums.udp(udp64, 0);
  }

  @Benchmark
  public int udp1500() {
    return Checksums.udp(udp1500, 0);
  }

  @Benchmark
  public boolean verifyUdp1500() {
    return Checksums.isTransportValid(udp1500, 0);
  }

  @Benchmark
  public int byteWiseUdp1500() {
    ByteBuffer b = udp1500;
    int s = 0;
    for (int i = 20; i < 1500; i += 2) {
      s += (b.get(i) & 0xff) << 8 | (b.get(i + 1) & 0xff);
    }
    s = (s & 0xffff) + (s >>> 16);
    return ~((s & 0xffff) + (s >>> 16)) & 0xffff;
  }
}
