package org.divert4j.rawsocket;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Random;
import org.divert4j.DivertAddress;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.HostStats;
import org.divert4j.Ipv4;
import org.divert4j.fuzz.FuzzRun;
import org.divert4j.linux.testbed.NamespaceNode;
import org.divert4j.packet.Fragmenter;
import org.divert4j.packet.Ipv4Builder;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The fragment attacks of the simulation's FragmentAttackTest against the kernel backend in
 * ALWAYS_DEFRAGMENT mode, crafted by the peer namespace and written onto the link with its
 * AF_PACKET socket ({@link NamespaceNode#sendRaw}). Here the kernel's own defragmentation ({@code
 * nf_defrag_ipv4} before NFQUEUE) does the work, with the test bed's reassembly limits ({@code
 * ipfrag_high_thresh} = the memory bound, {@code ipfrag_time} = the timeout) in the host's
 * namespace. The test proves what the backend shows: nothing an attack sends is diverted, the
 * kernel's fragment memory ({@code FRAG memory} of {@code /proc/net/sockstat}) stays near the
 * bound, the drops appear in {@link HostStats} (counted per datagram, as the kernel counts them),
 * and legitimate datagrams sent alongside come out whole. Root only.
 */
class KernelFragmentAttackTest {
  private static final long MEMORY = 256 << 10;
  private static final Duration TIMEOUT = Duration.ofSeconds(2);
  private static final int SCALE = FuzzRun.LONG ? 10 : 1;
  private static final Duration WAIT = Duration.ofSeconds(2);

  private TestBed bed;
  private DivertSocket socket;
  private int peer;
  private int host;
  private final ByteBuffer rx = ByteBuffer.allocateDirect(65535);
  private final Random rnd = new Random(8);
  private int legitId = 40_000;
  private long legitSent;
  private long legitDelivered;
  private long maxFragMemory;

  @BeforeEach
  void open() throws Exception {
    Root.assumeKernel();
    bed =
        new RawSocketProvider()
            .testBed(
                TestBedOptions.builder()
                    .host(
                        HostOptions.builder()
                            .fragments(FragmentMode.ALWAYS_DEFRAGMENT)
                            .reassemblyMemory(MEMORY)
                            .reassemblyTimeout(TIMEOUT)
                            .build())
                    .build());
    socket = bed.host().bind(1234);
    bed.host().addRule(DivertRule.parse("input -p udp -j DIVERT 1234"));
    peer = Ipv4.toInt(bed.peer().address());
    host = Ipv4.toInt(bed.hostNode().address());
  }

  @AfterEach
  void close() {
    if (bed != null) {
      bed.close();
    }
  }

  private void attack(int id, int offset, int len, boolean mf, int optionBytes) throws Exception {
    bed.peer()
        .sendRaw(
            Ipv4Builder.raw(17)
                .source(peer)
                .destination(host)
                .identification(id)
                .fragmentOffset(offset)
                .moreFragments(mf)
                .options(new byte[optionBytes])
                .payloadLength(len)
                .build());
  }

  /** A legitimate datagram, fragmented to {@code mtu}; returns whether it came out whole. */
  private boolean legit(int size, int mtu) throws Exception {
    return legit(size, mtu, WAIT);
  }

  /** As {@link #legit(int, int)}, waiting at most {@code wait} for it to come out. */
  private boolean legit(int size, int mtu, Duration wait) throws Exception {
    byte[] payload = new byte[size];
    rnd.nextBytes(payload);
    ByteBuffer d =
        Ipv4Builder.udp(5000, 7000)
            .source(peer)
            .destination(host)
            .identification(legitId++)
            .payload(payload)
            .build();
    for (ByteBuffer f : Fragmenter.fragment(d, mtu)) {
      bed.peer().sendRaw(f);
    }
    legitSent++;
    DivertAddress a = socket.receive(rx.clear(), wait);
    fragMemory();
    if (a == null) {
      System.out.println(
          "  legitimate datagram " + (legitId - 1) + " not out; " + bed.host().stats());
      return false;
    }
    rx.flip();
    byte[] got = new byte[rx.remaining()];
    rx.get(got);
    byte[] want = new byte[d.limit()];
    d.get(0, want);
    // the kernel reassembled it: same payload; its header may differ in the ID-independent bits
    assertArrayEquals(
        java.util.Arrays.copyOfRange(want, 20, want.length),
        java.util.Arrays.copyOfRange(got, 20, got.length),
        "the datagram comes out whole");
    socket.drop(a);
    legitDelivered++;
    return true;
  }

  /** The kernel's fragment memory in the host's namespace, from /proc/net/sockstat. */
  private long fragMemory() throws Exception {
    String s = ((NamespaceNode) bed.hostNode()).netns().execChecked("cat", "/proc/net/sockstat");
    for (String line : s.split("\n")) {
      if (line.startsWith("FRAG:")) {
        String[] f = line.trim().split("\\s+");
        long m = Long.parseLong(f[4]);
        maxFragMemory = Math.max(maxFragMemory, m);
        return m;
      }
    }
    return 0;
  }

