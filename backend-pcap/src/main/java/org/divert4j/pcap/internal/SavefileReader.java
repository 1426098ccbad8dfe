package org.divert4j.pcap.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Reads a classic pcap savefile in Java: a 24-byte file header, then per packet a 16-byte record
 * header and the captured bytes (pcap-savefile(5)). The file is read in 1 MiB blocks into one
 * direct buffer; a packet stays there until the next {@link #next()}: no native call and no
 * allocation per packet.
 *
 * <p>It takes only the files whose reading it can make identical to libpcap's ({@code sf-pcap.c},
 * {@code pcap_check_header} and {@code pcap_next_packet} of libpcap 1.10): magic {@code 0xa1b2c3d4}
 * (microseconds) or {@code 0xa1b23c4d} (nanoseconds) in either byte order, version 2.4, no FCS or
 * other bits above the link type, and the link types the replay handles. {@link #open} returns null
 * for any other file (pcapng, older versions, the "modified" format, Linux cooked captures in the
 * other byte order, whose CAN pseudo-headers libpcap would swap), which libpcap then reads. Like
 * libpcap it maps {@code LINKTYPE_RAW} (101) to {@code DLT_RAW}, fails on a record longer than
 * 262144 bytes and cuts a record longer than the file's snapshot length to that length.
 *
 * <p>Threads: one reader; {@link #close()} after it has stopped.
 */
final class SavefileReader implements SavefileInput {
  /** The read block. */
  static final int BUFFER = 1 << 20;

  private static final int FILE_HEADER = 24;
  private static final int RECORD_HEADER = 16;
  private static final int MAXIMUM_SNAPLEN = 262144; // libpcap's max_snaplen_for_dlt for these

  private final FileChannel channel;
  private final String what;
  private final ByteBuffer buf;
  private final boolean nano;
  private final int linkType;
  private final int snapshot;
  private final boolean swapped;
  private int start;
  private int length;
  private long timestamp;

  private SavefileReader(
      FileChannel channel, String what, ByteBuffer buf, boolean nano, int linkType, int snapshot) {
    this.channel = channel;
    this.what = what;
    this.buf = buf;
    this.nano = nano;
    this.linkType = linkType;
    this.snapshot = snapshot;
    this.swapped = buf.order() != ByteOrder.nativeOrder();
  }

  /**
   * Opens a savefile if it is one this reader takes.
   *
   * @param file the file
   * @return the reader, positioned at the first packet, or null if libpcap should read the file
   * @throws IOException if the file cannot be opened or read
   */
  static SavefileReader open(Path file) throws IOException {
    FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
    try {
      ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER);
      while (buf.position() < FILE_HEADER && ch.read(buf) >= 0) {
        // a short read: read on
      }
      buf.flip();
      SavefileReader r = buf.remaining() < FILE_HEADER ? null : fromHeader(ch, file, buf);
      if (r == null) {
        ch.close();
      }
      return r;
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  private static SavefileReader fromHeader(FileChannel ch, Path file, ByteBuffer buf) {
    int magic = buf.order(ByteOrder.BIG_ENDIAN).getInt(0);
    boolean nano;
    if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) {
      nano = magic == 0xa1b23c4d;
    } else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) {
      nano = magic == 0x4d3cb2a1;
      buf.order(ByteOrder.LITTLE_ENDIAN);
    } else {
      return null;
    }
    if (buf.getShort(4) != 2 || buf.getShort(6) != 4) {
      return null;
    }
    int snaplen = buf.getInt(16);
    int dlt = dlt(buf.getInt(20));
    boolean swapped = buf.order() != ByteOrder.nativeOrder();
    if (dlt < 0 || swapped && (dlt == LinkTypes.DLT_LINUX_SLL || dlt == LinkTypes.DLT_LINUX_SLL2)) {
      return null;
    }
    // pcap_adjust_snapshot: 0 or more than the maximum means the maximum (unsigned compare)
    int snapshot =
        snaplen == 0 || Integer.compareUnsigned(snaplen, MAXIMUM_SNAPLEN) > 0
            ? MAXIMUM_SNAPLEN
            : snaplen;
    buf.position(FILE_HEADER);
    return new SavefileReader(ch, "input capture " + file, buf, nano, dlt, snapshot);
  }

  /**
   * @param linkType the file header's link-type field
   * @return the DLT_ value libpcap reports for it ({@code linktype_to_dlt}), or -1 for a field this
   *     reader leaves to libpcap
   */
  private static int dlt(int linkType) {
    return switch (linkType) {
      case LinkTypes.DLT_EN10MB,
          LinkTypes.DLT_LINUX_SLL,
          LinkTypes.DLT_LINUX_SLL2,
          LinkTypes.DLT_IPV4,
          LinkTypes.DLT_IPV6 ->
          linkType;
      case LinkTypes.LINKTYPE_RAW -> LinkTypes.DLT_RAW;
      default -> -1;
    };
  }

  @Override
  public int next() throws IOException {
    if (buf.remaining() < RECORD_HEADER && !fill(RECORD_HEADER)) {
      if (buf.remaining() == 0) {
        return CaptureHandle.END;
      }
      throw new IOException(
          what
              + ": truncated dump file; tried to read 16 header bytes, only got "
              + buf.remaining());
    }
    int p = buf.position();
    // Widened as libpcap 1.10 widens them (pcap_next_packet): signed from a file in the machine's
    // byte order (bpf_int32 fields), unsigned from the other order (SWAPLONG's unsigned result).
    // Only a timestamp past 2038 or a fraction out of range tells the difference.
    long sec = buf.getInt(p);
    long frac = buf.getInt(p + 4);
    if (swapped) {
      sec &= 0xffffffffL;
      frac &= 0xffffffffL;
    }
    int caplen = buf.getInt(p + 8);
    buf.position(p + RECORD_HEADER);
    if (Integer.compareUnsigned(caplen, MAXIMUM_SNAPLEN) > 0) {
      throw new IOException(
          what
              + ": invalid packet capture length "
              + Integer.toUnsignedString(caplen)
              + ", bigger than maximum of "
              + MAXIMUM_SNAPLEN);
    }
    if (buf.remaining() < caplen && !fill(caplen)) {
      throw new IOException(
          what
              + ": truncated dump file; tried to read "
              + caplen
              + " captured bytes, only got "
              + buf.remaining());
    }
    start = buf.position();
    length = Math.min(caplen, snapshot); // libpcap reads the snapshot and skips the rest
    buf.position(start + caplen);
    timestamp = sec * 1_000_000_000L + (nano ? frac : frac * 1000);
    return CaptureHandle.PACKET;
  }

  /** Moves what is left to the front and reads on until {@code n} bytes are there or the end. */
  private boolean fill(int n) throws IOException {
    buf.compact();
    while (buf.position() < n && channel.read(buf) >= 0) {
      // read on: a read may return fewer bytes than asked
    }
    buf.flip();
    return buf.remaining() >= n;
  }

  @Override
  public int length() {
    return length;
  }

  @Override
  public long timestampNanos() {
    return timestamp;
  }

  @Override
  public void copyTo(byte[] dst, int offset, int count) {
    buf.get(start, dst, offset, count);
  }

  @Override
  public int linkType() {
    return linkType;
  }

  @Override
  public boolean nano() {
    return nano;
  }

  @Override
  public void close() {
    try {
      channel.close();
    } catch (IOException e) {
      // a file only read: nothing is lost
    }
  }

  @Override
  public String toString() {
    return what;
  }
}
