package org.divert4j.packet;

import static org.divert4j.packet.TestPackets.toHex;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertException;
import org.divert4j.MalformedPacketException;
import org.divert4j.PacketTooLargeException;
import org.junit.jupiter.api.Test;

class FragmenterTest {
  private final Fragmenter fragmenter = new Fragmenter();

  /** The UDP datagram that the kernel fragmented in the capture (#17-#19), rebuilt. */
  private static ByteBuffer kernelUdp4000() {
    byte[] data = new byte[4000];
    for (int i = 0; i < 3840; i++) {
      data[i] = (byte) i;
    }
    Arrays.fill(data, 3840, 4000, (byte) 'x');
    return Ipv4Builder.udp(40000, 9999)
        .source("10.9.0.1")
        .destination("10.9.0.2")
        .identification(0x3075)
        .payload(data)
        .build();
  }

  private List<ByteBuffer> collect(ByteBuffer datagram, int mtu) throws DivertException {
    List<ByteBuffer> out = new ArrayList<>();
    int n = fragmenter.fragment(datagram, mtu, f -> out.add(TestPackets.copy(f)));
    assertEquals(out.size(), n);
    return out;
  }

  @Test
  void producesExactlyTheKernelsFragments() throws DivertException {
    ByteBuffer d = kernelUdp4000();
    ByteBuffer[] kernel = KernelVectors.pick(KernelVectors.UDP_4000_FRAGMENTS);
    List<ByteBuffer> ours = collect(d, 1500);
    assertEquals(3, ours.size());
    for (int i = 0; i < 3; i++) {
      assertEquals(toHex(kernel[i]), toHex(ours.get(i)), "fragment " + i);
    }
    List<ByteBuffer> viaStatic = Fragmenter.fragment(d, 1500);
    for (int i = 0; i < 3; i++) {
      assertEquals(toHex(kernel[i]), toHex(viaStatic.get(i)));
    }
  }

  @Test
  void fragmentShapes() throws DivertException {
    ByteBuffer d = Ipv4Builder.raw(200).identification(77).payloadLength(4008).build();
    Ipv4View v = new Ipv4View();
    for (int mtu : new int[] {68, 69, 75, 76, 100, 576, 1280, 1499, 1500, 4027}) {
      List<ByteBuffer> fs = collect(d, mtu);
      int expectOffset = 0;
      for (int i = 0; i < fs.size(); i++) {
        v.wrap(fs.get(i));
        boolean last = i == fs.size() - 1;
        assertNull(v.check(), "mtu " + mtu + " fragment " + i);
        assertTrue(v.length() <= mtu);
        assertTrue(v.isHeaderChecksumValid());
        assertEquals(77, v.identification());
        assertEquals(200, v.protocol());
        assertEquals(v.length(), v.totalLength());
        assertEquals(!last, v.moreFragments());
        assertFalse(v.dontFragment());
        assertEquals(expectOffset, v.fragmentOffset());
        if (!last) {
          assertEquals(0, v.payloadLength() % 8);
          assertTrue(v.length() + 8 > mtu, "as large as fits: mtu " + mtu);
        }
        expectOffset += v.payloadLength();
      }
      assertEquals(4008, expectOffset);
    }
  }

  @Test
  void passesADatagramThatFitsThroughUnchanged() throws DivertException {
    ByteBuffer d = Ipv4Builder.udp(1, 2).payloadLength(1472).dontFragment(true).build();
    byte[] before = TestPackets.bytes(d);
    ByteBuffer[] seen = new ByteBuffer[1];
    assertEquals(1, fragmenter.fragment(d, 1500, f -> seen[0] = f));
    assertSame(d, seen[0], "the caller's own buffer, no copy");
    assertArrayEquals(before, TestPackets.bytes(d));
    List<ByteBuffer> copies = Fragmenter.fragment(d, 1500);
    assertEquals(1, copies.size());
    assertNotSame(d, copies.get(0));
    assertArrayEquals(before, TestPackets.bytes(copies.get(0)));
    // One byte more than the MTU is fragmented (S28's boundary).
    ByteBuffer e = Ipv4Builder.udp(1, 2).payloadLength(1473).build();
    assertEquals(2, Fragmenter.fragment(e, 1500).size());
  }

  @Test
  void dontFragmentOverTheMtuIsRefused() {
    ByteBuffer d = Ipv4Builder.udp(1, 2).payloadLength(1473).dontFragment(true).build();
    PacketTooLargeException e =
        assertThrows(PacketTooLargeException.class, () -> fragmenter.fragment(d, 1500, f -> {}));
    assertEquals(1501, e.length());
    assertEquals(1500, e.mtu());
    assertTrue(e.getMessage().contains("DF set"), e.getMessage());
    assertTrue(e.errno().isEmpty());
    assertThrows(PacketTooLargeException.class, () -> Fragmenter.fragment(d, 1500));
  }

  @Test
  void moreThan65535BytesIsRefused() {
    ByteBuffer big = ByteBuffer.allocate(65536);
    big.put(0, Ipv4Builder.raw(1).build(), 0, 20);
    PacketTooLargeException e =
        assertThrows(PacketTooLargeException.class, () -> fragmenter.fragment(big, 1500, f -> {}));
    assertEquals(65535, e.mtu());
    assertEquals(65536, e.length());
  }

