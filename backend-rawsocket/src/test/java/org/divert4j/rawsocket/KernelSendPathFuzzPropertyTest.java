package org.divert4j.rawsocket;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.lifecycle.AddLifecycleHook;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.PropagationMode;
import net.jqwik.api.statistics.Statistics;
import org.divert4j.AddressNotAvailableException;
import org.divert4j.DivertAddress;
import org.divert4j.DivertException;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.Ipv4;
import org.divert4j.MalformedPacketException;
import org.divert4j.NoRouteException;
import org.divert4j.PacketBatch;
import org.divert4j.PacketTooLargeException;
import org.divert4j.fuzz.FuzzRun;
import org.divert4j.fuzz.Mutants;
import org.divert4j.packet.Ipv4View;
import org.divert4j.packet.Ipv6View;
import org.divert4j.testbed.Datagram;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.UdpEndpoint;

/**
 * The kernel backend's send path with mutated packets ({@link Mutants}), in the test bed's
 * namespaces: injected outbound, inbound on the host's address or a foreign one, one at a time and
 * in batches. Every send succeeds or throws (or, in a batch, records) one of the typed errors
 * {@link DivertSocket#send} documents, and a MalformedPacketException names the defect {@link
 * Ipv4View#checkForSend()} finds ({@link Ipv6View#checkForSend()} for a version-6 mutant); never
 * another exception or a raw errno. Every 200 tries a legitimate datagram still crosses the host.
 * Root only. Tries: 2,000 in the short run, 250,000 with {@code -Ddivert.reliability=long}.
 */
@AddLifecycleHook(value = FuzzRun.class, propagateTo = PropagationMode.DIRECT_DESCENDANTS)
class KernelSendPathFuzzPropertyTest {
  private static TestBed bed;
  private static DivertSocket socket;
  private static UdpEndpoint sink;
  private static long tries;

  private static void open() throws Exception {
    Root.assumeKernel();
    if (bed == null) {
      bed = new RawSocketProvider().testBed(TestBedOptions.defaults());
      socket = bed.host().bind(1234);
      bed.host().addRule(DivertRule.parse("input -p udp --dport 7000 -j DIVERT 1234"));
      sink = bed.hostNode().openUdp(7000);
    }
  }

  @AfterContainer
  static void close() {
    if (bed != null) {
      bed.close();
      bed = null;
    }
  }

  /** Root and a usable kernel backend, else why not. */
  static final class KernelUsable implements java.util.function.Supplier<String> {
    @Override
    public String get() {
      if (!org.divert4j.linux.Shell.isRoot()) {
        return "needs root (CAP_NET_ADMIN, CAP_NET_RAW)";
      }
      var a = new RawSocketProvider().availability();
      return a.available() ? null : "rawsocket unavailable: " + a.reason();
    }
  }

  @Property
  @FuzzRun.Tries(shortRun = 2_000, longRun = 250_000)
  @FuzzRun.Requires(KernelUsable.class)
  void everyKernelSendSucceedsOrThrowsADocumentedError(@ForAll long seed) throws Exception {
    open();
    Random r = new Random(seed);
    int host = Ipv4.toInt(bed.hostNode().address());
    int peer = Ipv4.toInt(bed.peer().address());
    int n = r.nextInt(4) == 0 ? 1 + r.nextInt(4) : 1;
    PacketBatch batch = n > 1 ? PacketBatch.allocate(n) : null;
    for (int k = 0; k < n; k++) {
      Mutants.Mutant m = Mutants.make(r);
      ByteBuffer p = m.packet();
      if (p.remaining() >= 20 && r.nextInt(5) != 0) {
        new Ipv4View().wrap(p).setDestination(r.nextBoolean() ? peer : host);
        // never the sink's port: the program decides what reaches it
        if (p.remaining() >= 24 + 4) {
          p.put(p.position() + 20 + 2, (byte) 0);
        }
      }
      DivertAddress a =
          switch (r.nextInt(3)) {
            case 0 -> DivertAddress.OUTBOUND;
            case 1 -> DivertAddress.inbound(bed.hostNode().address());
            default -> DivertAddress.inbound(Ipv4.parse("10.255.255.254"));
          };
      byte[] before = Mutants.bytes(p);
      if (batch != null) {
        if (p.remaining() > PacketBatch.MAX_PACKET) {
          // documented: PacketBatch.add refuses what no slot can hold (S31 for single sends)
          try {
            batch.add(p, a);
            fail("a batch slot took " + p.remaining() + " bytes");
          } catch (IllegalArgumentException e) {
            Statistics.label("outcome").collect("too large for a slot (batch)");
          }
          continue;
        }
        batch.add(p, a);
        continue;
      }
      String outcome;
      try {
        socket.send(p, a);
        outcome = "sent";
      } catch (DivertException e) {
        outcome = documented(e, before, a);
      } catch (RuntimeException e) {
        fail("not a documented send error: " + e + " for " + m, e);
        return;
      }
      Statistics.label("outcome").collect(outcome);
    }
    if (batch != null) {
      socket.send(batch);
      for (int i = 0; i < batch.size(); i++) {
        DivertException e = batch.error(i);
        Statistics.label("outcome")
            .collect(
                e == null
                    ? "sent (batch)"
                    : documented(e, Mutants.bytes(batch.packet(i)), batch.address(i)) + " (batch)");
      }
    }
    FuzzRun.inputs(n);
    drain();
    if (++tries % 200 == 0) {
      stillWorks(r);
    }
  }

  private static String documented(DivertException e, byte[] packet, DivertAddress a) {
    if (e instanceof MalformedPacketException mp) {
      // S54: the version nibble says which family's checks name the defect (S47, S62)
      ByteBuffer b = ByteBuffer.wrap(packet);
      assertEquals(
          packet.length > 0 && (packet[0] & 0xf0) == 0x60
              ? new Ipv6View().wrap(b).checkForSend()
              : new Ipv4View().wrap(b).checkForSend(),
          mp.defect(),
          "" + e);
      return "malformed";
    }
    if (e instanceof PacketTooLargeException) {
      return "too large";
    }
    if (e instanceof NoRouteException) {
      return "no route";
    }
    if (e instanceof AddressNotAvailableException) {
      assertEquals("10.255.255.254", a.interfaceAddress().getHostAddress(), "" + e);
      return "address";
    }
    fail("not a documented send error: " + e, e);
    return null;
  }

  private static void drain() throws Exception {
    ByteBuffer b = ByteBuffer.allocateDirect(65535);
    DivertAddress a;
    while ((a = socket.receive(b.clear(), Duration.ZERO)) != null) {
      socket.drop(a);
    }
    while (sink.receive(Duration.ZERO) != null) {
      // nothing but the checks' datagrams is expected; they are read in stillWorks
    }
  }

  private static void stillWorks(Random r) throws Exception {
    byte[] payload = new byte[1 + r.nextInt(1400)];
    r.nextBytes(payload);
    bed.peer().sendUdp(bed.hostNode().address(), 5000, 7000, payload);
    ByteBuffer b = ByteBuffer.allocateDirect(65535);
    DivertAddress a = socket.receive(b, Duration.ofSeconds(3));
    assertNotNull(a, "diverted after " + tries + " fuzzed sends");
    socket.send(b.flip(), a);
    Datagram d = sink.receive(Duration.ofSeconds(3));
    assertNotNull(d, "delivered after " + tries + " fuzzed sends");
    assertArrayEquals(payload, d.payload());
  }
}
