package org.divert4j.cli;

import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes IP packets to a classic pcap file (microsecond timestamps, little-endian, link type
 * LINKTYPE_RAW = 101: each record starts at the IP header), which Wireshark and tcpdump read. Small
 * and dependency-free on purpose: {@code dump --write} needs nothing more. Not thread-safe.
 */
final class PcapWriter implements Closeable {
  /** LINKTYPE_RAW: raw IPv4/IPv6, no link-layer header (tcpdump.org/linktypes.html). */
  static final int LINKTYPE_RAW = 101;

  static final int MAGIC = 0xa1b2c3d4;
  static final int SNAPLEN = 65535;

  private final OutputStream out;
  private final ByteBuffer header = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
  private final byte[] copy = new byte[SNAPLEN];
  private long records;

  /**
   * Creates (or truncates) the file and writes the global header.
   *
   * @param file where to write
   * @throws IOException if the file cannot be written
   */
  PcapWriter(Path file) throws IOException {
    this(Files.newOutputStream(file));
  }

  PcapWriter(OutputStream stream) throws IOException {
    this.out = new BufferedOutputStream(stream, 1 << 16);
    header.clear();
    header.putInt(MAGIC).putShort((short) 2).putShort((short) 4);
    header.putInt(0).putInt(0).putInt(SNAPLEN).putInt(LINKTYPE_RAW);
    out.write(header.array(), 0, 24);
  }

  /**
   * Appends one packet.
   *
   * @param packet the IP packet, from position to limit; not modified
   * @param epochMicros the capture time in microseconds since the epoch
   * @throws IOException if writing fails
   */
  void write(ByteBuffer packet, long epochMicros) throws IOException {
    int len = packet.remaining();
    int kept = Math.min(len, SNAPLEN);
    header.clear();
    header.putInt((int) (epochMicros / 1_000_000)).putInt((int) (epochMicros % 1_000_000));
    header.putInt(kept).putInt(len);
    out.write(header.array(), 0, 16);
    packet.get(packet.position(), copy, 0, kept);
    out.write(copy, 0, kept);
    records++;
  }

  /**
   * @return the number of packets written
   */
  long records() {
    return records;
  }

  @Override
  public void close() throws IOException {
    out.close();
  }
}
