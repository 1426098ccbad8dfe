package org.divert4j.pcap.internal;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.io.EOFException;
import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.sql.Timestamp;
import java.util.concurrent.TimeoutException;
import org.pcap4j.core.NotOpenException;
import org.pcap4j.core.PcapHandle;
import org.pcap4j.core.PcapNativeException;
import org.pcap4j.core.PcapStat;

/**
 * One pcap handle (a live capture or a savefile being read) with an allocation-free packet path:
 * {@link #next()} reads the next packet and leaves it in libpcap's buffer, {@link #copyTo} copies
 * it into the caller's array, and {@link #send(int)} transmits the frame composed in {@link
 * #sendBuffer()}.
 *
 * <p>The fast path calls {@code pcap_next_ex} and {@code pcap_sendpacket} directly on pcap4j's
 * {@code pcap_t}, which pcap4j keeps in a private field; when that field cannot be read (pcap4j on
 * the module path without {@code --add-opens org.pcap4j.core/org.pcap4j.core=ALL-UNNAMED}) the
 * handle falls back to pcap4j's public per-packet methods, which allocate per packet but work.
 *
 * <p>Threads: one reader thread ({@link #next()}, {@link #copyTo}, the accessors); one sender at a
 * time ({@link #sendBuffer()}, {@link #send(int)}); {@link #breakLoop()} and {@link #drops()} from
 * any thread. {@link #close()} only after the reader has stopped.
 */
final class CaptureHandle implements SavefileInput {
  /** {@link #next()}: a packet is ready. */
  static final int PACKET = 1;

  /** {@link #next()}: the read timeout passed without a packet (live captures). */
  static final int TIMEOUT = 0;

  /** {@link #next()}: the end of a savefile, or {@link #breakLoop()} was called. */
  static final int END = -2;

  /** Largest frame handled: 65535 bytes of IP plus a link header. */
  static final int MAX_FRAME = 65535 + 64;

  private static final Pointer ABSOLUTE = new Pointer(0);
  private static final Field HANDLE_FIELD = handleField();
  private static final Constructor<PcapHandle> HANDLE_CONSTRUCTOR = handleConstructor();

  private final PcapHandle handle;
  private final String what;
  private final boolean nano;
  private final int linkType;
  private final long raw; // the pcap_t, or 0 for the portable path
  private final Memory refs = new Memory(16); // pcap_next_ex's two out-parameters
  private final long headerRef = Pointer.nativeValue(refs);
  private final long dataRef = headerRef + 8;
  private final ByteBuffer refView = refs.getByteBuffer(0, 16).order(ByteOrder.nativeOrder());
  private long headerAddress;
  private ByteBuffer headerView;
  private long lastData;
  private ByteBuffer dataView;
  private Memory sendMemory;
  private long sendAddress;
  private ByteBuffer sendView;
  private byte[] sendBytes;

  private long data;
  private int length;
  private int wireLength;
  private long timestamp;
  private byte[] portable;

  CaptureHandle(PcapHandle handle, String what, boolean nano) {
    this.handle = handle;
    this.what = what;
    this.nano = nano;
    this.linkType = handle.getDlt().value();
    this.raw = rawAddress(handle);
  }

  private static Field handleField() {
    try {
      Field f = PcapHandle.class.getDeclaredField("handle");
      f.setAccessible(true);
      return f;
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null; // the portable path
    }
  }

  private static Constructor<PcapHandle> handleConstructor() {
    try {
      Constructor<PcapHandle> c =
          PcapHandle.class.getDeclaredConstructor(
              Pointer.class, PcapHandle.TimestampPrecision.class);
      c.setAccessible(true);
      return c;
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null;
    }
  }

  /**
   * @param h a pcap4j handle
   * @return the address of its {@code pcap_t}, or 0 if pcap4j does not let it be read
   */
  static long rawAddress(PcapHandle h) {
    if (HANDLE_FIELD == null) {
      return 0;
    }
    try {
      Pointer p = (Pointer) HANDLE_FIELD.get(h);
      return p == null ? 0 : Pointer.nativeValue(p);
    } catch (ReflectiveOperationException | RuntimeException e) {
      return 0;
    }
  }

