package org.divert4j.pcap.internal;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.sql.Timestamp;
import org.pcap4j.core.NotOpenException;
import org.pcap4j.core.PcapDumper;
import org.pcap4j.core.PcapHandle;
import org.pcap4j.core.PcapNativeException;

/**
 * A savefile being written ({@code pcap_dump_open} on a {@code pcap_open_dead} handle): frames are
 * composed in {@link #frame()} and appended with {@link #write(long, int)}, without allocating
 * (direct {@code pcap_dump} on pcap4j's dumper; pcap4j's own {@code dumpRaw} builds a JNA structure
 * per packet, used only when pcap4j's dumper cannot be reached, see {@link CaptureHandle}).
 *
 * <p>Not thread-safe: callers serialise writes. {@link #close()} flushes and closes; idempotent.
 */
final class DumpFile implements AutoCloseable {
  private static final Field DUMPER_FIELD = dumperField();

  private final PcapHandle dead;
  private final PcapDumper dumper;
  private final Pointer raw;
  private final boolean nano;
  private final String path;
  private final Memory header = new Memory(32);
  private final Memory frameMemory;
  private final ByteBuffer frame;
  private final byte[] frameBytes;
  private long written;
  private boolean closed;

  DumpFile(PcapHandle dead, PcapDumper dumper, boolean nano, String path) {
    this.dead = dead;
    this.dumper = dumper;
    this.nano = nano;
    this.path = path;
    this.raw = rawPointer(dumper);
    if (raw != null) {
      frameMemory = new Memory(CaptureHandle.MAX_FRAME);
      frame =
          frameMemory
              .getByteBuffer(0, CaptureHandle.MAX_FRAME)
              .order(java.nio.ByteOrder.BIG_ENDIAN);
      frameBytes = null;
    } else {
      frameMemory = null;
      frameBytes = new byte[CaptureHandle.MAX_FRAME];
      frame = ByteBuffer.wrap(frameBytes);
    }
  }

  private static Field dumperField() {
    try {
      Field f = PcapDumper.class.getDeclaredField("dumper");
      f.setAccessible(true);
      return f;
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null;
    }
  }

  private static Pointer rawPointer(PcapDumper d) {
    if (DUMPER_FIELD == null) {
      return null;
    }
    try {
      return (Pointer) DUMPER_FIELD.get(d);
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null;
    }
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
    if (raw != null) {
      int l = com.sun.jna.Native.LONG_SIZE;
      long frac = nano ? ns : ns / 1000;
      if (l == 8) {
        header.setLong(0, sec);
        header.setLong(8, frac);
      } else {
        header.setInt(0, (int) sec);
        header.setInt(4, (int) frac);
      }
      header.setInt(2L * l, count);
      header.setInt(2L * l + 4, count);
      Native.Pcap.pcap_dump(raw, header, frameMemory);
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
    if (raw != null) {
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
    dumper.close();
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