  @Test
  void malformedDatagramsAreRefusedWithTheirDefect() {
    ByteBuffer d = Ipv4Builder.udp(1, 2).payloadLength(3000).build();
    new Ipv4View().wrap(d).setIhl(4);
    MalformedPacketException e =
        assertThrows(MalformedPacketException.class, () -> fragmenter.fragment(d, 1500, f -> {}));
    assertEquals(Defect.BAD_HEADER_LENGTH, e.defect());
    MalformedPacketException s =
        assertThrows(MalformedPacketException.class, () -> Fragmenter.fragment(d, 1500));
    assertEquals(Defect.BAD_HEADER_LENGTH, s.defect());
    assertEquals(
        Defect.TOO_SHORT,
        assertThrows(
                MalformedPacketException.class,
                () -> fragmenter.fragment(ByteBuffer.allocate(10), 1500, f -> {}))
            .defect());
  }

  @Test
  void mtuUnder68IsAnArgumentError() {
    ByteBuffer d = Ipv4Builder.udp(1, 2).payloadLength(100).build();
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> fragmenter.fragment(d, 67, f -> {}));
    assertTrue(e.getMessage().contains("68"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Fragmenter.fragment(d, 0));
    assertThrows(NullPointerException.class, () -> fragmenter.fragment(d, 1500, null));
  }

  @Test
  void mtu68WithAFullHeaderCarries8BytesPerFragment() throws DivertException {
    byte[] opts = new byte[40];
    Arrays.fill(opts, (byte) 1); // NOPs: not copied
    ByteBuffer d = Ipv4Builder.raw(17).options(opts).payloadLength(100).build();
    List<ByteBuffer> fs = collect(d, 68);
    Ipv4View v = new Ipv4View();
    assertEquals(68, v.wrap(fs.get(0)).length(), "60 header + 8 data");
    assertEquals(20, v.wrap(fs.get(1)).headerLength(), "later fragments drop the NOPs");
    assertEquals(48, v.wrap(fs.get(1)).payloadLength());
    assertEquals(3, fs.size(), "8 + 48 + 44");
  }

  @Test
  void copiesOnlyOptionsWithTheCopiedBitIntoLaterFragments() throws DivertException {
    byte[] opts = {
      1, // NOP: not copied
      0x07,
      7,
      4,
      0,
      0,
      0,
      0, // Record Route, 7 bytes: not copied
      (byte) 0x83,
      7,
      4,
      10,
      0,
      0,
      9, // Loose Source Route, 7 bytes: copied
      (byte) 0x94,
      4,
      0,
      0, // Router Alert, 4 bytes: copied
      0,
      0,
      0 // End of Option List, padding
    };
    ByteBuffer d = Ipv4Builder.raw(17).options(opts).identification(5).payloadLength(600).build();
    List<ByteBuffer> fs = collect(d, 200);
    Ipv4View v = new Ipv4View();
    v.wrap(fs.get(0));
    assertEquals(44, v.headerLength());
    assertEquals(
        toHex(ByteBuffer.wrap(opts)) + "0000", // the builder pads 22 option bytes to 24
        toHex(fs.get(0).duplicate().position(20).limit(44)),
        "the first fragment has every option");
    for (int i = 1; i < fs.size(); i++) {
      v.wrap(fs.get(i));
      assertEquals(32, v.headerLength(), "20 + 7 + 4, padded to 32");
      assertEquals(
          "830704" + "0a000009" + "94040000" + "00",
          toHex(fs.get(i).duplicate().position(20).limit(32)));
      assertTrue(v.isHeaderChecksumValid());
      assertEquals(5, v.identification());
    }
    // 200-byte MTU: the first carries 152 data bytes (44-byte header), later ones 168 (32-byte).
    assertEquals(152, v.wrap(fs.get(0)).payloadLength());
    assertEquals(168, v.wrap(fs.get(1)).payloadLength());
    assertEquals(152, v.wrap(fs.get(1)).fragmentOffset());
  }

  @Test
  void malformedOptionsStopTheCopy() throws DivertException {
    byte[] opts = {
      (byte) 0x94, 4, 0, 0, // Router Alert: copied
      (byte) 0x83, 1, 0, 0 // length 1: malformed, parsing stops here
    };
    ByteBuffer d = Ipv4Builder.raw(17).options(opts).payloadLength(300).build();
    List<ByteBuffer> fs = collect(d, 100);
    assertEquals("94040000", toHex(fs.get(1).duplicate().position(20).limit(24)));
    assertEquals(24, new Ipv4View().wrap(fs.get(1)).headerLength());
    byte[] past = {(byte) 0x83, 9, 0, 0}; // length past the header
    ByteBuffer e = Ipv4Builder.raw(17).options(past).payloadLength(300).build();
    assertEquals(20, new Ipv4View().wrap(collect(e, 100).get(1)).headerLength());
  }