  /**
   * Opens a savefile through a {@code FILE *} with a large buffer ({@code
   * pcap_fopen_offline_with_tstamp_precision}) and wraps it in a pcap4j handle, or returns null
   * when pcap4j's handle cannot be built that way (the caller then uses {@code Pcaps.openOffline}).
   *
   * @param path the file
   * @param nano nanosecond timestamps
   * @return the handle, or null
   * @throws IOException if libpcap cannot read the file
   */
  static PcapHandle openOfflineBuffered(String path, boolean nano) throws IOException {
    if (HANDLE_CONSTRUCTOR == null || HANDLE_FIELD == null) {
      return null;
    }
    long fp = Native.fopen(path, "rb");
    byte[] err = new byte[256];
    long p = Native.Pcap.pcap_fopen_offline_with_tstamp_precision(fp, nano ? 1 : 0, err);
    if (p == 0) {
      Native.C.fclose(fp);
      int n = 0;
      while (n < err.length && err[n] != 0) {
        n++;
      }
      throw new IOException(new String(err, 0, n, java.nio.charset.StandardCharsets.UTF_8));
    }
    try {
      return HANDLE_CONSTRUCTOR.newInstance(
          new Pointer(p),
          nano ? PcapHandle.TimestampPrecision.NANO : PcapHandle.TimestampPrecision.MICRO);
    } catch (ReflectiveOperationException | RuntimeException e) {
      Native.Pcap.pcap_close(p); // closes the FILE too
      return null;
    }
  }

  /**
   * @return true if packets are read and sent without allocation (pcap4j's handle was reachable)
   */
  boolean fast() {
    return raw != 0;
  }

  /**
   * @return the handle's link-layer type ({@code pcap_datalink}, a DLT_ value)
   */
  @Override
  public int linkType() {
    return linkType;
  }

  /**
   * @return true if timestamps have nanosecond resolution
   */
  @Override
  public boolean nano() {
    return nano;
  }

  /**
   * Reads the next packet. On a live capture it may block until a packet arrives or {@link
   * #breakLoop()}, however long: libpcap 1.10 on Linux does not return on the read timeout while
   * nothing arrives.
   *
   * @return {@link #PACKET}, {@link #TIMEOUT} or {@link #END}
   * @throws IOException if libpcap reports an error
   */
  @Override
  public int next() throws IOException {
    if (raw == 0) {
      return nextPortable();
    }
    int rc = Native.Pcap.pcap_next_ex(raw, headerRef, dataRef);
    if (rc == 1) {
      // Read through ByteBuffer views rather than JNA getters (one JNI call each): libpcap
      // returns the same header address every time (its pcap_header field), so the view is made
      // once.
      long h = address(0);
      data = address(8);
      if (h != headerAddress) {
        headerAddress = h;
        headerView = ABSOLUTE.getByteBuffer(h, 32).order(ByteOrder.nativeOrder());
      }
      int l = com.sun.jna.Native.LONG_SIZE;
      long sec = l == 8 ? headerView.getLong(0) : headerView.getInt(0);
      long frac = l == 8 ? headerView.getLong(8) : headerView.getInt(4);
      timestamp = sec * 1_000_000_000L + (nano ? frac : frac * 1000);
      length = headerView.getInt(2 * l);
      wireLength = headerView.getInt(2 * l + 4);
      return PACKET;
    }
    if (rc == 0) {
      return TIMEOUT;
    }
    if (rc == -2) {
      return END;
    }
    throw new IOException("pcap_next_ex on " + what + ": " + error());
  }

  private long address(int offset) {
    return com.sun.jna.Native.POINTER_SIZE == 8
        ? refView.getLong(offset)
        : refView.getInt(offset) & 0xffffffffL;
  }

  private int nextPortable() throws IOException {
    try {
      portable = handle.getNextRawPacketEx();
      length = portable.length;
      Integer orig = handle.getOriginalLength();
      wireLength = orig == null ? length : orig;
      Timestamp ts = handle.getTimestamp();
      timestamp =
          ts == null ? 0 : Math.floorDiv(ts.getTime(), 1000) * 1_000_000_000L + ts.getNanos();
      return PACKET;
    } catch (TimeoutException e) {
      return TIMEOUT;
    } catch (EOFException e) {
      return END;
    } catch (PcapNativeException e) {
      if (Integer.valueOf(-2).equals(e.getReturnCode())) {
        return END;
      }
      throw new IOException("reading " + what + ": " + e.getMessage(), e);
    } catch (NotOpenException e) {
      return END;
    }
  }

