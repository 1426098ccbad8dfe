package org.divert4j.rawsocket.internal;

import java.util.ArrayList;
import java.util.List;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Errors;
import org.divert4j.linux.Iptables;
import org.divert4j.linux.Native;
import org.divert4j.linux.Shell;
import org.divert4j.spi.Availability;

/**
 * Checks, once, whether the kernel backend can work here by really doing what it needs (Netty's
 * {@code Epoll} availability pattern): load the C library through JNR-FFI, open a {@code
 * NETLINK_NETFILTER} socket and send an NFQUEUE configuration message (needs CAP_NET_ADMIN and
 * nfnetlink_queue), open a raw socket (needs CAP_NET_RAW), find iptables and nsenter. The reason
 * names everything that is missing.
 */
public final class AvailabilityProbe {
  private AvailabilityProbe() {}

  /**
   * @return the availability; never throws
   */
  public static Availability check() {
    try {
      return doCheck();
    } catch (Throwable t) {
      return Availability.unavailable("the kernel backend failed its self-check: " + t, t);
    }
  }

  private static Availability doCheck() {
    if (!System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
      return Availability.unavailable("the rawsocket backend needs Linux", null);
    }
    Throwable load = Native.loadError();
    if (load != null) {
      return Availability.unavailable(
          "JNR-FFI cannot bind the C library (is jnr-ffi with its native jffi on the class path?): "
              + load,
          load);
    }
    List<String> missing = new ArrayList<>();
    Throwable cause = null;
    try {
      NfqChannel ch = NfqChannel.open(0, 1, 65536);
      try {
        ch.configure(NfqCodec.NFQNL_CFG_CMD_PF_UNBIND, -1, -1, 0, 0);
      } catch (ErrnoException e) {
        cause = e;
        missing.add(
            Errors.isPermission(e.errno())
                ? "CAP_NET_ADMIN (to configure NFQUEUE queues; run as root)"
                : "nfnetlink_queue (the kernel answered "
                    + Errors.name(e.errno())
                    + "; modprobe nfnetlink_queue)");
      } finally {
        ch.close();
      }
    } catch (ErrnoException e) {
      cause = e;
      missing.add(
          Errors.isPermission(e.errno())
              ? "CAP_NET_ADMIN (to open NETLINK_NETFILTER sockets)"
              : "nfnetlink (NETLINK_NETFILTER sockets: " + Errors.name(e.errno()) + ")");
    }
    try {
      RawSender.open(false).close();
    } catch (ErrnoException e) {
      cause = cause == null ? e : cause;
      missing.add(
          Errors.isPermission(e.errno())
              ? "CAP_NET_RAW (to open raw IP sockets; run as root)"
              : "raw IP sockets (" + Errors.name(e.errno()) + ")");
    }
    if (Iptables.detect(null).isEmpty()) {
      missing.add("iptables (install the iptables package)");
    }
    if (Shell.which("nsenter").isEmpty()) {
      missing.add("nsenter (install util-linux)");
    }
    if (missing.isEmpty()) {
      return Availability.ok();
    }
    return Availability.unavailable("missing " + String.join(", ", missing), cause);
  }
}
