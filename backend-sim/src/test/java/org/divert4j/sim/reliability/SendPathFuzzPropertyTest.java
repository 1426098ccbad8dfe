package org.divert4j.sim.reliability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Optional;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.lifecycle.AddLifecycleHook;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.PropagationMode;
import net.jqwik.api.statistics.Statistics;
import org.divert4j.AddressNotAvailableException;
import org.divert4j.Chain;
import org.divert4j.DivertAddress;
import org.divert4j.DivertException;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.Ipv4;
import org.divert4j.MalformedPacketException;
import org.divert4j.NoRouteException;
import org.divert4j.PacketBatch;
import org.divert4j.PacketTooLargeException;
import org.divert4j.fuzz.FuzzRun;
import org.divert4j.fuzz.Mutants;
import org.divert4j.packet.Defect;
import org.divert4j.packet.Ipv4View;
import org.divert4j.packet.Ipv6View;
import org.divert4j.sim.SimProvider;
import org.divert4j.testbed.Datagram;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.UdpEndpoint;

/**
 * Fuzzing of the engine's send path (DivertEngine through the simulation's {@link DivertSocket}):
 * mutated packets ({@link Mutants}) are injected outbound, injected inbound on a local or a foreign
 * address, or written back in place of a diverted packet, alone or in a batch of two to four
 * ({@link DivertSocket#send(PacketBatch)}), in both fragment modes, with the rules diverting UDP at
 * input and ICMP at output. Every send either succeeds or throws one of the typed errors {@link
 * DivertSocket#send} documents, a MalformedPacketException names the defect {@link
 * Ipv4View#checkForSend()} finds ({@link Ipv6View#checkForSend()} for a version-6 mutant), and the
 * host keeps working: after every try the queue is drained, and a legitimate datagram still crosses
 * it. Tries: 10,000 in the short run, 250,000 with {@code -Ddivert.reliability=long}.
 */
@AddLifecycleHook(value = FuzzRun.class, propagateTo = PropagationMode.DIRECT_DESCENDANTS)
class SendPathFuzzPropertyTest {
  private static final int PORT = 1234;
  private static final Bed[] BEDS = new Bed[2];

  /** A test bed with a divert socket and a UDP sink on the host, reused by the tries. */
  private static final class Bed {
    final TestBed bed;
    final DivertSocket socket;
    final UdpEndpoint sink;
    final ByteBuffer rx = ByteBuffer.allocate(65535);
    long checks;

    Bed(FragmentMode mode) throws Exception {
      bed =
          new SimProvider()
              .testBed(
                  TestBedOptions.builder()
                      .host(HostOptions.builder().fragments(mode).build())
                      .farPeer(true)
                      .build());
      socket = bed.host().bind(PORT);
      bed.host().addRule(DivertRule.parse("input -p udp -j DIVERT " + PORT));
      bed.host().addRule(DivertRule.parse("output -p icmp -j DIVERT " + PORT));
      sink = bed.hostNode().openUdp(7000);
    }
  }

  private static Bed bed(FragmentMode mode) throws Exception {
    int i = mode.ordinal() % 2;
    if (BEDS[i] == null) {
      BEDS[i] = new Bed(mode);
    }
    return BEDS[i];
  }

  @AfterContainer
  static void closeBeds() {
    for (int i = 0; i < BEDS.length; i++) {
      if (BEDS[i] != null) {
        BEDS[i].bed.close();
        BEDS[i] = null;
      }
    }
  }

