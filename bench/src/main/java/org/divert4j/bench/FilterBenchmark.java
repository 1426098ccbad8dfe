package org.divert4j.bench;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.divert4j.Direction;
import org.divert4j.DivertRule;
import org.divert4j.filter.Filter;
import org.divert4j.filter.FilterContext;
import org.divert4j.packet.Ipv4Builder;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The reference filter evaluator on a 64-byte UDP packet (issue 14: at most 20 ns for 10 terms): a
 * 10-term filter that accepts the packet (every term evaluated), one that rejects it at its first
 * term, and, for scale, the rule matches of the ipchains vocabulary on the same packet.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class FilterBenchmark {
  private static final String TEN_TERMS =
      "inbound and udp and udp.DstPort == 9 and udp.SrcPort >= 1024 and ip.TTL > 1"
          + " and ip.DstAddr == 10.0.0.0/8 and not fragment and udp.PayloadLength > 0"
          + " and udp.Payload[0] != 0x16 and length <= 1500";

  private ByteBuffer packet;
  private Filter tenTerms;
  private Filter rejectsFirst;
  private DivertRule rule;
  private final FilterContext context = new FilterContext().set(Direction.INBOUND, false, 2);

  @Setup
  public void setup() {
    ByteBuffer b =
        Ipv4Builder.udp(5000, 9)
            .source("10.0.0.1")
            .destination("10.0.0.2")
            .payloadLength(64 - 28)
            .build();
    packet = ByteBuffer.allocateDirect(b.remaining());
    packet.put(0, b, 0, b.remaining());
    tenTerms = Filter.parse(TEN_TERMS);
    rejectsFirst = Filter.parse("tcp and " + TEN_TERMS);
    rule = DivertRule.parse("input -p udp -d 10.0.0.0/8 --dport 9 --sport 1024:65535 -j DIVERT 1");
    if (!tenTerms.matches(packet, context) || rejectsFirst.matches(packet, context)) {
      throw new IllegalStateException("the benchmark's filters do not decide as intended");
    }
  }

  @Benchmark
  public boolean tenTermsAccept() {
    return tenTerms.matches(packet, context);
  }

  @Benchmark
  public boolean rejectAtFirstTerm() {
    return rejectsFirst.matches(packet, context);
  }

  @Benchmark
  public boolean ruleMatchesForScale() {
    return rule.matches(packet, null, null);
  }
}
