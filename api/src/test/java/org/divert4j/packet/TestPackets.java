package org.divert4j.packet;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/** Helpers shared by the packet tests: hex, pcap reading, copies and comparisons. */
final class TestPackets {
  private TestPackets() {}

  static ByteBuffer hex(String hex) {
    return ByteBuffer.wrap(HexFormat.of().parseHex(hex.replaceAll("\\s", "")));
  }

  static String toHex(ByteBuffer b) {
    byte[] a = new byte[b.remaining()];
    b.get(b.position(), a);
    return HexFormat.of().formatHex(a);
  }

  static byte[] bytes(ByteBuffer b) {
    byte[] a = new byte[b.remaining()];
    b.get(b.position(), a);
    return a;
  }

  static ByteBuffer copy(ByteBuffer b) {
    return ByteBuffer.wrap(bytes(b));
  }

  /** The same bytes at an awkward offset in a larger little-endian buffer, to test index use. */
  static ByteBuffer displaced(ByteBuffer b, int before, int after) {
    ByteBuffer d =
        ByteBuffer.allocate(before + b.remaining() + after).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < d.capacity(); i++) {
      d.put(i, (byte) 0xA5);
    }
    d.put(before, b, b.position(), b.remaining());
    d.position(before).limit(before + b.remaining());
    return d;
  }

  /** The IPv4 packets of a classic little-endian pcap file with Ethernet or raw-IP link type. */
  static List<ByteBuffer> readPcap(String resource) {
    try (InputStream in = TestPackets.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("missing test resource " + resource);
      }
      ByteBuffer f = ByteBuffer.wrap(in.readAllBytes()).order(ByteOrder.LITTLE_ENDIAN);
      if (f.getInt(0) != 0xa1b2c3d4) {
        throw new IllegalStateException("not a little-endian microsecond pcap: " + resource);
      }
      int link = f.getInt(20);
      int skip = link == 1 ? 14 : 0; // DLT_EN10MB: strip the Ethernet header
      List<ByteBuffer> out = new ArrayList<>();
      for (int p = 24; p < f.limit(); ) {
        int incl = f.getInt(p + 8);
        byte[] pkt = new byte[incl - skip];
        f.get(p + 16 + skip, pkt);
        out.add(ByteBuffer.wrap(pkt));
        p += 16 + incl;
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
