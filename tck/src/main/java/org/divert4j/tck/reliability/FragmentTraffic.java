package org.divert4j.tck.reliability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.divert4j.DivertAddress;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.HostStats;
import org.divert4j.Ipv4;
import org.divert4j.packet.Fragmenter;
import org.divert4j.packet.Ipv4Builder;
import org.divert4j.testbed.TestBed;

/**
 * The traffic of {@link FragmentAttackVerification} and its ledger: crafted attack fragments and
 * legitimate datagrams sent by the peer, what came out, and the memory held, with the checks that
 * hold after every packet where the backend processes each before its send returns.
 */
final class FragmentTraffic {
  private final FragmentAttackVerification backend;
  private final TestBed bed;
  private final DivertSocket socket;
  private final boolean virtualClock;
  private final int peer;
  private final int host;
  private final ByteBuffer rx = ByteBuffer.allocateDirect(65535);
  private final Random rnd = new Random(8);
  private long attackFragments;
  private long legitFragments;
  private long legitOffered;
  private long legitDelivered;
  private long legitDeliveredFragments;
  private long wholeOffered;
  private long wholeDelivered;
  private long maxHeldBytes;
  private int legitId = 40_000;

  /**
   * @param backend the verification, for its hooks
   * @param bed the test bed, in ALWAYS_DEFRAGMENT mode
   * @param socket the socket its rule diverts the peer's UDP to
   */
  FragmentTraffic(FragmentAttackVerification backend, TestBed bed, DivertSocket socket) {
    this.backend = backend;
    this.bed = bed;
    this.socket = socket;
    this.virtualClock = bed.settleTime().isZero();
    this.peer = Ipv4.toInt(bed.peer().address());
    this.host = Ipv4.toInt(bed.hostNode().address());
  }

  /** A crafted UDP fragment from the peer: {@code len} payload bytes at {@code offset}. */
  void attack(int id, int offset, int len, boolean mf, int optionBytes) throws Exception {
    bed.peer().sendRaw(fragment(id, offset, len, mf, optionBytes));
    attackFragments++;
    if (virtualClock) {
      assertNull(socket.receive(rx.clear(), Duration.ZERO), "an attack completed a datagram");
      checkBound();
    }
  }

  private ByteBuffer fragment(int id, int offset, int len, boolean mf, int optionBytes) {
    return Ipv4Builder.raw(17)
        .source(peer)
        .destination(host)
        .identification(id)
        .fragmentOffset(offset)
        .moreFragments(mf)
        .options(new byte[optionBytes])
        .payloadLength(len)
        .build();
  }

  /**
   * A legitimate UDP datagram of {@code size} bytes cut to {@code mtu} (8: fragments of 8 bytes);
   * returns whether it came out whole, within {@code wait}.
   */
  boolean legit(int size, int mtu, boolean mustArrive, Duration wait) throws Exception {
    byte[] payload = new byte[size];
    rnd.nextBytes(payload);
    ByteBuffer d =
        Ipv4Builder.udp(5000, 7000)
            .source(peer)
            .destination(host)
            .identification(legitId++)
            .payload(payload)
            .build();
    List<ByteBuffer> fs = mtu == 8 ? eightByteFragments(d) : Fragmenter.fragment(d, mtu);
    for (ByteBuffer f : fs) {
      bed.peer().sendRaw(f);
    }
    boolean whole = fs.size() == 1;
    if (whole) {
      wholeOffered++;
    } else {
      legitOffered++;
      legitFragments += fs.size();
    }
    DivertAddress a = socket.receive(rx.clear(), wait);
    if (a != null) {
      rx.flip();
      byte[] got = new byte[rx.remaining()];
      rx.get(got);
      byte[] want = new byte[d.limit()];
      d.get(0, want);
      if (virtualClock) {
        assertArrayEquals(want, got, "the datagram comes out whole and unchanged");
      } else {
        // a kernel reassembled it: same payload; its header may differ in ID-independent bits
        assertArrayEquals(
            Arrays.copyOfRange(want, 20, want.length),
            Arrays.copyOfRange(got, 20, got.length),
            "the datagram comes out whole");
      }
      socket.drop(a);
      if (whole) {
        wholeDelivered++;
      } else {
        legitDelivered++;
        legitDeliveredFragments += fs.size();
      }
    } else if (!virtualClock) {
      System.out.println(
          "  legitimate datagram " + (legitId - 1) + " not out; " + bed.host().stats());
    }
    if (mustArrive) {
      assertTrue(a != null, "legitimate datagram " + (legitId - 1) + " of " + size + " bytes");
    }
    if (virtualClock) {
      assertNull(socket.receive(rx.clear(), Duration.ZERO), "nothing else comes out");
    }
    checkBound();
    return a != null;
  }

  /** A legitimate datagram that must come out. */
  void legit(int size, int mtu) throws Exception {
    legit(size, mtu, true, virtualClock ? Duration.ZERO : Duration.ofSeconds(2));
  }

