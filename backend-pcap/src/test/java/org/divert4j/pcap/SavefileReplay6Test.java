package org.divert4j.pcap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.Inet6Address;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.BackendUnavailableException;
import org.divert4j.DivertAddress;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.Ipv6Addresses;
import org.divert4j.packet.Ipv4Builder;
import org.divert4j.packet.Ipv6Builder;
import org.divert4j.packet.Ipv6View;
import org.divert4j.pcap.Captures.Capture;
import org.divert4j.pcap.Captures.Rec;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Savefile replays of IPv6: captures that hold both families, built with the packet builders
 * (LINKTYPE_RAW and Ethernet, no privileges needed) and recorded from the kernel ({@code ping} and
 * {@code ping -6 -s 4000} across a veth, with ARP and neighbour discovery; needs root).
 */
class SavefileReplay6Test {
  private static final long T0 = 1_700_000_000_000_000_000L;
  private static final long MAC_A = 0x020000000001L;
  private static final long MAC_B = 0x020000000002L;

  @TempDir static Path dir;

  private static Path kernel;
  private static String unavailable;

  @BeforeAll
  static void record() throws Exception {
    unavailable = KernelCaptures.unavailable();
    if (unavailable == null) {
      kernel = KernelCaptures.recordPing(dir.resolve("ping46.pcap"), false, 2, 4000, true);
    }
  }

  private static byte[] bytes(ByteBuffer b) {
    byte[] a = new byte[b.remaining()];
    b.duplicate().get(a);
    return a;
  }

  private static byte[] ethernet(long dst, long src, int type, byte[] payload) {
    ByteBuffer f = ByteBuffer.allocate(14 + payload.length);
    f.putShort(0, (short) (dst >>> 32)).putInt(2, (int) dst);
    f.putShort(6, (short) (src >>> 32)).putInt(8, (int) src);
    f.putShort(12, (short) type);
    f.put(14, payload);
    return f.array();
  }

  private static byte[] udp4(int sport, int i) {
    return bytes(
        Ipv4Builder.udp(sport, 53)
            .source("192.168.7.1")
            .destination("192.168.7.2")
            .identification(100 + i)
            .payload(("four " + i).getBytes(StandardCharsets.US_ASCII))
            .build());
  }

  private static byte[] udp6(int sport, int i, String src, String dst) {
    return bytes(
        Ipv6Builder.udp(sport, 53)
            .source(src)
            .destination(dst)
            .payload(("six " + i).getBytes(StandardCharsets.US_ASCII))
            .build());
  }

  private static List<byte[]> replayOrSkip(
      Path in, Path out, HostOptions.Builder o, String rule, SavefileReplayTest.Program p)
      throws Exception {
    try {
      return SavefileReplayTest.replay(in, out, o, rule, p);
    } catch (BackendUnavailableException e) {
      assumeTrue(false, "libpcap is not available: " + e.getMessage());
      return List.of();
    }
  }

