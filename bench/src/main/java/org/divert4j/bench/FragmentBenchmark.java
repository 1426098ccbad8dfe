package org.divert4j.bench;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.divert4j.DivertException;
import org.divert4j.packet.FragmentSink;
import org.divert4j.packet.Fragmenter;
import org.divert4j.packet.Ipv4Builder;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Fragmenting a UDP datagram of 4000 or 65535 bytes to MTU 1500 (3 and 45 fragments): the reusable,
 * allocation-free path a backend uses (S23, S29), and the static one that returns new buffers.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class FragmentBenchmark {
  @Param({"4000", "65535"})
  public int size;

  private ByteBuffer datagram;
  private final Fragmenter fragmenter = new Fragmenter();
  private FragmentSink sink;

  @Setup
  public void setup(Blackhole bh) {
    datagram =
        Ipv4Builder.udp(5000, 9)
            .source("10.0.0.1")
            .destination("10.0.0.2")
            .identification(42)
            .payloadLength(size - 28)
            .build();
    // A sink that touches each fragment as a send would, without copying it.
    sink = f -> bh.consume(f.get(f.limit() - 1));
  }

  @Benchmark
  public int fragmentToMtu1500() throws DivertException {
    return fragmenter.fragment(datagram, 1500, sink);
  }

  @Benchmark
  public List<ByteBuffer> fragmentToNewBuffers() throws DivertException {
    return Fragmenter.fragment(datagram, 1500);
  }
}
