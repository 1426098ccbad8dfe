package org.divert4j.pcap.internal;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * The pcap backend's only native boundary besides pcap4j itself: a few libc calls (network
 * namespaces, interface ioctls, raw sockets, thread capabilities) and the libpcap calls of the
 * per-packet path, bound with JNA direct mapping so that a call allocates nothing. Negative returns
 * become {@link IOException}s that keep the errno text.
 *
 * <p>Why libpcap is called directly for four functions: pcap4j's per-packet methods allocate a
 * {@code byte[]} and more for every packet ({@code getNextRawPacket}, {@code dumpRaw} builds a JNA
 * structure per call), which is what made pcap4j lose most packets at high rates (kaitoy/pcap4j
 * #115). Everything else (opening, options, statistics, closing) goes through pcap4j, on the same
 * {@code pcap_t}. Thread rules are libpcap's: one thread per handle for reading.
 */
final class Native {
  /** {@code CLONE_NEWNET} from {@code sched.h}. */
  static final int CLONE_NEWNET = 0x40000000;

  static final int AF_INET = 2;
  static final int SOCK_DGRAM = 2;
  static final int SOCK_RAW = 3;
  static final int IPPROTO_RAW = 255;
  static final int O_RDONLY = 0;
  static final int O_CLOEXEC = 0x80000;
  static final int ENODEV = 19;

  static final long SIOCGIFINDEX = 0x8933;
  static final long SIOCGIFMTU = 0x8921;
  static final long SIOCGIFHWADDR = 0x8927;
  static final long SIOCETHTOOL = 0x8946;

  /** {@code ethtool.h}: set TX checksumming, scatter-gather, TSO, GSO, GRO. */
  static final int ETHTOOL_STXCSUM = 0x17;

  static final int ETHTOOL_STSO = 0x1f;
  static final int ETHTOOL_SGSO = 0x24;
  static final int ETHTOOL_SGRO = 0x2c;

  private static final int IFREQ_SIZE = 40;
  private static final int LINUX_CAPABILITY_VERSION_3 = 0x20080522;

  private Native() {}

  /** libc, direct-mapped. */
  static final class C {
    static {
      com.sun.jna.Native.register(NativeLibrary.getInstance(Platform.C_LIBRARY_NAME));
    }

    private C() {}

    static native int open(String path, int flags) throws LastErrorException;

    static native int close(int fd) throws LastErrorException;

    static native int setns(int fd, int nstype) throws LastErrorException;

    static native int socket(int domain, int type, int protocol) throws LastErrorException;

    static native int ioctl(int fd, long request, Pointer arg) throws LastErrorException;

    static native long sendto(int fd, Pointer buf, long len, int flags, Pointer addr, int addrLen)
        throws LastErrorException;

    static native int capget(Pointer header, Pointer data) throws LastErrorException;

    static native int capset(Pointer header, Pointer data) throws LastErrorException;

    static native long fopen(String path, String mode);

    static native int setvbuf(long stream, long buffer, int mode, long size);

    static native int fclose(long stream);
  }

  /**
   * The libpcap functions of the per-packet path, direct-mapped on the library pcap4j loads. Every
   * pointer is passed as its address ({@code long}): an all-primitive signature is JNA's cheapest
   * call, with no {@code Pointer} unwrapped per call.
   */
  static final class Pcap {
    static {
      com.sun.jna.Native.register(NativeLibrary.getInstance(libraryName()));
    }

    private Pcap() {}

    static native int pcap_next_ex(long p, long header, long data);

    static native int pcap_sendpacket(long p, long buf, int size);

    static native void pcap_dump(long dumper, long header, long data);

    static native int pcap_dump_flush(long dumper);

    static native long pcap_dump_fopen(long p, long stream);

    static native void pcap_dump_close(long dumper);

    static native long pcap_fopen_offline_with_tstamp_precision(
        long stream, int precision, byte[] errbuf);

    static native void pcap_close(long p);
  }

  /** {@code _IOFBF} from {@code stdio.h} (glibc). */
  static final int IOFBF = 0;

  /**
   * The stdio buffer of savefiles read and written: libc's default (4 KiB) costs a syscall per few
   * dozen packets.
   */
  static final int FILE_BUFFER = 1 << 20;

  /**
   * Opens a file with a large stdio buffer.
   *
   * @param path the file
   * @param mode {@code "rb"} or {@code "wb"}
   * @return the {@code FILE *}
   * @throws IOException if it cannot be opened
   */
  static long fopen(String path, String mode) throws IOException {
    long fp = C.fopen(path, mode);
    if (fp == 0) {
      throw new IOException("cannot open " + path + " (" + mode + ")");
    }
    C.setvbuf(fp, 0, IOFBF, FILE_BUFFER);
    return fp;
  }

  /**
   * @return the name pcap4j loads libpcap by (its {@code org.pcap4j.core.pcapLibName} property)
   */
  static String libraryName() {
    return System.getProperty(
        "org.pcap4j.core.pcapLibName", Platform.isWindows() ? "wpcap" : "pcap");
  }

  // ------------------------------------------------------------------ namespaces and capabilities

  /**
   * Moves the calling thread into a network namespace ({@code setns(2)}); other threads stay where
   * they are.
   *
   * @param path a namespace file, e.g. {@code /var/run/netns/x}
   * @throws IOException if it cannot be opened or entered
   */
  static void enterNetns(String path) throws IOException {
    int fd;
    try {
      fd = C.open(path, O_RDONLY | O_CLOEXEC);
    } catch (LastErrorException e) {
      throw error("open " + path, e);
    }
    try {
      C.setns(fd, CLONE_NEWNET);
    } catch (LastErrorException e) {
      throw error("setns(" + path + ", CLONE_NEWNET)", e);
    } finally {
      closeQuietly(fd);
    }
  }

  /**
   * Clears the calling thread's effective capability set (the permitted set is kept), so that what
   * it does next runs as an unprivileged program would. Capabilities are per thread on Linux.
   *
   * @throws IOException if capget/capset fail
   */
  static void dropEffectiveCapabilities() throws IOException {
    try (Memory header = new Memory(8);
        Memory data = new Memory(24)) {
      header.setInt(0, LINUX_CAPABILITY_VERSION_3);
      header.setInt(4, 0);
      C.capget(header, data);
      data.setInt(0, 0); // effective, low word
      data.setInt(12, 0); // effective, high word
      header.setInt(0, LINUX_CAPABILITY_VERSION_3);
      header.setInt(4, 0);
      C.capset(header, data);
    } catch (LastErrorException e) {
      throw error("capset (drop effective capabilities)", e);
    }
  }

  // ------------------------------------------------------------------ interfaces

  /** What the backend needs to know about one interface. */
  record Link(String name, int index, int mtu, long mac) {}

  /**
   * Reads an interface's index, MTU and MAC address with ioctls on a socket of the calling thread's
   * network namespace (sysfs would show the namespace it was mounted in, not the thread's).
   *
   * @param name the interface name
   * @return what was read
   * @throws IOException if the interface does not exist or the ioctls fail
   */
  static Link link(String name) throws IOException {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    try (Memory ifr = ifreq(name)) {
      int index = ifreqIoctl(fd, SIOCGIFINDEX, ifr, name).getInt(16);
      int mtu = ifreqIoctl(fd, SIOCGIFMTU, ifr, name).getInt(16);
      Memory hw = ifreqIoctl(fd, SIOCGIFHWADDR, ifr, name);
      long mac = 0;
      for (int i = 0; i < 6; i++) {
        mac = (mac << 8) | (hw.getByte(18 + i) & 0xff);
      }
      return new Link(name, index, mtu, mac);
    } finally {
      closeQuietly(fd);
    }
  }

  /**
   * Turns an ethtool feature off ({@code ethtool -K name feature off}) through the legacy ioctl.
   *
   * @param name the interface
   * @param command one of the {@code ETHTOOL_S*} constants
   * @throws IOException if the ioctl fails
   */
  static void ethtoolOff(String name, int command) throws IOException {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    try (Memory ifr = ifreq(name);
        Memory value = new Memory(8)) {
      value.setInt(0, command);
      value.setInt(4, 0);
      ifr.setPointer(16, value);
      try {
        C.ioctl(fd, SIOCETHTOOL, ifr);
      } catch (LastErrorException e) {
        throw error("ethtool 0x" + Integer.toHexString(command) + " on " + name, e);
      }
    } finally {
      closeQuietly(fd);
    }
  }

  private static Memory ifreq(String name) {
    byte[] n = name.getBytes(StandardCharsets.US_ASCII);
    if (n.length == 0 || n.length > 15) {
      throw new IllegalArgumentException("not an interface name: '" + name + "'");
    }
    Memory ifr = new Memory(IFREQ_SIZE);
    ifr.clear();
    ifr.write(0, n, 0, n.length);
    return ifr;
  }

  private static Memory ifreqIoctl(int fd, long request, Memory ifr, String name)
      throws IOException {
    try {
      C.ioctl(fd, request, ifr);
      return ifr;
    } catch (LastErrorException e) {
      if (e.getErrorCode() == ENODEV) {
        throw new IOException("no interface named " + name + " in this network namespace", e);
      }
      throw error("ioctl 0x" + Long.toHexString(request) + " on interface " + name, e);
    }
  }

  // ------------------------------------------------------------------ sockets

  static int socket(int domain, int type, int protocol) throws IOException {
    try {
      return C.socket(domain, type, protocol);
    } catch (LastErrorException e) {
      throw error("socket(" + domain + ", " + type + ", " + protocol + ")", e);
    }
  }

  /**
   * Sends one IP packet on a raw {@code IPPROTO_RAW} socket (header included), to the packet's own
   * destination address.
   *
   * @param fd the raw socket
   * @param packet the packet in native memory
   * @param length its length
   * @param destination the destination, host order
   * @throws IOException with the errno text, e.g. "Message too long" above the MTU
   */
  static void sendRaw(int fd, Pointer packet, int length, int destination) throws IOException {
    try (Memory sin = new Memory(16)) {
      sin.clear();
      sin.setShort(0, (short) AF_INET); // sin_family, host order
      sin.setByte(4, (byte) (destination >>> 24)); // sin_addr, network order
      sin.setByte(5, (byte) (destination >>> 16));
      sin.setByte(6, (byte) (destination >>> 8));
      sin.setByte(7, (byte) destination);
      C.sendto(fd, packet, length, 0, sin, 16);
    } catch (LastErrorException e) {
      throw error("sendto on a raw IP socket", e);
    }
  }

  static void closeQuietly(int fd) {
    if (fd < 0) {
      return;
    }
    try {
      C.close(fd);
    } catch (LastErrorException e) {
      // nothing to do: the descriptor is gone either way
    }
  }

  /**
   * @param e a failed call's error
   * @return its errno
   */
  static int errno(LastErrorException e) {
    return e.getErrorCode();
  }

  private static IOException error(String what, LastErrorException e) {
    return new IOException(
        what + " failed: " + e.getMessage() + " (errno " + e.getErrorCode() + ")", e);
  }
}