  @Test
  void bothFamiliesOfARawIpCaptureReplayAndOnlyIpv6IsDiverted() throws Exception {
    List<Rec> recs = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      byte[] p =
          switch (i % 3) {
            case 0 -> udp4(5001, i);
            case 1 -> udp6(5001, i, "fd00:7::1", "fd00:7::2");
            default -> udp6(5000, i, "fd00:7::1", "fd00:7::2");
          };
      recs.add(new Rec(T0 + i * 1_000_000L, p));
    }
    Path in = dir.resolve("raw46.pcap");
    Captures.write(in, Captures.LINKTYPE_RAW, recs);
    Path out = dir.resolve("raw46-out.pcap");
    List<DivertAddress> addresses = new ArrayList<>();
    List<byte[]> got =
        replayOrSkip(
            in,
            out,
            HostOptions.builder().property(PcapProvider.ADDRESS, "192.168.7.2/24,fd00:7::2/64"),
            "input -6 -p udp --sport 5001 -j DIVERT 4000",
            (p, a) -> addresses.add(a));
    assertEquals(20, got.size(), "only the IPv6 datagrams from port 5001 (S54)");
    for (int i = 0; i < got.size(); i++) {
      assertArrayEquals(recs.get(3 * i + 1).frame(), got.get(i), "whole and unchanged (S55)");
      assertEquals(
          Ipv6Addresses.parse("fd00:7::2"),
          addresses.get(i).interfaceAddress(),
          "the interface's IPv6 address (S55)");
      assertTrue(addresses.get(i).interfaceAddress() instanceof Inet6Address);
    }
    Capture output = Captures.read(out);
    assertEquals(Captures.read(in).linkType(), output.linkType(), "raw IP in, raw IP out");
    SavefileReplayTest.assertSameRecords(recs, output.records(), "written back: the input");
  }

  @Test
  void neighbourDiscoveryPassesUntouchedAndWrittenBackFramesKeepTheirMacs() throws Exception {
    // B solicits A; A advertises itself; then IPv6 and IPv4 datagrams both ways.
    byte[] ns = new byte[32];
    ns[0] = (byte) 135;
    System.arraycopy(Ipv6Addresses.parse("fd00:7::1").getAddress(), 0, ns, 8, 16);
    ns[24] = 1; // Source Link-Layer Address
    ns[25] = 1;
    ByteBuffer.wrap(ns).putShort(26, (short) (MAC_B >>> 32)).putInt(28, (int) MAC_B);
    byte[] solicitation =
        bytes(
            Ipv6Builder.raw(58)
                .source("fd00:7::2")
                .destination("ff02::1:ff00:1")
                .hopLimit(255)
                .payload(ns)
                .build());
    byte[] na = ns.clone();
    na[0] = (byte) 136;
    na[4] = 0x60; // solicited, override
    na[24] = 2; // Target Link-Layer Address
    ByteBuffer.wrap(na).putShort(26, (short) (MAC_A >>> 32)).putInt(28, (int) MAC_A);
    byte[] advertisement =
        bytes(
            Ipv6Builder.raw(58)
                .source("fd00:7::1")
                .destination("fd00:7::2")
                .hopLimit(255)
                .payload(na)
                .build());
    List<Rec> recs = new ArrayList<>();
    recs.add(new Rec(T0, ethernet(0x3333ff000001L, MAC_B, 0x86DD, solicitation)));
    recs.add(new Rec(T0 + 1_000_000, ethernet(MAC_B, MAC_A, 0x86DD, advertisement)));
    for (int i = 0; i < 10; i++) {
      boolean fromA = i % 2 == 0;
      byte[] p =
          fromA ? udp6(5001, i, "fd00:7::1", "fd00:7::2") : udp6(5001, i, "fd00:7::2", "fd00:7::1");
      recs.add(
          new Rec(
              T0 + (i + 2) * 1_000_000L,
              fromA ? ethernet(MAC_B, MAC_A, 0x86DD, p) : ethernet(MAC_A, MAC_B, 0x86DD, p)));
      recs.add(
          new Rec(T0 + (i + 2) * 1_000_000L + 500_000, ethernet(MAC_B, MAC_A, 0x0800, udp4(7, i))));
    }
    Path in = dir.resolve("eth46.pcap");
    Captures.write(in, Captures.DLT_EN10MB, recs);
    Path out = dir.resolve("eth46-out.pcap");
    List<byte[]> got =
        replayOrSkip(
            in,
            out,
            HostOptions.builder().property(PcapProvider.LOCAL, "fd00:7::2/128"),
            "input -p udp --sport 5001 -j DIVERT 4000; output -p udp --sport 5001 -j DIVERT 4000",
            (p, a) -> true);
    assertEquals(10, got.size(), "the IPv6 datagrams of both directions; ND is not UDP");
    SavefileReplayTest.assertSameRecords(
        recs, Captures.read(out).records(), "ND untouched, written-back frames rebuilt as seen");
  }

  @Test
  void paddedFramesPassWithTheirPadding() throws Exception {
    // 40 bytes of IPv6 with "no next header" fill 54 bytes of Ethernet: padded to 60 on the wire
    byte[] empty = bytes(Ipv6Builder.raw(59).source("fd00:7::1").destination("fd00:7::2").build());
    byte[] padded = java.util.Arrays.copyOf(ethernet(MAC_B, MAC_A, 0x86DD, empty), 60);
    byte[] udp = udp6(5001, 1, "fd00:7::1", "fd00:7::2");
    List<Rec> recs =
        List.of(
            new Rec(T0, padded),
            new Rec(T0 + 1_000_000, ethernet(MAC_B, MAC_A, 0x86DD, udp)),
            new Rec(T0 + 2_000_000, padded.clone()));
    Path in = dir.resolve("padded.pcap");
    Captures.write(in, Captures.DLT_EN10MB, recs);
    Path out = dir.resolve("padded-out.pcap");
    List<byte[]> got =
        replayOrSkip(in, out, HostOptions.builder(), "input -p udp -j DIVERT 4000", (p, a) -> true);
    assertEquals(1, got.size());
    assertArrayEquals(udp, got.get(0), "no padding in what the program gets");
    SavefileReplayTest.assertSameRecords(recs, Captures.read(out).records(), "padding kept");
  }

  @Test
  void aPacketFromTheUnspecifiedAddressKeepsItsFramesMacs() throws Exception {
    // an MLD report from :: (as a kernel sends before its link-local address is ready): no
    // address tells its MAC; it is written back after frames from another MAC were read
    byte[] report = new byte[28];
    report[0] = (byte) 143;
    byte[] mld =
        bytes(Ipv6Builder.raw(58).source("::").destination("ff02::16").payload(report).build());
    List<Rec> recs = new ArrayList<>();
    recs.add(new Rec(T0, ethernet(0x333300000016L, MAC_A, 0x86DD, mld)));
    for (int i = 0; i < 20; i++) {
      byte[] p = udp6(5000, i, "fd00:7::2", "fd00:7::1");
      recs.add(new Rec(T0 + (i + 1) * 1_000_000L, ethernet(MAC_A, MAC_B, 0x86DD, p)));
    }
    Path in = dir.resolve("unspecified.pcap");
    Captures.write(in, Captures.DLT_EN10MB, recs);
    Path out = dir.resolve("unspecified-out.pcap");
    List<byte[]> got =
        replayOrSkip(
            in,
            out,
            HostOptions.builder(),
            "input -p icmpv6 -j DIVERT 4000",
            (p, a) -> {
              try {
                Thread.sleep(100); // the replay reads on meanwhile: the last source is MAC_B
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              return true;
            });
    assertEquals(1, got.size());
    SavefileReplayTest.assertSameRecords(recs, Captures.read(out).records(), "MACs as captured");
  }

  @Test
  void aKernelCaptureOfBothFamiliesReplaysPerFragment() throws Exception {
    assumeTrue(unavailable == null, unavailable);
    Capture input = Captures.read(kernel);
    Path out = dir.resolve("kernel46.pcap");
    List<byte[]> got =
        replayOrSkip(
            kernel,
            out,
            HostOptions.builder(),
            // echo requests and replies (every fragment: a protocol test, S56) and neighbour
            // discovery between the global addresses; not the kernel's early MLD reports, which
            // come from ::, whose MAC nothing teaches
            "input -p icmpv6 -s " + KernelCaptures.A6 + "/64 -j DIVERT 4000",
            (p, a) -> true);
    int fragments = 0;
    int nd = 0;
    for (byte[] p : got) {
      assertEquals(6, (p[0] & 0xf0) >> 4, "only IPv6 is diverted");
      long w = Ipv6View.walk(ByteBuffer.wrap(p), 0, p.length);
      if (Ipv6View.fragmentHeader(w) != 0) {
        fragments++;
      } else if (Ipv6View.upperProtocol(w) == 58) {
        int type = p[Ipv6View.upperOffset(w)] & 0xff;
        nd += type == 135 || type == 136 ? 1 : 0;
      }
    }
    assertEquals(12, fragments, "2 requests and 2 replies of 3 fragments each (S57)");
    assertTrue(nd >= 2, "neighbour solicitation and advertisement were diverted: " + nd);
    SavefileReplayTest.assertSameRecords(
        input.records(), Captures.read(out).records(), "written back: the input");
  }

  @Test
  void aKernelCaptureOfBothFamiliesReplaysDefragmented() throws Exception {
    assumeTrue(unavailable == null, unavailable);
    Path out = dir.resolve("kernel46-defrag.pcap");
    List<byte[]> got =
        replayOrSkip(
            kernel,
            out,
            HostOptions.builder()
                .fragments(FragmentMode.ALWAYS_DEFRAGMENT)
                .property(PcapProvider.MTU, "1500"),
            "input -p icmpv6 --icmpv6-type 128 -j DIVERT 4000;"
                + " input -p icmpv6 --icmpv6-type 129 -j DIVERT 4000",
            (p, a) -> true);
    assertEquals(4, got.size(), "two echo requests and two replies, each once (S58)");
    for (byte[] d : got) {
      long w = Ipv6View.walk(ByteBuffer.wrap(d), 0, d.length);
      assertEquals(0, Ipv6View.fragmentHeader(w), "no Fragment header");
      assertEquals(4048, d.length, "40 + 8 + 4000");
      assertEquals(4008, ((d[4] & 0xff) << 8) | (d[5] & 0xff), "the full payload length");
    }
    Capture output = Captures.read(out);
    int outFragments = 0;
    for (Rec r : output.records()) {
      byte[] f = r.frame();
      if (f.length > 54 && (f[12] & 0xff) == 0x86 && (f[13] & 0xff) == 0xdd && f[14 + 6] == 44) {
        outFragments++;
        assertTrue(f.length <= 14 + 1500, "fragmented again to pcap.mtu");
      }
    }
    assertEquals(12, outFragments, "written back, each datagram leaves as 3 fragments");
  }
}