  private HostStats settle(String name, int attackFragments) throws Exception {
    Thread.sleep(TIMEOUT.toMillis() + 1500); // the kernel's ip_expire timers run
    assertTrue(legit(3000, 1500), "a legitimate datagram after the timeout");
    assertNull(socket.receive(rx.clear(), Duration.ZERO), "nothing else came out");
    HostStats s = bed.host().stats();
    System.out.printf(
        "KERNEL-ATTACK %s: %d attack fragments, %d legitimate datagrams of which %d delivered;"
            + " host stats %s reassembled=%d; max FRAG memory %d (bound %d)%n",
        name,
        attackFragments,
        legitSent,
        legitDelivered,
        s.drops(),
        s.reassembled(),
        maxFragMemory,
        MEMORY);
    assertEquals(0, fragMemory(), "everything held has expired");
    return s;
  }

  /**
   * Teardrop: the second fragment overlaps the first partly; Linux discards the queue (counted as
   * ReasmOverlaps: REASSEMBLY_OVERLAP) and holds nothing, so legitimate datagrams always pass. (A
   * fragment lying wholly inside data already held is ignored by Linux as a duplicate, and a third
   * fragment after the discard would start a new queue that waits for the timeout.)
   */
  @Test
  void teardrop() throws Exception {
    int n = 300 * SCALE;
    for (int i = 0; i < n; i++) {
      attack(i, 0, 32, true, 0);
      attack(i, 24 - 8 * (i % 2), 24, true, 0); // 24..48 or 16..40, past the first's end
      if (i % 30 == 0) {
        assertTrue(legit(2000, 576), "legitimate datagram during the teardrop");
      }
    }
    HostStats s = settle("teardrop", 2 * n);
    assertEquals(n, s.dropped(DropReason.REASSEMBLY_OVERLAP), "one overlap per teardrop");
  }

  /**
   * Pings of death, in bursts that fit the memory bound (Linux holds their fragments until the
   * timeout: it finds a datagram too large only when it is complete): the variant whose first
   * fragment has a 60-byte header, and the classic one whose last fragment passes 65535 itself.
   * Nothing comes out, the legitimate datagrams in between do.
   */
  @Test
  void pingOfDeath() throws Exception {
    int bursts = SCALE;
    int perBurst = 30;
    for (int b = 0; b < bursts; b++) {
      for (int i = b * perBurst; i < (b + 1) * perBurst; i++) {
        attack(i, 0, 1440, true, 40);
        attack(i, 65488, 40, false, 0);
        attack(30_000 + i, 0, 1480, true, 0);
        attack(30_000 + i, 65528, 16, false, 0); // classic: one fragment past 65535
        if (i % 10 == 0) {
          assertTrue(legit(2000, 1500), "legitimate datagram during the pings of death");
        }
      }
      if (b + 1 < bursts) {
        Thread.sleep(TIMEOUT.toMillis() + 1500);
      }
    }
    HostStats s = settle("ping of death", 4 * bursts * perBurst);
    assertTrue(s.droppedTotal() >= bursts * perBurst, "counted");
  }

  @Test
  void floodOfIncompleteDatagrams() throws Exception {
    int n = 3000 * SCALE;
    int fragmentedThrough = 0;
    for (int i = 0; i < n; i++) {
      attack(i % 30_000, 0, 1480, true, 0);
      if (i % 100 == 0) {
        assertTrue(legit(500, 1500), "unfragmented datagrams pass during the flood");
        fragmentedThrough += legit(2500, 1500, Duration.ofMillis(300)) ? 1 : 0;
      }
    }
    HostStats s = settle("flood of incomplete datagrams", n);
    System.out.println(
        "  fragmented legitimate datagrams through during the flood: " + fragmentedThrough);
    assertTrue(
        s.dropped(DropReason.REASSEMBLY_MEMORY) + s.dropped(DropReason.REASSEMBLY_TIMEOUT) > 0);
    assertTrue(
        maxFragMemory <= MEMORY + 8192,
        "memory " + maxFragMemory + ": the bound plus one fragment at most");
  }

  @Test
  void tinyFragments() throws Exception {
    // a legitimate datagram in 8-byte fragments
    byte[] payload = new byte[992];
    rnd.nextBytes(payload);
    ByteBuffer d =
        Ipv4Builder.udp(5000, 7000)
            .source(peer)
            .destination(host)
            .identification(legitId++)
            .payload(payload)
            .build();
    byte[] all = new byte[d.limit()];
    d.get(0, all);
    for (int off = 0; off < all.length - 20; off += 8) {
      int len = Math.min(8, all.length - 20 - off);
      bed.peer()
          .sendRaw(
              Ipv4Builder.raw(17)
                  .source(peer)
                  .destination(host)
                  .identification(legitId - 1)
                  .fragmentOffset(off)
                  .moreFragments(off + len < all.length - 20)
                  .payload(java.util.Arrays.copyOfRange(all, 20 + off, 20 + off + len))
                  .build());
    }
    legitSent++;
    DivertAddress a = socket.receive(rx.clear(), WAIT);
    assertNotNull(a, "the 8-byte-fragmented datagram was reassembled and diverted");
    socket.drop(a);
    legitDelivered++;
    int n = 5000 * SCALE;
    for (int i = 0; i < n; i++) {
      attack(20_000 + i % 50, 8 * ((i / 50 * 7919 + i % 50) % 8000), 8, true, 0);
      if (i % 500 == 0) {
        assertTrue(legit(500, 1500), "unfragmented datagrams pass");
      }
    }
    HostStats s = settle("tiny fragments", n);
    assertTrue(
        maxFragMemory <= MEMORY + 8192,
        "memory " + maxFragMemory + ": the bound plus one fragment at most");
    assertTrue(s.droppedTotal() > 0);
  }
}