  /** A datagram cut into fragments of 8 payload bytes (below any MTU the Fragmenter accepts). */
  private List<ByteBuffer> eightByteFragments(ByteBuffer d) {
    byte[] all = new byte[d.remaining()];
    d.get(d.position(), all);
    List<ByteBuffer> out = new ArrayList<>();
    for (int off = 0; off < all.length - 20; off += 8) {
      int len = Math.min(8, all.length - 20 - off);
      out.add(
          Ipv4Builder.raw(17)
              .source(peer)
              .destination(host)
              .identification(d.getShort(4) & 0xffff)
              .fragmentOffset(off)
              .moreFragments(off + len < all.length - 20)
              .payload(Arrays.copyOfRange(all, 20 + off, 20 + off + len))
              .build());
    }
    return out;
  }

  /** On a virtual clock time passes at once; on a real one it passes by itself meanwhile. */
  void letTimePass(Duration d) throws Exception {
    if (virtualClock) {
      bed.advance(d);
    }
  }

  private static long reassemblyDrops(HostStats s) {
    long n = 0;
    for (DropReason r : DropReason.values()) {
      n += r.name().startsWith("REASSEMBLY_") ? s.dropped(r) : 0;
    }
    return n;
  }

  /** The fragments held now, by the counters: offered, minus delivered, minus dropped. */
  private long heldFragments() {
    return attackFragments
        + legitFragments
        - legitDeliveredFragments
        - reassemblyDrops(bed.host().stats());
  }

  /**
   * Samples the memory held; where every packet is processed before its send returns, it is checked
   * against the bound each time (elsewhere the maximum is checked by the tests).
   */
  private void checkBound() throws Exception {
    long bytes = backend.heldBytes();
    maxHeldBytes = Math.max(maxHeldBytes, bytes);
    if (virtualClock) {
      assertTrue(
          bytes <= FragmentAttackVerification.MEMORY,
          "held " + bytes + " bytes > " + FragmentAttackVerification.MEMORY);
      if (backend.countsEachFragment()) {
        assertTrue(heldFragments() >= 0, "no fragment counted twice");
      }
    }
  }

  /** After the timeout, everything held is dropped and counted, and reassembly works again. */
  Map<DropReason, Long> finish(String name) throws Exception {
    bed.advance(backend.reassemblyTimeout().plusMillis(1500)); // the reassembly timers run
    legit(3000, 1500); // reassembly works again
    assertNull(socket.receive(rx.clear(), Duration.ZERO), "nothing else came out");
    HostStats s = bed.host().stats();
    System.out.printf(
        "ATTACK %s %s: %d attack fragments, %d legitimate datagrams (%d fragments) of which %d"
            + " delivered, %d unfragmented of which %d delivered; drops %s reassembled=%d;"
            + " max held %d of %d bytes%n",
        backend.provider().name(),
        name,
        attackFragments,
        legitOffered,
        legitFragments,
        legitDelivered,
        wholeOffered,
        wholeDelivered,
        s.drops(),
        s.reassembled(),
        maxHeldBytes,
        FragmentAttackVerification.MEMORY);
    assertEquals(0, backend.heldBytes(), "everything held has expired");
    assertEquals(wholeOffered, wholeDelivered, "unfragmented datagrams always pass");
    if (backend.countsEachFragment()) {
      assertEquals(0, heldFragments(), "all held fragments timed out and were counted");
      assertEquals(
          attackFragments + legitFragments,
          legitDeliveredFragments + reassemblyDrops(s),
          "every fragment");
      assertEquals(legitDelivered, s.reassembled(), "reassembled = legitimate datagrams delivered");
    }
    return s.drops();
  }

  /**
   * The classic ping of death: a last fragment whose own offset plus length passes 65535. A backend
   * counting each fragment refuses it before diversion, so nothing comes out and no counter moves
   * (checked); elsewhere it counts as an attack fragment.
   *
   * @return whether it was refused before diversion
   */
  boolean classicPingOfDeath(int id) throws Exception {
    long before = bed.host().stats().droppedTotal();
    bed.peer().sendRaw(fragment(id, 65528, 16, false, 0));
    if (!backend.countsEachFragment()) {
      attackFragments++;
      return false;
    }
    assertNull(socket.receive(rx.clear(), Duration.ZERO));
    assertEquals(before, bed.host().stats().droppedTotal(), "dropped before the engine");
    return true;
  }

  /**
   * @return true on a virtual clock (the test bed's settle time is zero)
   */
  boolean virtualClock() {
    return virtualClock;
  }

  /**
   * @return the most reassembly memory seen held, bytes
   */
  long maxHeldBytes() {
    return maxHeldBytes;
  }

  /**
   * @return the fragmented legitimate datagrams delivered
   */
  long legitDelivered() {
    return legitDelivered;
  }
}
