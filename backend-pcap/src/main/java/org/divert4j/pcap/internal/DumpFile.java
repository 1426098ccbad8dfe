package org.divert4j.pcap.internal;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.sql.Timestamp;
import org.pcap4j.core.NotOpenException;
import org.pcap4j.core.PcapDumper;
import org.pcap4j.core.PcapHandle;
import org.pcap4j.core.PcapNativeException;

/**
 * A savefile being written, on a {@code pcap_open_dead} handle: frames are composed in {@link
 * #frame()} and appended with {@link #write(long, int)}, without allocating.
 *
 * <p>The fast path opens the file itself with a 1 MiB stdio buffer ({@code pcap_dump_fopen}; libc's
 * default of 4 KiB costs a write system call every few dozen packets) and calls {@code pcap_dump}
 * directly. When pcap4j's handle cannot be reached (see {@link CaptureHandle}), pcap4j's own {@code
 * dumpOpen} and {@code dumpRaw} are used; the latter builds a JNA structure per packet.
 *
 * <p>Not thread-safe: callers serialise writes. {@link #close()} flushes and closes; idempotent.
 */
final class DumpFile implements AutoCloseable {
  private final PcapHandle dead;
  private final PcapDumper dumper; // the portable path, else null
  private final long raw; // the pcap_dumper_t of the fast path, else 0
  private final boolean nano;
  private final String path;
  private final Memory header = new Memory(32);
  private final long headerAddress = Pointer.nativeValue(header);
  private final ByteBuffer headerView = header.getByteBuffer(0, 32).order(ByteOrder.nativeOrder());
  private final Memory frameMemory;
  private final long frameAddress;
  private final ByteBuffer frame;
  private final byte[] frameBytes;
  private long written;
  private boolean closed;

  private DumpFile(PcapHandle dead, PcapDumper dumper, long raw, boolean nano, String path) {
    this.dead = dead;
    this.dumper = dumper;
    this.raw = raw;
    this.nano = nano;
    this.path = path;
    if (raw != 0) {
      frameMemory = new Memory(CaptureHandle.MAX_FRAME);
      frameAddress = Pointer.nativeValue(frameMemory);
      frame = frameMemory.getByteBuffer(0, CaptureHandle.MAX_FRAME).order(ByteOrder.BIG_ENDIAN);
      frameBytes = null;
    } else {
      frameMemory = null;
      frameAddress = 0;
      frameBytes = new byte[CaptureHandle.MAX_FRAME];
      frame = ByteBuffer.wrap(frameBytes);
    }
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
      return new DumpFile(dead, null, d, nano, path);
    }
    return new DumpFile(dead, dead.dumpOpen(path), 0, nano, path);
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
    if (raw != 0) {
      int l = com.sun.jna.Native.LONG_SIZE;
      long frac = nano ? ns : ns / 1000;
      if (l == 8) {
        headerView.putLong(0, sec);
        headerView.putLong(8, frac);
      } else {
        headerView.putInt(0, (int) sec);
        headerView.putInt(4, (int) frac);
      }
      headerView.putInt(2 * l, count);
      headerView.putInt(2 * l + 4, count);
      Native.Pcap.pcap_dump(raw, headerAddress, frameAddress);
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
   * Writes what is buffered to the file ({@code pcap_dump_flush}).
   *
   * @throws IOException if the write fails
   */
  void flush() throws IOException {
    if (closed) {
      return;
    }
    if (raw != 0) {
      if (Native.Pcap.pcap_dump_flush(raw) != 0) {
        throw new IOException("pcap_dump_flush on " + path + " failed");
      }
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
    if (raw != 0) {
      Native.Pcap.pcap_dump_close(raw); // flushes and closes the FILE
    } else {
      dumper.close();
    }
    dead.close();
    header.close();
    if (frameMemory != null) {
      frameMemory.close();
    }
  }

  @Override
  public String toString() {
    return "output capture " + path;
  }
}