  @Property
  @FuzzRun.Tries(shortRun = 10_000, longRun = 250_000)
  void everySendSucceedsOrThrowsADocumentedError(@ForAll long seed) throws Exception {
    Random r = new Random(seed);
    FragmentMode mode =
        r.nextBoolean() ? FragmentMode.PER_FRAGMENT : FragmentMode.ALWAYS_DEFRAGMENT;
    Bed b = bed(mode);
    if (r.nextInt(5) == 0) {
      sendBatch(b, r);
      drain(b, r);
      return;
    }
    Mutants.Mutant m = Mutants.make(r);
    FuzzRun.inputs(1);
    ByteBuffer p = m.packet();
    // Aim most packets at someone who exists, so that they travel on instead of failing at routing.
    Ipv4View v = new Ipv4View();
    if (p.remaining() >= 20 && r.nextInt(5) != 0) {
      int[] to = {0x0A000102, 0x0A000101, 0x0A000202, 0x7F000001};
      v.wrap(p).setDestination(to[r.nextInt(to.length)]);
      if (r.nextBoolean()) {
        v.setSource(0x0A000102);
      }
    }
    byte[] before = Mutants.bytes(p);
    DivertAddress address;
    String how;
    switch (r.nextInt(4)) {
      case 0 -> {
        address = DivertAddress.OUTBOUND;
        how = "outbound";
      }
      case 1 -> {
        address = DivertAddress.inbound(Ipv4.parse(r.nextBoolean() ? "10.0.1.1" : "10.0.2.1"));
        how = "inbound";
      }
      case 2 -> {
        address = DivertAddress.inbound(Ipv4.parse("10.9.9.9"));
        how = "foreign";
      }
      default -> {
        // write the mutant back in place of a diverted datagram
        b.bed.peer().sendUdp(b.bed.hostNode().address(), 5555, 7000, new byte[r.nextInt(3000)]);
        b.rx.clear();
        address = b.socket.receive(b.rx, Duration.ZERO);
        assertNotNull(address, "the peer's datagram was diverted");
        how = "writeback";
      }
    }
    int pos = p.position();
    int lim = p.limit();
    String outcome;
    try {
      b.socket.send(p, address);
      outcome = "sent";
      assertEquals(lim, p.position(), "a successful send consumes the packet");
    } catch (MalformedPacketException e) {
      // S54: the version nibble names the family; a version-6 mutant is checked as IPv6 (S62)
      assertEquals(defectOf(ByteBuffer.wrap(before)), e.defect(), m.toString());
      outcome = "malformed";
    } catch (PacketTooLargeException e) {
      outcome = "too large";
    } catch (NoRouteException e) {
      outcome = "no route";
    } catch (AddressNotAvailableException e) {
      assertEquals("foreign", how, "only the foreign address is not available");
      outcome = "address";
    } catch (DivertException | RuntimeException e) {
      fail(how + ": not a documented send error: " + e + " for " + m, e);
      return;
    }
    if (!outcome.equals("sent")) {
      assertEquals(pos, p.position(), "a refused send leaves the buffer");
    }
    assertArrayEquals(before, Mutants.bytes(p.duplicate().position(pos).limit(lim)));
    Statistics.label("outcome").collect(how + " " + outcome);
    drain(b, r);
    if (++b.checks % 500 == 0) {
      stillWorks(b);
    }
  }

  /**
   * A batch of two to four mutants, outbound or inbound: each slot is sent or records a documented
   * error; a packet no slot can hold is refused by {@link PacketBatch#add} as documented.
   */
  private static void sendBatch(Bed b, Random r) throws Exception {
    int n = 2 + r.nextInt(3);
    PacketBatch batch = PacketBatch.allocate(n);
    for (int k = 0; k < n; k++) {
      ByteBuffer p = Mutants.make(r).packet();
      if (p.remaining() >= 20 && r.nextInt(5) != 0) {
        new Ipv4View().wrap(p).setDestination(r.nextBoolean() ? 0x0A000102 : 0x0A000101);
      }
      DivertAddress a =
          r.nextBoolean()
              ? DivertAddress.OUTBOUND
              : DivertAddress.inbound(Ipv4.parse(r.nextBoolean() ? "10.0.1.1" : "10.9.9.9"));
      if (p.remaining() > PacketBatch.MAX_PACKET) {
        try {
          batch.add(p, a);
          fail("a batch slot took " + p.remaining() + " bytes");
        } catch (IllegalArgumentException e) {
          Statistics.label("outcome").collect("batch too large for a slot");
        }
        continue;
      }
      batch.add(p, a);
    }
    FuzzRun.inputs(batch.size());
    int sent = b.socket.send(batch);
    int failed = 0;
    for (int i = 0; i < batch.size(); i++) {
      DivertException e = batch.error(i);
      if (e == null) {
        continue;
      }
      failed++;
      if (e instanceof MalformedPacketException mp) {
        assertEquals(defectOf(batch.packet(i)), mp.defect());
      } else if (e instanceof AddressNotAvailableException) {
        assertEquals("10.9.9.9", batch.address(i).interfaceAddress().getHostAddress());
      } else if (!(e instanceof PacketTooLargeException || e instanceof NoRouteException)) {
        fail("not a documented send error in a batch: " + e, e);
      }
      Statistics.label("outcome").collect("batch " + e.getClass().getSimpleName());
    }
    assertEquals(batch.size() - failed, sent, "sent = slots without an error");
  }