  /**
   * @return the captured length of the packet {@link #next()} read
   */
  @Override
  public int length() {
    return length;
  }

  /**
   * @return its length on the wire (may exceed {@link #length()} when the snapshot length cut it)
   */
  int wireLength() {
    return wireLength;
  }

  /**
   * @return its timestamp, nanoseconds since the epoch
   */
  @Override
  public long timestampNanos() {
    return timestamp;
  }

  /**
   * Copies the packet {@link #next()} read (valid until the next call to it).
   *
   * @param dst the destination
   * @param offset where in it
   * @param count how many bytes, at most {@link #length()}
   */
  @Override
  public void copyTo(byte[] dst, int offset, int count) {
    if (raw != 0) {
      if (data == lastData) {
        // A savefile is read into one buffer again and again: copy through a view of it (no
        // JNI call). Live captures point into the kernel ring, a new address every time.
        if (dataView == null) {
          dataView = ABSOLUTE.getByteBuffer(data, MAX_FRAME);
        }
        dataView.get(0, dst, offset, count);
      } else {
        lastData = data;
        dataView = null;
        ABSOLUTE.read(data, dst, offset, count);
      }
    } else {
      System.arraycopy(portable, 0, dst, offset, count);
    }
  }

  /**
   * @return a buffer of {@link #MAX_FRAME} bytes to compose a frame in, from index 0 (direct when
   *     the fast path is used); the same buffer on every call
   */
  ByteBuffer sendBuffer() {
    if (sendView == null) {
      if (raw != 0) {
        sendMemory = new Memory(MAX_FRAME);
        sendAddress = Pointer.nativeValue(sendMemory);
        sendView = sendMemory.getByteBuffer(0, MAX_FRAME).order(ByteOrder.BIG_ENDIAN);
      } else {
        sendBytes = new byte[MAX_FRAME];
        sendView = ByteBuffer.wrap(sendBytes);
      }
    }
    return sendView;
  }

  /**
   * Transmits the first {@code count} bytes of {@link #sendBuffer()} as one frame ({@code
   * pcap_sendpacket}).
   *
   * @param count the frame length
   * @throws IOException if libpcap refuses it (e.g. "Message too long" above the interface MTU)
   */
  void send(int count) throws IOException {
    if (raw != 0) {
      if (Native.Pcap.pcap_sendpacket(raw, sendAddress, count) != 0) {
        throw new IOException("pcap_sendpacket on " + what + ": " + error());
      }
      return;
    }
    try {
      handle.sendPacket(sendBytes, count);
    } catch (PcapNativeException | NotOpenException e) {
      throw new IOException("sending on " + what + ": " + e.getMessage(), e);
    }
  }

  /**
   * @return libpcap's drop counters for a live capture: {@code ps_drop + ps_ifdrop}; 0 for a
   *     savefile or when statistics are unavailable
   */
  long drops() {
    try {
      PcapStat s = handle.getStats();
      return s.getNumPacketsDropped() + s.getNumPacketsDroppedByIf();
    } catch (PcapNativeException | NotOpenException | RuntimeException e) {
      return 0;
    }
  }

  /**
   * @return libpcap's {@code ps_drop} alone (packets the kernel dropped because the capture buffer
   *     was full); 0 when statistics are unavailable
   */
  long droppedByKernel() {
    try {
      return handle.getStats().getNumPacketsDropped();
    } catch (PcapNativeException | NotOpenException | RuntimeException e) {
      return 0;
    }
  }

  /** Makes a blocked {@link #next()} return {@link #END} soon ({@code pcap_breakloop}). */
  void breakLoop() {
    try {
      handle.breakLoop();
    } catch (NotOpenException e) {
      // closed already: nothing to wake
    }
  }

  private String error() {
    try {
      return handle.getError();
    } catch (NotOpenException e) {
      return "handle closed";
    }
  }

  /**
   * @return the pcap4j handle, for the control-plane calls of {@link Pcap}
   */
  PcapHandle pcap4j() {
    return handle;
  }

  @Override
  public void close() {
    handle.close();
    refs.close();
    if (sendMemory != null) {
      sendMemory.close();
    }
  }

  @Override
  public String toString() {
    return what + (raw != 0 ? "" : " (portable path)");
  }
}
