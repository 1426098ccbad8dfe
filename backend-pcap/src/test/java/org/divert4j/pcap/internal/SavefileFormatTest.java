package org.divert4j.pcap.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Timestamp;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pcap4j.core.PcapDumper;
import org.pcap4j.core.PcapHandle;
import org.pcap4j.core.Pcaps;
import org.pcap4j.packet.namednumber.DataLinkType;

/**
 * The Java savefile reader and writer against libpcap: what {@link SavefileReader} reads equals
 * what libpcap's {@code pcap_next_ex} returns, and what {@link DumpFile} writes equals, byte for
 * byte, what libpcap's {@code pcap_dump} writes. Needs libpcap, not root.
 */
class SavefileFormatTest {
  @TempDir Path dir;

  /** Frames of varied lengths and content. */
  private static byte[][] frames(int n) {
    byte[][] f = new byte[n][];
    for (int i = 0; i < n; i++) {
      f[i] = new byte[14 + (i * 7919) % 1500];
      for (int j = 0; j < f[i].length; j++) {
        f[i][j] = (byte) (i * 31 + j);
      }
    }
    return f;
  }

  /** A classic savefile written by hand, in the given byte order and with the given fields. */
  private static Path write(
      Path file,
      ByteOrder order,
      int magic,
      int major,
      int minor,
      int snaplen,
      int linkType,
      byte[][] frames,
      int[] caplens)
      throws IOException {
    int size = 24;
    for (byte[] f : frames) {
      size += 16 + f.length;
    }
    ByteBuffer b = ByteBuffer.allocate(size).order(order);
    b.putInt(magic).putShort((short) major).putShort((short) minor).putInt(0).putInt(0);
    b.putInt(snaplen).putInt(linkType);
    for (int i = 0; i < frames.length; i++) {
      // past 2038 (the sign bit set) and a fraction out of range: read as libpcap reads them
      b.putInt(i == 1 ? -5 : 1_700_000_000 + i);
      b.putInt(i == 2 ? -7 : (i * 123_457) % 1_000_000);
      b.putInt(caplens != null ? caplens[i] : frames[i].length);
      b.putInt(frames[i].length + 4);
      b.put(frames[i]);
    }
    Files.write(file, b.array());
    return file;
  }

  private static void assertSameReading(Path file, boolean nano) throws Exception {
    try (SavefileReader java = SavefileReader.open(file);
        CaptureHandle lib = Pcap.openOffline(file)) {
      assertNotNull(java, "the Java reader takes " + file.getFileName());
      assertEquals(lib.linkType(), java.linkType(), "link type");
      assertEquals(lib.nano(), java.nano());
      assertEquals(nano, java.nano());
      int n = 0;
      while (true) {
        int rc = lib.next();
        assertEquals(rc, java.next(), "packet " + n);
        if (rc == CaptureHandle.END) {
          break;
        }
        assertEquals(lib.length(), java.length(), "length of packet " + n);
        assertEquals(lib.timestampNanos(), java.timestampNanos(), "timestamp of packet " + n);
        byte[] a = new byte[lib.length()];
        byte[] b = new byte[java.length()];
        lib.copyTo(a, 0, a.length);
        java.copyTo(b, 0, b.length);
        assertArrayEquals(a, b, "packet " + n);
        n++;
      }
      assertEquals(40, n);
    }
  }

  @Test
  void classicFilesReadInJavaAsLibpcapReadsThemInEitherByteOrderAndResolution() throws Exception {
    byte[][] f = frames(40);
    int i = 0;
    for (ByteOrder order : new ByteOrder[] {ByteOrder.LITTLE_ENDIAN, ByteOrder.BIG_ENDIAN}) {
      for (int magic : new int[] {0xa1b2c3d4, 0xa1b23c4d}) {
        for (int lt : new int[] {LinkTypes.DLT_EN10MB, LinkTypes.LINKTYPE_RAW}) {
          Path p = write(dir.resolve("f" + i++ + ".pcap"), order, magic, 2, 4, 65535, lt, f, null);
          assertSameReading(p, magic == 0xa1b23c4d);
        }
      }
    }
  }

  @Test
  void recordsLongerThanTheSnapshotLengthAreCutAsLibpcapCutsThem() throws Exception {
    byte[][] f = frames(40);
    Path p =
        write(dir.resolve("snap.pcap"), ByteOrder.nativeOrder(), 0xa1b2c3d4, 2, 4, 100, 1, f, null);
    assertSameReading(p, false);
  }

