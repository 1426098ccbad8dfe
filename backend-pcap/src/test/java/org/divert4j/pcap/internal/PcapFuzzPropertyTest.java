package org.divert4j.pcap.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.lifecycle.AddLifecycleHook;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.PropagationMode;
import net.jqwik.api.statistics.Statistics;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.HostOptions;
import org.divert4j.fuzz.FuzzRun;
import org.divert4j.fuzz.Mutants;
import org.divert4j.fuzz.Mutants6;
import org.divert4j.pcap.PcapProvider;
import org.divert4j.pcap.PcapReplay;

/**
 * Fuzzing of what the pcap backend parses: link-layer frames ({@link LinkLayer}: Ethernet, raw IP,
 * Linux cooked v1 and v2, with mutated headers around mutated IP packets), and whole savefiles
 * (mutated pcap headers and records) replayed through a pcap host. Frames: no exception, the IPv4
 * offset found lies inside the frame, learning and header writing take anything. Savefiles: the
 * host opens or refuses the file with a DivertException, the replay finishes (a hang fails the
 * run), and a read error ends it as {@link PcapReplay#failure()}, never as another exception.
 * Tries: 10,000 frames and 300 files in the short run; 250,000 and 10,000 with {@code
 * -Ddivert.reliability=long}.
 */
@AddLifecycleHook(value = FuzzRun.class, propagateTo = PropagationMode.DIRECT_DESCENDANTS)
class PcapFuzzPropertyTest {
  private static final int[] LINK_TYPES = {
    LinkTypes.DLT_EN10MB,
    LinkTypes.DLT_RAW,
    LinkTypes.LINKTYPE_RAW,
    LinkTypes.DLT_LINUX_SLL,
    LinkTypes.DLT_LINUX_SLL2,
    LinkTypes.DLT_IPV4,
    LinkTypes.DLT_IPV6
  };
  private static Path dir;

  /** A frame of the link type: a (possibly mutated) link header around a mutated IP packet. */
  static byte[] frame(Random r, int linkType) {
    boolean six = r.nextInt(3) == 0; // IPv6 mutants: extension headers, fragments, ICMPv6
    byte[] ip = six ? Mutants6.make(r).bytes() : Mutants.make(r).bytes();
    int h = LinkTypes.headerLength(linkType);
    ByteBuffer f = ByteBuffer.allocate(h + ip.length);
    byte[] mac = new byte[12];
    r.nextBytes(mac);
    int type =
        r.nextInt(8) == 0 ? 0x0806 : r.nextInt(10) == 0 ? r.nextInt(65536) : six ? 0x86DD : 0x0800;
    switch (linkType) {
      case LinkTypes.DLT_EN10MB -> {
        f.put(0, mac);
        f.putShort(12, (short) type);
      }
      case LinkTypes.DLT_LINUX_SLL -> {
        f.putShort(0, (short) r.nextInt(6));
        f.putShort(2, (short) 1);
        f.putShort(4, (short) (r.nextInt(6) == 0 ? r.nextInt(65536) : 6));
        f.put(6, mac, 0, 8);
        f.putShort(14, (short) type);
      }
      case LinkTypes.DLT_LINUX_SLL2 -> {
        f.putShort(0, (short) type);
        f.putInt(4, r.nextInt());
        f.putShort(8, (short) 1);
        f.put(10, (byte) r.nextInt(6));
        f.put(11, (byte) (r.nextInt(6) == 0 ? r.nextInt(256) : 6));
        f.put(12, mac, 0, 8);
      }
      default -> {}
    }
    if (type == 0x0806 && ip.length >= 28) {
      // an ARP body instead: hardware type 1, protocol IPv4, random addresses
      ip[0] = 0;
      ip[1] = 1;
      ip[2] = 8;
      ip[3] = 0;
    }
    f.put(h, ip);
    byte[] out = f.array();
    if (r.nextInt(6) == 0) {
      out = java.util.Arrays.copyOf(out, r.nextInt(out.length + 1));
    }
    return out;
  }

  @Property
  @FuzzRun.Tries(shortRun = 10_000, longRun = 250_000)
  void linkLayerTakesAnyFrame(@ForAll long seed) {
    Random r = new Random(seed);
    int linkType = LINK_TYPES[r.nextInt(LINK_TYPES.length)];
    LinkLayer l2 = new LinkLayer(linkType);
    ByteBuffer out = ByteBuffer.allocate(64);
    int frames = 1 + r.nextInt(10);
    for (int i = 0; i < frames; i++) {
      byte[] f = frame(r, linkType);
      int at = r.nextInt(3) == 0 ? r.nextInt(16) : 0;
      ByteBuffer b = ByteBuffer.allocate(at + f.length + r.nextInt(2) * 8);
      b.put(at, f);
      int ip = l2.ipv4Offset(b, at, f.length);
      if (ip >= 0) {
        assertTrue(ip >= at && ip + 20 <= at + f.length, "IPv4 header inside the frame");
        assertEquals(4, (b.get(ip) & 0xff) >>> 4);
      }
      int either = l2.ipOffset(b, at, f.length);
      int direction = r.nextInt(2);
      if (either >= 0) {
        int v = (b.get(either) & 0xff) >>> 4;
        assertTrue(v == 4 || v == 6, "IPv4 or IPv6");
        assertTrue(either + (v == 6 ? 40 : 20) <= at + f.length, "the header inside the frame");
        if (v == 6) {
          int end = Neighbours6.arrivalEnd(b, either, at + f.length);
          assertTrue(end == -1 || (end >= either + 40 && end <= at + f.length), "arrival end");
        }
        assertEquals(
            LinkTypes.headerLength(linkType), l2.writeHeader(out, 0, b, either, direction));
      }
      l2.learn(b, at, f.length, direction);
      l2.outgoing(b, at, f.length);
      int hl = l2.writeHeader(out, 0, r.nextInt(), r.nextInt(), direction);
      assertEquals(LinkTypes.headerLength(linkType), hl);
      l2.destinationMac(r.nextInt(), direction);
      l2.sourceMac(r.nextInt(), direction);
    }
    FuzzRun.inputs(frames);
  }

