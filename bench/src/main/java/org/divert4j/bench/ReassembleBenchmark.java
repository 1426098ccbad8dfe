package org.divert4j.bench;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.divert4j.DivertException;
import org.divert4j.packet.Fragmenter;
import org.divert4j.packet.Ipv4Builder;
import org.divert4j.packet.Reassembler;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Reassembling a 4000- or 65535-byte datagram from its MTU-1500 fragments, arriving in order or
 * reversed: one operation offers every fragment and returns the whole datagram (S21).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class ReassembleBenchmark {
  @Param({"4000", "65535"})
  public int size;

  @Param({"inOrder", "reversed"})
  public String order;

  private ByteBuffer[] fragments;
  private Reassembler reassembler;

  @Setup
  public void setup() throws DivertException {
    ByteBuffer d =
        Ipv4Builder.udp(5000, 9)
            .source("10.0.0.1")
            .destination("10.0.0.2")
            .identification(42)
            .payloadLength(size - 28)
            .build();
    List<ByteBuffer> fs = new ArrayList<>(Fragmenter.fragment(d, 1500));
    if ("reversed".equals(order)) {
      Collections.reverse(fs);
    }
    fragments = fs.toArray(new ByteBuffer[0]);
    reassembler = new Reassembler(4L << 20, 1024, 30_000_000_000L, System::nanoTime);
  }

  @Benchmark
  public ByteBuffer reassemble() {
    ByteBuffer out = null;
    for (ByteBuffer f : fragments) {
      out = reassembler.offer(f);
    }
    if (out == null) {
      throw new IllegalStateException("not reassembled: " + reassembler);
    }
    return out;
  }
}
