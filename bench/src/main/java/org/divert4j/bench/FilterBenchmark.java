package org.divert4j.bench;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.divert4j.Direction;
import org.divert4j.DivertRule;
import org.divert4j.filter.Filter;
import org.divert4j.filter.FilterContext;
import org.divert4j.packet.Ipv4Builder;
import org.divert4j.packet.Ipv6Builder;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The reference filter evaluator (issue 14: at most 20 ns per packet for 10 terms) on 64-byte
 * packets of four kinds, {@code udp4}, {@code tcp4}, {@code udp6}, {@code tcp6} (IPv4 or IPv6, UDP
 * or TCP, in a direct buffer as the backends hand them over): a 10-term filter of the packet's
 * family that accepts it (every term evaluated: direction, protocol, ports, TTL or hop limit, a
 * destination prefix, fragment, payload length, a payload byte, length), a 1-term filter (the
 * destination port), the 10-term filter behind a first term that rejects it, and, for scale, a rule
 * of the ipchains vocabulary (protocol, destination port, source port range) on the same packet.
 * Run with {@code -prof gc} to see 0 bytes allocated per operation.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class FilterBenchmark {
  @Param({"udp4", "tcp4", "udp6", "tcp6"})
  public String packetKind;

  private ByteBuffer packet;
  private Filter tenTerms;
  private Filter oneTerm;
  private Filter rejectsFirst;
  private DivertRule rule;
  private final FilterContext context = new FilterContext().set(Direction.INBOUND, false, 2);

  /** The 10-term filter for one kind of packet; every term holds for it. */
  static String tenTerms(String kind) {
    boolean udp = kind.startsWith("udp");
    boolean v6 = kind.endsWith("6");
    String l4 = udp ? "udp" : "tcp";
    String port = udp ? "53" : "443";
    String ttl = v6 ? "ipv6.HopLimit > 1" : "ip.TTL > 1";
    String dst = v6 ? "ipv6.DstAddr == fd00::/8" : "ip.DstAddr == 10.0.0.0/8";
    return String.join(
        " and ",
        "inbound",
        l4,
        l4 + ".DstPort == " + port,
        l4 + ".SrcPort >= 1024",
        ttl,
        dst,
        "not fragment",
        l4 + ".PayloadLength > 0",
        l4 + ".Payload[0] == 0x16",
        "length <= 1500");
  }

  /** A 64-byte packet of that kind whose payload starts with 0x16 (a TLS handshake record). */
  static ByteBuffer packet(String kind) {
    boolean udp = kind.startsWith("udp");
    int port = udp ? 53 : 443;
    byte[] payload;
    ByteBuffer b;
    if (kind.endsWith("6")) {
      payload = new byte[64 - 40 - (udp ? 8 : 20)];
      payload[0] = 0x16;
      Ipv6Builder x = udp ? Ipv6Builder.udp(40000, port) : Ipv6Builder.tcp(40000, port);
      b = x.source("fd00::1").destination("fd00::2").payload(payload).build();
    } else {
      payload = new byte[64 - 20 - (udp ? 8 : 20)];
      payload[0] = 0x16;
      Ipv4Builder x = udp ? Ipv4Builder.udp(40000, port) : Ipv4Builder.tcp(40000, port);
      b = x.source("10.0.0.1").destination("10.0.0.2").payload(payload).build();
    }
    ByteBuffer d = ByteBuffer.allocateDirect(b.remaining());
    d.put(0, b, b.position(), b.remaining());
    return d;
  }

  @Setup
  public void setup() {
    packet = packet(packetKind);
    String l4 = packetKind.substring(0, 3);
    String port = l4.equals("udp") ? "53" : "443";
    tenTerms = Filter.parse(tenTerms(packetKind));
    oneTerm = Filter.parse(l4 + ".DstPort == " + port);
    rejectsFirst = Filter.parse((l4.equals("udp") ? "tcp" : "udp") + " and " + tenTerms);
    rule =
        DivertRule.parse("input -p " + l4 + " --dport " + port + " --sport 1024:65535 -j DIVERT 1");
    if (packet.limit() != 64
        || tenTerms.tests() != 10
        || !tenTerms.matches(packet, context)
        || !oneTerm.matches(packet, context)
        || rejectsFirst.matches(packet, context)
        || !rule.matches(packet, null, null)) {
      throw new IllegalStateException("the benchmark's filters do not decide as intended");
    }
  }

  @Benchmark
  public boolean tenTermsAccept() {
    return tenTerms.matches(packet, context);
  }

  @Benchmark
  public boolean oneTerm() {
    return oneTerm.matches(packet, context);
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
