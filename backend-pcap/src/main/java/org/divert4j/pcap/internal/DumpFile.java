package org.divert4j.pcap.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Timestamp;
import org.pcap4j.core.NotOpenException;
import org.pcap4j.core.PcapDumper;
import org.pcap4j.core.PcapHandle;
import org.pcap4j.core.PcapNativeException;

/**
 * A savefile being written: frames are composed in {@link #frame()} and appended with {@link
 * #write(long, int)}, without allocating.
 *
 * <p>The fast path lets libpcap write the file header ({@code pcap_dump_fopen} on a {@code
 * pcap_open_dead} handle, so magic, version, snapshot length and link type are libpcap's own), then
 * appends the records in Java: a 16-byte record header in the machine's byte order, as {@code
 * pcap_dump} writes it ({@code sf-pcap.c}: seconds and the fraction as 32-bit values, captured and
 * wire length), and the frame, gathered in a 128 KiB direct buffer written with one {@code
 * FileChannel} write when full: no native call per packet. When pcap4j's handle cannot be reached
 * (see {@link CaptureHandle}), pcap4j's own {@code dumpOpen} and {@code dumpRaw} are used; the
 * latter builds a JNA structure per packet.
 *
 * <p>Not thread-safe: callers serialise writes. {@link #close()} flushes and closes; idempotent.
 */
final class DumpFile implements AutoCloseable {
  /**
   * The write block of the fast path: a frame of {@link CaptureHandle#MAX_FRAME} and its record
   * header fit, and the block stays in the cache until the kernel copies it into the page cache (a
   * 1 MiB block made that copy about six times as expensive in a perf profile of the replay).
   */
  static final int BUFFER = 1 << 17;

  private static final int RECORD_HEADER = 16;

  private final PcapHandle dead;
  private final PcapDumper dumper; // the portable path, else null
  private final FileChannel channel; // the fast path, else null
  private final ByteBuffer block; // the fast path's write buffer, else null
  private final boolean nano;
  private final String path;
  private final ByteBuffer frame;
  private final byte[] frameBytes;
  private long written;
  private boolean closed;

  private DumpFile(
      PcapHandle dead, PcapDumper dumper, FileChannel channel, boolean nano, String path) {
    this.dead = dead;
    this.dumper = dumper;
    this.channel = channel;
    this.block =
        channel == null ? null : ByteBuffer.allocateDirect(BUFFER).order(ByteOrder.nativeOrder());
    this.nano = nano;
    this.path = path;
    this.frameBytes = new byte[CaptureHandle.MAX_FRAME];
    this.frame = ByteBuffer.wrap(frameBytes);
  }

  /**
   * Creates the file on a dead handle, which the file then owns.
   *
   * @param dead a {@code pcap_open_dead} handle of the output's link type and precision
   * @param nano true for nanosecond timestamps
   * @param path the file
   * @return the file
   * @throws PcapNativeException if libpcap cannot create it
   * @throws NotOpenException if the handle is closed
   * @throws IOException if the file cannot be opened
   */
  static DumpFile create(PcapHandle dead, boolean nano, String path)
      throws PcapNativeException, NotOpenException, IOException {
    long p = CaptureHandle.rawAddress(dead);
    if (p != 0) {
      long fp = Native.fopen(path, "wb");
      long d = Native.Pcap.pcap_dump_fopen(p, fp);
      if (d == 0) {
        Native.C.fclose(fp);
        throw new IOException("pcap_dump_fopen " + path + ": " + dead.getError());
      }
      Native.Pcap.pcap_dump_close(d); // the file header is written: flushed and closed
      FileChannel ch =
          FileChannel.open(Path.of(path), StandardOpenOption.WRITE, StandardOpenOption.APPEND);
      return new DumpFile(dead, null, ch, nano, path);
    }
    return new DumpFile(dead, dead.dumpOpen(path), null, nano, path);
  }

  /**
   * @return the buffer to compose the next frame in, from index 0; the same buffer every time
   */
  ByteBuffer frame() {
    return frame;
  }

  /**
   * Appends the first {@code count} bytes of {@link #frame()} as one packet.
   *
   * @param timestampNanos the packet's timestamp, nanoseconds since the epoch
   * @param count its length (captured and on the wire)
   * @throws IOException if the file is closed
   */
  void write(long timestampNanos, int count) throws IOException {
    if (closed) {
      throw new IOException("the output capture " + path + " is closed");
    }
    long sec = Math.floorDiv(timestampNanos, 1_000_000_000L);
    long ns = Math.floorMod(timestampNanos, 1_000_000_000L);
    if (channel != null) {
      if (block.remaining() < RECORD_HEADER + count) {
        drain();
      }
      int p = block.position();
      block.putInt(p, (int) sec); // pcap_dump: (bpf_int32) tv_sec, (bpf_int32) tv_usec
      block.putInt(p + 4, (int) (nano ? ns : ns / 1000));
      block.putInt(p + 8, count);
      block.putInt(p + 12, count);
      block.put(p + RECORD_HEADER, frame, 0, count);
      block.position(p + RECORD_HEADER + count);
    } else {
      byte[] b = new byte[count];
      System.arraycopy(frameBytes, 0, b, 0, count);
      Timestamp ts = new Timestamp(sec * 1000);
      ts.setNanos((int) ns);
      try {
        dumper.dumpRaw(b, ts);
      } catch (NotOpenException e) {
        throw new IOException("the output capture " + path + " is closed", e);
      }
    }
    written++;
  }

  /**
   * @return packets written so far
   */
  long written() {
    return written;
  }

  /**
   * Writes what is buffered to the file.
   *
   * @throws IOException if the write fails
   */
  void flush() throws IOException {
    if (closed) {
      return;
    }
    if (channel != null) {
      drain();
      return;
    }
    try {
      dumper.flush();
    } catch (PcapNativeException | NotOpenException e) {
      throw new IOException("flushing " + path + ": " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (channel != null) {
      try (FileChannel ch = channel) {
        drain();
      } catch (IOException e) {
        // close() reports nothing: flush() before it is where a failed write shows
      }
    } else {
      dumper.close();
    }
    dead.close();
  }

  private void drain() throws IOException {
    block.flip();
    while (block.hasRemaining()) {
      channel.write(block);
    }
    block.clear();
  }

  @Override
  public String toString() {
    return "output capture " + path;
  }
}