  @Test
  void aNonLastFragmentIsFragmentedAgainKeepingMfAndAddingItsOffset() throws DivertException {
    ByteBuffer f =
        Ipv4Builder.raw(17)
            .moreFragments(true)
            .fragmentOffset(800)
            .identification(9)
            .payloadLength(1600)
            .build();
    List<ByteBuffer> fs = collect(f, 596);
    Ipv4View v = new Ipv4View();
    int off = 800;
    for (ByteBuffer x : fs) {
      v.wrap(x);
      assertTrue(v.moreFragments(), "every piece of a non-last fragment keeps MF");
      assertEquals(off, v.fragmentOffset());
      off += v.payloadLength();
    }
    assertEquals(2400, off);
    ByteBuffer lastIn = Ipv4Builder.raw(17).fragmentOffset(80).payloadLength(1000).build();
    List<ByteBuffer> gs = collect(lastIn, 576);
    assertEquals(80, v.wrap(gs.get(0)).fragmentOffset());
    assertTrue(v.moreFragments());
    assertFalse(v.wrap(gs.get(gs.size() - 1)).moreFragments());
  }

  @Test
  void keepsTheReservedFlagTosTtlAndAddresses() throws DivertException {
    ByteBuffer d =
        Ipv4Builder.udp(1, 2)
            .reservedFlag(true)
            .tos(0x2e)
            .ttl(3)
            .source(0x01020304)
            .destination(0x05060708)
            .payloadLength(3000)
            .build();
    Ipv4View v = new Ipv4View();
    for (ByteBuffer f : collect(d, 1500)) {
      v.wrap(f);
      assertTrue(v.reservedFlag());
      assertEquals(0x2e, v.tos());
      assertEquals(3, v.ttl());
      assertEquals(0x01020304, v.source());
      assertEquals(0x05060708, v.destination());
    }
  }

  @Test
  void leavesTheInputAloneAndIgnoresItsTotalLengthField() throws DivertException {
    ByteBuffer d = Ipv4Builder.udp(1, 2).payloadLength(3000).build();
    ByteBuffer framed = TestPackets.displaced(d, 11, 13);
    new Ipv4View().wrap(framed).setTotalLength(0); // send side: the field is ignored (S40)
    byte[] before = TestPackets.bytes(framed);
    List<ByteBuffer> fs = collect(framed, 1500);
    assertEquals(11, framed.position());
    assertEquals(11 + 3028, framed.limit());
    assertArrayEquals(before, TestPackets.bytes(framed));
    int sum = 0;
    for (ByteBuffer f : fs) {
      sum += new Ipv4View().wrap(f).payloadLength();
    }
    assertEquals(3008, sum);
  }

  @Test
  void aThrowingSinkStopsFragmenting() {
    ByteBuffer d = Ipv4Builder.udp(1, 2).payloadLength(6000).build();
    int[] calls = {0};
    DivertClosedException e =
        assertThrows(
            DivertClosedException.class,
            () ->
                fragmenter.fragment(
                    d,
                    1500,
                    f -> {
                      if (++calls[0] == 2) {
                        throw new DivertClosedException("closed");
                      }
                    }));
    assertTrue(e.getMessage().startsWith("closed"), e.getMessage());
    assertEquals(2, calls[0]);
  }

  @Test
  void theSinkMayConsumeTheScratchBuffer() throws DivertException {
    ByteBuffer d = kernelUdp4000();
    List<String> hex = new ArrayList<>();
    fragmenter.fragment(
        d,
        1500,
        f -> {
          hex.add(toHex(f));
          f.position(f.limit()); // as a channel write would
          f.put(0, (byte) 0); // and scribble
        });
    ByteBuffer[] kernel = KernelVectors.pick(KernelVectors.UDP_4000_FRAGMENTS);
    for (int i = 0; i < 3; i++) {
      assertEquals(toHex(kernel[i]), hex.get(i));
    }
  }

  @Test
  void directScratchAndAGrowingMtu() throws DivertException {
    Fragmenter direct = new Fragmenter(true);
    ByteBuffer d = Ipv4Builder.raw(17).payloadLength(20000).build();
    List<ByteBuffer> a = new ArrayList<>();
    direct.fragment(
        d,
        1500,
        f -> {
          assertTrue(f.isDirect());
          a.add(TestPackets.copy(f));
        });
    List<ByteBuffer> b = new ArrayList<>();
    direct.fragment(d, 9000, f -> b.add(TestPackets.copy(f)));
    assertEquals(14, a.size());
    assertEquals(3, b.size());
    assertEquals(20 + 8976, b.get(0).limit(), "8980 data bytes fit, rounded down to 8");
  }

  @Test
  void fragmentingAllocatesNothing() throws DivertException {
    ByteBuffer d = Ipv4Builder.udp(1, 2).payloadLength(65535 - 28).build();
    int[] n = {0};
    FragmentSink sink = f -> n[0] += f.remaining();
    fragmenter.fragment(d, 1500, sink);
    long before = Alloc.bytes();
    for (int i = 0; i < 50; i++) {
      fragmenter.fragment(d, 1500, sink);
    }
    long used = Alloc.bytes() - before;
    assertTrue(used < 1024, "allocated " + used + " bytes");
  }
}
