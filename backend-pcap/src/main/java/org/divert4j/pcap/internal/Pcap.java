package org.divert4j.pcap.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.divert4j.DivertException;
import org.divert4j.PermissionException;
import org.pcap4j.core.BpfProgram;
import org.pcap4j.core.NotOpenException;
import org.pcap4j.core.PcapHandle;
import org.pcap4j.core.PcapNativeException;
import org.pcap4j.core.PcapNetworkInterface;
import org.pcap4j.core.Pcaps;
import org.pcap4j.packet.namednumber.DataLinkType;

/**
 * The control plane over pcap4j: loading libpcap, opening live captures, savefiles and output
 * files, and turning pcap4j's errors into divert4j's. With {@link CaptureHandle} and {@link
 * DumpFile}, the only classes that touch pcap4j, so that it can be replaced. Stateless and
 * thread-safe.
 */
final class Pcap {
  /** The snapshot length of output files and of the availability probe: libpcap's maximum. */
  static final int SNAPLEN = 262144;

  /**
   * Bytes a live capture keeps beyond the interface's MTU: an Ethernet header and one VLAN tag (the
   * 18 bytes libpcap itself adds to the MTU when it sizes its ring frames).
   */
  static final int LINK_OVERHEAD = 18;

  /**
   * The snapshot length of a live capture on an interface of this MTU. libpcap 1.10 (pcap-linux.c,
   * create_ring, TPACKET_V2, which immediate mode selects) makes every frame of its kernel ring
   * min(snapshot length, MTU + 18) bytes, but min(snapshot length, max(MTU, 65535) + 18) as soon as
   * any offload (TSO, UFO, GSO, GRO, LRO) is on, as it is by default on a veth: with the maximum
   * snapshot length, a 4 MiB buffer then holds only 63 frames, and a burst of a hundred 1514-byte
   * frames overflows it while the capture thread waits for a CPU. Asking for MTU + 18 keeps frames
   * that size whatever the offloads; a longer frame (an aggregate of GRO/LRO, or a sender's
   * super-packet crossing a virtual link) is cut, and the segment drops and counts it.
   *
   * @param mtu the interface's MTU
   * @return the snapshot length
   */
  static int liveSnaplen(int mtu) {
    return Math.min(Math.max(mtu, 68) + LINK_OVERHEAD, CaptureHandle.MAX_FRAME);
  }

  /** libpcap's {@code PCAP_ERROR_PERM_DENIED}. */
  private static final int PCAP_ERROR_PERM_DENIED = -8;

  /** libpcap's {@code PCAP_ERROR_PROMISC_PERM_DENIED}. */
  private static final int PCAP_ERROR_PROMISC_PERM_DENIED = -11;

  /** libpcap's {@code PCAP_ERROR_NO_SUCH_DEVICE}. */
  private static final int PCAP_ERROR_NO_SUCH_DEVICE = -5;

  /** What a capture needs, named as {@link PermissionException#missing()} wants them. */
  static final List<String> CAPTURE_PRIVILEGES = List.of("CAP_NET_RAW");

  private Pcap() {}

  /**
   * Loads libpcap (through pcap4j) and the direct bindings of {@link Native}.
   *
   * @return libpcap's version string
   * @throws LinkageError if pcap4j, JNA or libpcap is missing
   */
  static String load() {
    String v = Pcaps.libVersion();
    try {
      Class.forName(Native.Pcap.class.getName(), true, Pcap.class.getClassLoader());
      Class.forName(Native.C.class.getName(), true, Pcap.class.getClassLoader());
    } catch (ClassNotFoundException e) {
      throw new NoClassDefFoundError(e.getMessage());
    }
    return v;
  }

  /**
   * Opens a live capture: promiscuous, immediate mode (each packet handed over at once), a large
   * kernel buffer, a 100 ms read timeout (which libpcap 1.10 on Linux honours only once a packet
   * has arrived: a reader blocked with nothing to read is woken by {@code pcap_breakloop}), and
   * only packets arriving on the interface ({@code PCAP_D_IN}: what the backend itself transmits
   * must not come back to it).
   *
   * @param device the interface name
   * @param snaplen the snapshot length ({@link #liveSnaplen}, or {@link #SNAPLEN})
   * @param bufferBytes the kernel ring size
   * @param filter a BPF filter expression, or null
   * @return the handle
   * @throws PermissionException if capturing is not permitted
   * @throws DivertException if the interface does not exist or libpcap fails
   */
  static CaptureHandle openLive(String device, int snaplen, int bufferBytes, String filter)
      throws DivertException {
    PcapHandle h;
    try {
      h =
          new PcapHandle.Builder(device)
              .snaplen(snaplen)
              .promiscuousMode(PcapNetworkInterface.PromiscuousMode.PROMISCUOUS)
              .timeoutMillis(100)
              .immediateMode(true)
              .bufferSize(bufferBytes)
              .direction(PcapHandle.PcapDirection.IN)
              .build();
    } catch (PcapNativeException e) {
      throw liveError(device, e);
    }
    try {
      if (filter != null) {
        h.setFilter(filter, BpfProgram.BpfCompileMode.OPTIMIZE);
      }
    } catch (PcapNativeException | NotOpenException e) {
      h.close();
      throw new DivertException("pcap filter '" + filter + "' on " + device + ": " + e, 0, e);
    }
    return new CaptureHandle(h, "capture on " + device, false);
  }