  @Test
  void otherFormatsAreLeftToLibpcap() throws Exception {
    byte[][] f = frames(2);
    ByteOrder o = ByteOrder.nativeOrder();
    ByteOrder other = o == ByteOrder.BIG_ENDIAN ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN;
    assertNull(SavefileReader.open(write(dir.resolve("a"), o, 0xa1b2c3d4, 2, 3, 0, 1, f, null)));
    assertNull(SavefileReader.open(write(dir.resolve("b"), o, 0xa1b2cd34, 2, 4, 0, 1, f, null)));
    assertNull(SavefileReader.open(write(dir.resolve("c"), o, 0xa1b2c3d4, 2, 4, 0, 147, f, null)));
    assertNull(
        SavefileReader.open(write(dir.resolve("d"), o, 0xa1b2c3d4, 2, 4, 0, 1 | 1 << 28, f, null)));
    assertNull(
        SavefileReader.open(
            write(dir.resolve("e"), other, 0xa1b2c3d4, 2, 4, 0, LinkTypes.DLT_LINUX_SLL, f, null)));
    Path ng = dir.resolve("f.pcapng");
    Files.write(ng, new byte[] {0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a});
    assertNull(SavefileReader.open(ng));
    // the same Linux cooked file in this machine's order is read in Java
    try (SavefileReader r =
        SavefileReader.open(
            write(dir.resolve("g"), o, 0xa1b2c3d4, 2, 4, 0, LinkTypes.DLT_LINUX_SLL, f, null))) {
      assertNotNull(r);
    }
  }

  @Test
  void damagedFilesFailAsInLibpcap() throws Exception {
    byte[][] f = frames(3);
    int[] huge = {f[0].length, 300_000, f[2].length};
    Path p =
        write(dir.resolve("huge.pcap"), ByteOrder.nativeOrder(), 0xa1b2c3d4, 2, 4, 0, 1, f, huge);
    try (SavefileReader r = SavefileReader.open(p)) {
      assertEquals(CaptureHandle.PACKET, r.next());
      IOException e = assertThrows(IOException.class, r::next);
      assertEquals(true, e.getMessage().contains("invalid packet capture length 300000"));
    }
    Path t = dir.resolve("truncated.pcap");
    byte[] whole =
        Files.readAllBytes(
            write(
                dir.resolve("whole.pcap"),
                ByteOrder.nativeOrder(),
                0xa1b2c3d4,
                2,
                4,
                0,
                1,
                f,
                null));
    Files.write(t, Arrays.copyOf(whole, whole.length - 5));
    try (SavefileReader r = SavefileReader.open(t)) {
      assertEquals(CaptureHandle.PACKET, r.next());
      assertEquals(CaptureHandle.PACKET, r.next());
      IOException e = assertThrows(IOException.class, r::next);
      assertEquals(true, e.getMessage().contains("truncated dump file"), e.getMessage());
    }
  }

  @Test
  void theJavaWriterWritesWhatLibpcapWrites() throws Exception {
    byte[][] f = frames(3000); // several write blocks
    long[] ts = new long[f.length];
    for (int i = 0; i < f.length; i++) {
      ts[i] = (1_700_000_000L + i) * 1_000_000_000L + (i * 987_654_321L) % 1_000_000_000L;
    }
    for (boolean nano : new boolean[] {false, true}) {
      for (int dlt : new int[] {LinkTypes.DLT_EN10MB, LinkTypes.DLT_RAW}) {
        Path mine = dir.resolve("mine-" + nano + dlt + ".pcap");
        Path theirs = dir.resolve("theirs-" + nano + dlt + ".pcap");
        try (DumpFile out = Pcap.openDump(mine, dlt, nano)) {
          for (int i = 0; i < f.length; i++) {
            out.frame().put(0, f[i]);
            out.write(ts[i], f[i].length);
          }
          out.flush();
        }
        PcapHandle.TimestampPrecision precision =
            nano ? PcapHandle.TimestampPrecision.NANO : PcapHandle.TimestampPrecision.MICRO;
        try (PcapHandle dead =
                Pcaps.openDead(DataLinkType.getInstance(dlt), Pcap.SNAPLEN, precision);
            PcapDumper d = dead.dumpOpen(theirs.toString())) {
          for (int i = 0; i < f.length; i++) {
            long sec = Math.floorDiv(ts[i], 1_000_000_000L);
            Timestamp t = new Timestamp(sec * 1000);
            t.setNanos((int) Math.floorMod(ts[i], 1_000_000_000L));
            d.dumpRaw(f[i], t);
          }
        }
        assertArrayEquals(
            Files.readAllBytes(theirs), Files.readAllBytes(mine), "nano " + nano + " dlt " + dlt);
      }
    }
  }
}