  /** The defect the send path names: S54, the version nibble says which family checks it. */
  private static Defect defectOf(ByteBuffer p) {
    return p.remaining() > 0 && (p.get(p.position()) & 0xf0) == 0x60
        ? new Ipv6View().wrap(p).checkForSend()
        : new Ipv4View().wrap(p).checkForSend();
  }

  /** Takes whatever was diverted: writes it back unchanged (must work) or drops it. */
  private static void drain(Bed b, Random r) throws java.io.IOException {
    DivertAddress a;
    while ((a = b.socket.receive(b.rx.clear(), Duration.ZERO)) != null) {
      b.rx.flip();
      if (r.nextBoolean()) {
        b.socket.drop(a);
        continue;
      }
      try {
        b.socket.send(b.rx, a);
      } catch (PacketTooLargeException e) {
        // S29: a DF datagram over the egress MTU, forwarded (the fuzzer injected it inbound, where
        // S53 sets no MTU limit) and diverted at output, is refused on the way back as on send.
        Ipv4View v = new Ipv4View().wrap(b.rx);
        assertTrue(v.dontFragment() && v.length() > e.mtu(), "" + e);
        assertEquals(Optional.of(Chain.OUTPUT), a.chain(), "" + e);
        b.socket.drop(a);
      } catch (DivertException e) {
        fail("writing back a received packet unchanged failed: " + e, e);
      }
    }
    while (b.sink.receive(Duration.ZERO) != null) {
      // datagrams the fuzzer delivered to the sink
    }
  }

  /**
   * Legitimate datagrams cross the host: diverted, written back, delivered. A small one at once; a
   * fragmented one after the reassembly timeout, because the fuzzer's stray fragments may fill the
   * host stack's reassembly memory (or spoof the legitimate datagram's key) until they expire.
   */
  private static void stillWorks(Bed b) throws Exception {
    crosses(b, 500);
    b.bed.advance(HostOptions.DEFAULT_REASSEMBLY_TIMEOUT.plusSeconds(1));
    crosses(b, 2000);
    assertTrue(b.socket.isOpen());
  }

  private static void crosses(Bed b, int size) throws Exception {
    byte[] payload = new byte[size];
    new Random(b.checks).nextBytes(payload);
    b.bed.peer().sendUdp(b.bed.hostNode().address(), 5555, 7000, payload);
    // (each fragment on its own in PER_FRAGMENT mode)
    DivertAddress a = b.socket.receive(b.rx.clear(), Duration.ZERO);
    assertNotNull(a, "diverted");
    do {
      b.socket.send(b.rx.flip(), a);
    } while ((a = b.socket.receive(b.rx.clear(), Duration.ZERO)) != null);
    Datagram d = b.sink.receive(Duration.ZERO);
    assertNotNull(
        d,
        () ->
            size
                + " bytes delivered after the fuzzing so far; "
                + b.bed.host().stats()
                + " "
                + b.socket.stats());
    assertArrayEquals(payload, d.payload());
  }
}