  // ------------------------------------------------------------------ savefiles

  /** A pcap savefile: a few records of frames, then mutations of headers and lengths. */
  static byte[] savefile(Random r) {
    int linkType = LINK_TYPES[r.nextInt(LINK_TYPES.length)];
    boolean big = r.nextInt(4) == 0;
    boolean nano = r.nextInt(4) == 0;
    ByteBuffer b =
        ByteBuffer.allocate(1 << 20).order(big ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
    b.putInt(nano ? 0xa1b23c4d : 0xa1b2c3d4).putShort((short) 2).putShort((short) 4);
    b.putInt(0).putInt(0).putInt(r.nextInt(8) == 0 ? r.nextInt(70000) : 262144).putInt(linkType);
    int records = r.nextInt(12);
    for (int i = 0; i < records && b.position() < (1 << 20) - 70000; i++) {
      byte[] f = frame(r, linkType);
      int incl = f.length;
      int orig = r.nextInt(8) == 0 ? r.nextInt() : incl;
      b.putInt(1_700_000_000 + i).putInt(r.nextInt(1_000_000)).putInt(incl).putInt(orig).put(f);
    }
    byte[] file = java.util.Arrays.copyOf(b.array(), b.position());
    for (int k = r.nextInt(4); k > 0 && file.length > 0; k--) {
      switch (r.nextInt(5)) {
        case 0 -> file = java.util.Arrays.copyOf(file, r.nextInt(file.length + 1)); // truncated
        case 1 -> { // a record length field: 0, huge, or past the end
          int at = 24 + 8 + (file.length > 40 ? r.nextInt(Math.max(1, file.length - 40)) : 0);
          if (at + 4 <= file.length) {
            int[] v = {0, -1, 0x7fffffff, 262145, 65600, r.nextInt()};
            ByteBuffer.wrap(file).putInt(at, v[r.nextInt(v.length)]);
          }
        }
        case 2 -> { // the link type or snap length of the file
          if (file.length >= 24) {
            ByteBuffer.wrap(file).putInt(r.nextBoolean() ? 20 : 16, r.nextInt(300));
          }
        }
        case 3 -> { // flipped bits anywhere
          for (int j = 1 + r.nextInt(8); j > 0; j--) {
            file[r.nextInt(file.length)] ^= (byte) (1 << r.nextInt(8));
          }
        }
        default -> { // the version
          if (file.length >= 8) {
            file[4] = (byte) r.nextInt(4);
            file[6] = (byte) r.nextInt(6);
          }
        }
      }
    }
    return file;
  }

  /** libpcap loads, else why not. */
  static final class LibpcapLoads implements java.util.function.Supplier<String> {
    @Override
    public String get() {
      try {
        PcapBackend.loadLibrary();
        return null;
      } catch (DivertException | LinkageError e) {
        return "libpcap is not available: " + e.getMessage();
      }
    }
  }

  @Property
  @FuzzRun.Tries(shortRun = 300, longRun = 10_000)
  @FuzzRun.Requires(LibpcapLoads.class)
  void savefileReplayTakesAnyFile(@ForAll long seed) throws Exception {
    requireLibpcap();
    Random r = new Random(seed);
    Path in = dir.resolve("in.pcap");
    Path out = dir.resolve("out.pcap");
    Files.write(in, savefile(r));
    HostOptions o =
        HostOptions.builder()
            .property(PcapProvider.INPUT, in.toString())
            .property(PcapProvider.OUTPUT, out.toString())
            .property(PcapProvider.START, "open")
            .property(PcapProvider.LOCAL, r.nextBoolean() ? "10.0.0.0/8" : "")
            .build();
    DivertHost h;
    try {
      h = new PcapProvider().open(o);
    } catch (DivertException e) {
      Statistics.label("outcome").collect("refused");
      return; // documented: the capture cannot be read, or its link type is not supported
    }
    try (DivertHost host = h) {
      host.addRule(DivertRule.parse("input -p udp -j DIVERT 4000")); // no listener: dropped
      PcapReplay replay = PcapReplay.of(host);
      replay.start();
      if (!replay.awaitFinished(Duration.ofSeconds(30))) {
        fail("the replay of a fuzzed file did not finish: " + replay);
      }
      Throwable failure = replay.failure();
      if (failure != null && !(failure instanceof IOException)) {
        fail("the replay failed with " + failure, failure);
      }
      FuzzRun.inputs(Math.max(1, replay.packetsRead()));
      Statistics.label("outcome").collect(failure == null ? "replayed" : "read error");
    }
  }

  private static void requireLibpcap() throws IOException {
    if (dir == null) {
      dir = Files.createTempDirectory("d4j-pcapfuzz-");
    }
  }

  @AfterContainer
  static void removeFiles() throws IOException {
    if (dir != null) {
      try (var s = Files.list(dir)) {
        for (Path p : s.toList()) {
          Files.deleteIfExists(p);
        }
      }
      Files.deleteIfExists(dir);
      dir = null;
    }
  }
}
