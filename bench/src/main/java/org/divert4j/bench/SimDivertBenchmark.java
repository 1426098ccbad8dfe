package org.divert4j.bench;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.HostOptions;
import org.divert4j.PacketBatch;
import org.divert4j.packet.Ipv4Builder;
import org.divert4j.sim.SimNetwork;
import org.divert4j.sim.SimNode;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Packets per second through a divert-and-reinject loop on a simulated host, on one thread (issue 3
 * and target 6 of issue 7), next to a plain in-memory copy of the same packets (the baseline: what
 * moving the bytes in and out of a batch costs without any stack).
 *
 * <p>Each operation: a 64-byte-payload UDP packet arrives on the host's eth0 (header checks), the
 * input rule diverts it into the socket's queue, the program receives it in a batch of {@value
 * #BATCH}, writes the batch back (validation, header fix-ups, resume after the rule), and the
 * host's stack delivers it (UDP checksum check). Run: {@code java -jar bench/target/benchmarks.jar
 * SimDivert -prof gc}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class SimDivertBenchmark {
  static final int BATCH = 64;

  private ByteBuffer[] packets;
  private ByteBuffer[] copies;
  private SimNode host;
  private DivertHost divert;
  private DivertSocket socket;
  private PacketBatch batch;

  @Setup(Level.Trial)
  public void setup() throws Exception {
    SimNetwork net = new SimNetwork();
    SimNode peer = net.addNode("peer", HostOptions.defaults());
    host = net.addNode("host", HostOptions.defaults());
    net.link(peer, "10.0.1.2/24", host, "10.0.1.1/24", 1500);
    divert = host.openHost(HostOptions.builder().queueLength(4 * BATCH).build());
    divert.addRule(DivertRule.parse("input udp port 1"));
    socket = divert.bind(1);
    batch = PacketBatch.allocate(BATCH, 2048, false);
    packets = new ByteBuffer[BATCH];
    copies = new ByteBuffer[BATCH];
    for (int i = 0; i < BATCH; i++) {
      packets[i] =
          Ipv4Builder.udp(40000 + i, 9)
              .source("10.0.1.2")
              .destination("10.0.1.1")
              .identification(i + 1)
              .payloadLength(64)
              .build();
      copies[i] = ByteBuffer.allocate(2048);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    socket.close();
    divert.close();
  }

  /** Divert every packet and write it back unchanged. */
  @Benchmark
  @OperationsPerInvocation(BATCH)
  public int divertAndReinject() throws Exception {
    for (int i = 0; i < BATCH; i++) {
      host.receiveFrame(packets[i], "eth0");
    }
    int n = socket.receive(batch, Duration.ZERO);
    if (n != BATCH) {
      throw new IllegalStateException("received " + n + " of " + BATCH);
    }
    return socket.send(batch);
  }

  /** The same bytes copied into batch slots and back out, with no stack at all. */
  @Benchmark
  @OperationsPerInvocation(BATCH)
  public int copyBaseline() {
    int sum = 0;
    for (int i = 0; i < BATCH; i++) {
      ByteBuffer slot = copies[i];
      ByteBuffer p = packets[i];
      slot.clear();
      slot.put(0, p, 0, p.remaining());
      slot.limit(p.remaining());
      sum += slot.get(9);
    }
    return sum;
  }
}
