package org.divert4j.rawsocket.internal;

import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import org.divert4j.DivertException;
import org.divert4j.HostOptions;
import org.divert4j.linux.NetnsThread;

/**
 * The IPv4 reassembly limits of a host's namespace, which the kernel reassembles with in
 * ALWAYS_DEFRAGMENT mode: {@code net.ipv4.ipfrag_time} (seconds), {@code ipfrag_high_thresh} and
 * {@code ipfrag_low_thresh} (bytes), all per network namespace (net/ipv4/ip_fragment.c, {@code
 * ip4_frags_ns_ctl_table}). An ALWAYS_DEFRAGMENT host sets them from its options {@link
 * HostOptions#reassemblyTimeout()} and {@link HostOptions#reassemblyMemory()} (S24): the timeout
 * rounded up to whole seconds (the sysctl's unit, at least 1), the memory at least 64 KiB, the low
 * mark three quarters of it.
 *
 * <p>The values they replaced are kept in the namespace's firewall, in a marker line of divert4j's
 * defragmentation chain ({@code divert4j:limits:0:<time>/<high>/<low>}, owned by no process, so no
 * dead-owner cleanup removes it), under the same lock as the rules. Whoever finds the marker with
 * no defragmentation enabler left (the last ALWAYS_DEFRAGMENT host closing, or after a crash the
 * next host or {@code divert rules cleanup}) writes them back and removes it (S51). Hosts that
 * share a namespace must ask for the same limits: a host whose limits differ from those another
 * running host set is refused, naming that host.
 *
 * <p>IPv6 is the same with other files: nf_defrag_ipv6 does not reassemble with the stack's {@code
 * net.ipv6.ip6frag_*} but with its own per-namespace queue directory and sysctls, {@code
 * net.netfilter.nf_conntrack_frag6_timeout}, {@code _high_thresh} and {@code _low_thresh}
 * (net/ipv6/netfilter/nf_conntrack_reasm.c, {@code nf_ct_frag6_sysctl_register}); their marker
 * lives in the ip6tables defragmentation chain.
 */
final class ReassemblyLimits {
  private static final String MARKER_HOST = "limits";

  /** The sysctl files of one family's reassembly. */
  enum Kind {
    IPV4(
        "/proc/sys/net/ipv4/ipfrag_time",
        "/proc/sys/net/ipv4/ipfrag_high_thresh",
        "/proc/sys/net/ipv4/ipfrag_low_thresh",
        "ipfrag_time=%d ipfrag_high_thresh=%d ipfrag_low_thresh=%d"),
    IPV6(
        "/proc/sys/net/netfilter/nf_conntrack_frag6_timeout",
        "/proc/sys/net/netfilter/nf_conntrack_frag6_high_thresh",
        "/proc/sys/net/netfilter/nf_conntrack_frag6_low_thresh",
        "nf_conntrack_frag6_timeout=%d nf_conntrack_frag6_high_thresh=%d"
            + " nf_conntrack_frag6_low_thresh=%d");

    final String time;
    final String high;
    final String low;
    final String format;

    Kind(String time, String high, String low, String format) {
      this.time = time;
      this.high = high;
      this.low = low;
      this.format = format;
    }

    String describe(Values v) {
      return String.format(java.util.Locale.ROOT, format, v.time(), v.high(), v.low());
    }
  }

  /**
   * Limits as the kernel holds them.
   *
   * @param time seconds
   * @param high bytes
   * @param low bytes
   */
  record Values(long time, long high, long low) {
    String encode() {
      return time + "/" + high + "/" + low;
    }

    static Values decode(String s) {
      String[] f = s.split("/");
      return new Values(Long.parseLong(f[0]), Long.parseLong(f[1]), Long.parseLong(f[2]));
    }

    @Override
    public String toString() {
      return "ipfrag_time=" + time + " ipfrag_high_thresh=" + high + " ipfrag_low_thresh=" + low;
    }
  }

  private ReassemblyLimits() {}

  /**
   * @param o host options
   * @return the limits they ask for, at the kernel's resolution
   */
  static Values wanted(HostOptions o) {
    long secs = Math.max(1, (o.reassemblyTimeout().toMillis() + 999) / 1000);
    long high = Math.max(65536, o.reassemblyMemory());
    return new Values(secs, high, high * 3 / 4);
  }

  /** Reads the namespace's IPv4 limits (on its thread, where /proc/sys/net shows it). */
  static Values read(NetnsThread ns) throws DivertException {
    return read(ns, Kind.IPV4);
  }

  /** Reads the namespace's limits of one family (on its thread). */
  static Values read(NetnsThread ns, Kind k) throws DivertException {
    return ns.call(() -> new Values(number(k.time), number(k.high), number(k.low)));
  }

  /**
   * Reads a sysctl in one read(2) from offset 0: a sysctl file answers a read at a later offset
   * with end of file (kernel/sysctl.c, {@code __do_proc_doulongvec_minmax}), so readers that start
   * with a one-byte read (as {@code Files.readString} does on a file whose size is 0) see only the
   * first digit.
   */
  private static long number(String file) throws IOException {
    try (InputStream in = new FileInputStream(file)) {
      byte[] b = new byte[64];
      int n = in.read(b);
      return Long.parseLong(new String(b, 0, Math.max(n, 0), StandardCharsets.US_ASCII).trim());
    }
  }

