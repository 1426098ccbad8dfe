package org.divert4j.pcap.internal;

import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import java.io.IOException;

/**
 * The pcap backend's own native boundary besides pcap4j: the libpcap calls of the per-packet path
 * and the stdio calls of savefiles, bound with JNA direct mapping so that a call allocates nothing.
 * The Linux system calls (interface ioctls, namespaces, capabilities, sockets) are the floor's
 * ({@code org.divert4j.linux}), shared with the kernel backend.
 *
 * <p>Why libpcap is called directly for four functions: pcap4j's per-packet methods allocate a
 * {@code byte[]} and more for every packet ({@code getNextRawPacket}, {@code dumpRaw} builds a JNA
 * structure per call), which is what made pcap4j lose most packets at high rates (kaitoy/pcap4j
 * #115). Everything else (opening, options, statistics, closing) goes through pcap4j, on the same
 * {@code pcap_t}. Thread rules are libpcap's: one thread per handle for reading.
 */
final class Native {
  private Native() {}

  /** The stdio functions of libc, direct-mapped. */
  static final class C {
    static {
      com.sun.jna.Native.register(NativeLibrary.getInstance(Platform.C_LIBRARY_NAME));
    }

    private C() {}

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
}