  private static DivertException liveError(String device, PcapNativeException e) {
    Integer rc = e.getReturnCode();
    String msg = String.valueOf(e.getMessage());
    boolean perm =
        rc != null && (rc == PCAP_ERROR_PERM_DENIED || rc == PCAP_ERROR_PROMISC_PERM_DENIED)
            || msg.contains("Operation not permitted")
            || msg.contains("permission");
    if (perm) {
      return new PermissionException(
          "capture on interface " + device + " with libpcap (" + msg.strip() + ")",
          CAPTURE_PRIVILEGES,
          1,
          e);
    }
    if (rc != null && rc == PCAP_ERROR_NO_SUCH_DEVICE || msg.contains("No such device")) {
      return new DivertException("no interface " + device + " to capture on: " + msg, 19, e);
    }
    return new DivertException("cannot capture on " + device + ": " + msg, 0, e);
  }

  /**
   * Opens a savefile for a replay: classic pcap files in Java ({@link SavefileReader}), every other
   * format libpcap reads (pcapng, ...) through libpcap.
   *
   * @param file the savefile
   * @return its reader
   * @throws DivertException if neither can read it
   */
  static SavefileInput openSavefile(Path file) throws DivertException {
    try {
      SavefileReader r = SavefileReader.open(file);
      if (r != null) {
        return r;
      }
    } catch (IOException e) {
      // libpcap tries too, and its message says what is wrong
    }
    return openOffline(file);
  }

  /**
   * Opens a savefile (pcap or pcapng) for reading, at the resolution the file was written with.
   *
   * @param file the file
   * @return the handle
   * @throws DivertException if it cannot be read
   */
  static CaptureHandle openOffline(Path file) throws DivertException {
    boolean nano = isNanosecondFile(file);
    try {
      PcapHandle h = CaptureHandle.openOfflineBuffered(file.toString(), nano);
      if (h == null) {
        h =
            Pcaps.openOffline(
                file.toString(),
                nano ? PcapHandle.TimestampPrecision.NANO : PcapHandle.TimestampPrecision.MICRO);
      }
      return new CaptureHandle(h, "input capture " + file, nano);
    } catch (PcapNativeException | IOException e) {
      throw new DivertException("cannot read the capture " + file + ": " + e.getMessage(), 0, e);
    }
  }

  /**
   * @param file a savefile
   * @return true if its magic number says nanosecond timestamps (pcap's 0xa1b23c4d)
   */
  static boolean isNanosecondFile(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      byte[] m = in.readNBytes(4);
      if (m.length < 4) {
        return false;
      }
      int be = (m[0] & 0xff) << 24 | (m[1] & 0xff) << 16 | (m[2] & 0xff) << 8 | (m[3] & 0xff);
      return be == 0xa1b23c4d || be == 0x4d3cb2a1;
    } catch (IOException e) {
      return false; // libpcap reports the real problem when it opens the file
    }
  }

  /**
   * Creates (or truncates) an output savefile.
   *
   * @param file the file
   * @param linkType its link-layer type (a DLT_ value)
   * @param nano true for nanosecond timestamps
   * @return the file
   * @throws DivertException if it cannot be created
   */
  static DumpFile openDump(Path file, int linkType, boolean nano) throws DivertException {
    PcapHandle dead = null;
    try {
      dead =
          Pcaps.openDead(
              DataLinkType.getInstance(linkType),
              SNAPLEN,
              nano ? PcapHandle.TimestampPrecision.NANO : PcapHandle.TimestampPrecision.MICRO);
      return DumpFile.create(dead, nano, file.toString());
    } catch (PcapNativeException | NotOpenException | IOException e) {
      if (dead != null) {
        dead.close();
      }
      throw new DivertException("cannot write the capture " + file + ": " + e.getMessage(), 0, e);
    }
  }
}