  /** Writes limits; low never exceeds high on any write, which the kernel checks every time. */
  static void write(NetnsThread ns, Values v) throws DivertException {
    write(ns, v, Kind.IPV4);
  }

  static void write(NetnsThread ns, Values v, Kind k) throws DivertException {
    ns.call(
        () -> {
          set(k.time, v.time());
          if (v.high() < number(k.high)) {
            set(k.low, v.low());
            set(k.high, v.high());
          } else {
            set(k.high, v.high());
            set(k.low, v.low());
          }
          return null;
        });
  }

  private static void set(String file, long value) throws IOException {
    try {
      try (OutputStream out = new FileOutputStream(file)) {
        out.write((value + "\n").getBytes(StandardCharsets.US_ASCII)); // one write(2)
      }
    } catch (IOException e) {
      throw new IOException("cannot write " + value + " to " + file + ": " + e.getMessage(), e);
    }
  }

  private static boolean isMarker(RuleLine l) {
    String[] o = RuleOwners.owner(l.comment());
    return o != null && o[1].equals(MARKER_HOST);
  }

  /**
   * Applies a host's limits within a rule change (rule lock held): called after the host's own
   * defragmentation enabler was added to {@code s}.
   *
   * @param s the namespace's state, changed in place (the marker is added when limits change)
   * @param ns the namespace's thread
   * @param host the opening host
   * @param want its limits
   * @throws DivertException if another running host set different limits, or /proc cannot be
   *     written
   */
  static void apply(RuleState s, NetnsThread ns, String host, Values want) throws DivertException {
    apply(s, ns, host, want, Kind.IPV4);
    if (s.six() != null && present(ns, Kind.IPV6)) {
      apply(s.six(), ns, host, want, Kind.IPV6);
    }
  }

  /**
   * Whether a family's sysctls exist: nf_conntrack_frag6_* appear once the nf_defrag_ipv6 module is
   * loaded (ip6tables loads it with the first {@code -m socket} rule, so a host that opens before
   * that on a machine without the module keeps the kernel's IPv6 defaults).
   */
  private static boolean present(NetnsThread ns, Kind k) throws DivertException {
    return ns.call(() -> new java.io.File(k.time).exists());
  }

  private static void apply(RuleState s, NetnsThread ns, String host, Values want, Kind k)
      throws DivertException {
    Values now = read(ns, k);
    if (now.equals(want)) {
      return;
    }
    RuleLine marker = null;
    String other = null;
    for (RuleLine l : s.defrag()) {
      String[] o = RuleOwners.owner(l.comment());
      if (isMarker(l)) {
        marker = l;
      } else if (o != null && !o[1].equals(host) && !ConntrackAcct.isMarker(l)) {
        other = o[1] + " (pid " + o[2] + ")";
      }
    }
    if (other != null) {
      throw new DivertException(
          "the reassembly limits of this network namespace are "
              + k.describe(now)
              + " and divert host "
              + other
              + " is open in ALWAYS_DEFRAGMENT mode with them; this host asks for "
              + k.describe(want)
              + ". Hosts in one namespace share these limits: open it with the same"
              + " reassemblyTimeout and reassemblyMemory, or close the other host first.");
    }
    if (marker == null) {
      s.defrag().add(markerLine(now));
    }
    write(ns, want, k);
  }

  private static RuleLine markerLine(Values previous) {
    String comment = RuleText.comment(MARKER_HOST, 0, previous.encode());
    return RuleSet.markerLine(comment);
  }

  /**
   * Writes the saved limits back and removes the marker when no defragmentation enabler is left
   * (rule lock held, after the caller removed what it owns or what dead owners left).
   *
   * @param s the namespace's state, changed in place
   * @param ns the namespace's thread
   * @return a description of what was restored, or null if nothing was
   * @throws DivertException if /proc cannot be written
   */
  static String settle(RuleState s, NetnsThread ns) throws DivertException {
    String r4 = settle(s, ns, Kind.IPV4);
    String r6 = s.six() == null ? null : settle(s.six(), ns, Kind.IPV6);
    return r4 == null ? r6 : r6 == null ? r4 : r4 + "; " + r6;
  }

  private static String settle(RuleState s, NetnsThread ns, Kind k) throws DivertException {
    RuleLine marker = null;
    for (RuleLine l : s.defrag()) {
      if (isMarker(l)) {
        marker = l;
      } else if (!ConntrackAcct.isMarker(l)) {
        return null; // a host still needs the kernel's reassembly with the current limits
      }
    }
    if (marker == null) {
      return null;
    }
    Values saved = Values.decode(RuleOwners.owner(marker.comment())[3]);
    write(ns, saved, k);
    for (Iterator<RuleLine> i = s.defrag().iterator(); i.hasNext(); ) {
      if (isMarker(i.next())) {
        i.remove();
      }
    }
    return "reassembly limits restored to " + k.describe(saved);
  }
}
