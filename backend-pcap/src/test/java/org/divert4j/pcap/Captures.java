package org.divert4j.pcap;

import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeoutException;
import org.pcap4j.core.PcapHandle;
import org.pcap4j.core.Pcaps;

/** Reading captures with libpcap (through pcap4j), and writing small ones in plain Java. */
final class Captures {
  static final int DLT_EN10MB = 1;
  static final int LINKTYPE_RAW = 101;

  /** One packet of a capture. */
  record Rec(long timestampNanos, byte[] frame) {
    /** The IPv4 packet in it, or null. */
    byte[] ip(int linkType) {
      int off = ipOffset(linkType, frame);
      if (off < 0) {
        return null;
      }
      int total = ((frame[off + 2] & 0xff) << 8) | (frame[off + 3] & 0xff);
      return Arrays.copyOfRange(frame, off, Math.min(frame.length, off + total));
    }
  }

  /** A capture read by libpcap. */
  record Capture(int linkType, List<Rec> records) {
    List<byte[]> ipPackets() {
      List<byte[]> l = new ArrayList<>();
      for (Rec r : records) {
        byte[] ip = r.ip(linkType);
        if (ip != null) {
          l.add(ip);
        }
      }
      return l;
    }

    List<Rec> ipRecords() {
      List<Rec> l = new ArrayList<>();
      for (Rec r : records) {
        if (r.ip(linkType) != null) {
          l.add(r);
        }
      }
      return l;
    }

    List<Rec> nonIpRecords() {
      List<Rec> l = new ArrayList<>();
      for (Rec r : records) {
        if (r.ip(linkType) == null) {
          l.add(r);
        }
      }
      return l;
    }
  }

  private Captures() {}

  static int ipOffset(int linkType, byte[] f) {
    int off;
    int type;
    switch (linkType) {
      case DLT_EN10MB:
        off = 14;
        type = f.length >= 14 ? ((f[12] & 0xff) << 8) | (f[13] & 0xff) : -1;
        break;
      case 276: // LINUX_SLL2
        off = 20;
        type = f.length >= 20 ? ((f[0] & 0xff) << 8) | (f[1] & 0xff) : -1;
        break;
      case 113: // LINUX_SLL
        off = 16;
        type = f.length >= 16 ? ((f[14] & 0xff) << 8) | (f[15] & 0xff) : -1;
        break;
      default:
        off = 0;
        type = 0x0800;
    }
    if (type != 0x0800 || f.length < off + 20 || (f[off] & 0xf0) != 0x40) {
      return -1;
    }
    return off;
  }

  /**
   * Reads a capture with libpcap, at nanosecond resolution.
   *
   * @param file the capture
   * @return its link type and packets
   * @throws Exception if libpcap cannot read it
   */
  static Capture read(Path file) throws Exception {
    PcapHandle h = Pcaps.openOffline(file.toString(), PcapHandle.TimestampPrecision.NANO);
    try {
      List<Rec> recs = new ArrayList<>();
      while (true) {
        byte[] b;
        try {
          b = h.getNextRawPacketEx();
        } catch (EOFException e) {
          break;
        } catch (TimeoutException e) {
          continue;
        }
        Timestamp ts = h.getTimestamp();
        recs.add(new Rec(Math.floorDiv(ts.getTime(), 1000) * 1_000_000_000L + ts.getNanos(), b));
      }
      return new Capture(h.getDlt().value(), recs);
    } finally {
      h.close();
    }
  }

  /**
   * Writes a microsecond pcap file.
   *
   * @param file the file
   * @param linkType its link type (LINKTYPE_ value)
   * @param records timestamps and frames
   * @throws IOException if writing fails
   */
  static void write(Path file, int linkType, List<Rec> records) throws IOException {
    try (OutputStream o = Files.newOutputStream(file);
        DataOutputStream d = new DataOutputStream(o)) {
      d.writeInt(0xa1b2c3d4);
      d.writeShort(2);
      d.writeShort(4);
      d.writeInt(0);
      d.writeInt(0);
      d.writeInt(262144);
      d.writeInt(linkType);
      for (Rec r : records) {
        d.writeInt((int) (r.timestampNanos() / 1_000_000_000L));
        d.writeInt((int) (r.timestampNanos() % 1_000_000_000L / 1000));
        d.writeInt(r.frame().length);
        d.writeInt(r.frame().length);
        d.write(r.frame());
      }
    }
  }

  /** Takes the Ethernet header off every IPv4 frame (others are left out): a raw IP capture. */
  static List<Rec> toRawIp(Capture ethernet) {
    List<Rec> out = new ArrayList<>();
    for (Rec r : ethernet.records()) {
      byte[] ip = r.ip(ethernet.linkType());
      if (ip != null) {
        out.add(new Rec(r.timestampNanos(), ip));
      }
    }
    return out;
  }

  static int u16(byte[] p, int off) {
    return ((p[off] & 0xff) << 8) | (p[off + 1] & 0xff);
  }

  static boolean moreFragments(byte[] ip) {
    return (ip[6] & 0x20) != 0;
  }

  static int fragmentOffset(byte[] ip) {
    return (u16(ip, 6) & 0x1fff) * 8;
  }

  static boolean isFragment(byte[] ip) {
    return moreFragments(ip) || fragmentOffset(ip) != 0;
  }

  static int protocol(byte[] ip) {
    return ip[9] & 0xff;
  }

  static int source(byte[] ip) {
    return ByteBuffer.wrap(ip).getInt(12);
  }
}
