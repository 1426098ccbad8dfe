package org.divert4j.impair;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.Capability;
import org.divert4j.DivertRule;
import org.divert4j.HostOptions;
import org.divert4j.sim.SimProvider;
import org.divert4j.testbed.Datagram;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.UdpEndpoint;

/**
 * The simulation's test bed with an impairer on the host, driven from the test's thread on a {@link
 * ManualClock} advanced together with the test bed's virtual clock: every outcome is exact for a
 * seed. The peer sends numbered UDP datagrams to the host's port 9000, where a sink collects them
 * with the virtual time they arrived.
 */
final class SimRig implements AutoCloseable {
  static final int PORT = 77;
  static final int SINK = 9000;

  /** A datagram as it arrived: its number, when it was sent and arrived (ns), its payload. */
  record Arrival(int seq, long sentAt, long arrivedAt, byte[] payload) {
    long delay() {
      return arrivedAt - sentAt;
    }
  }

  final TestBed bed;
  final ManualClock clock = new ManualClock();
  final Impairer impairer;
  final UdpEndpoint sink;
  final List<Arrival> arrivals = new ArrayList<>();

  SimRig(String rule, Impairment impairment, long seed) throws Exception {
    bed =
        new SimProvider()
            .testBed(
                TestBedOptions.builder()
                    .host(
                        HostOptions.builder()
                            .queueLength(65535)
                            .holdTimeout(
                                Impairer.requiredHoldTimeout(List.of(impairment)).plusSeconds(1))
                            .build())
                    .build());
    if (!bed.capabilities().contains(Capability.VIRTUAL_TIME)) {
      throw new IllegalStateException("the simulation has no virtual clock");
    }
    try {
      impairer =
          Impairer.builder(bed.host(), PORT)
              .rule(DivertRule.parse(rule, PORT), impairment)
              .seed(seed)
              .clock(clock)
              .start();
      sink = bed.hostNode().openUdp(SINK);
    } catch (Exception e) {
      bed.close();
      throw e;
    }
  }

  /** Sends datagram {@code seq} with {@code extra} payload bytes from the peer, and steps. */
  void send(int seq, int extra) throws Exception {
    ByteBuffer b = ByteBuffer.allocate(12 + extra);
    b.putInt(seq).putLong(clock.nanos());
    bed.peer().sendUdp(bed.hostNode().address(), 40000, SINK, b.array());
    impairer.step(Duration.ZERO);
    drain();
  }

  /** Lets {@code d} of virtual time pass, in one step, and collects what arrived. */
  void tick(Duration d) throws Exception {
    clock.advance(d);
    bed.advance(d);
    impairer.step(Duration.ZERO);
    drain();
  }

  private void drain() throws Exception {
    Datagram d;
    while ((d = sink.receive(Duration.ZERO)) != null) {
      ByteBuffer b = ByteBuffer.wrap(d.payload());
      arrivals.add(new Arrival(b.getInt(), b.getLong(), clock.nanos(), d.payload()));
    }
  }

  @Override
  public void close() {
    impairer.close();
    sink.close();
    bed.close();
  }
}
