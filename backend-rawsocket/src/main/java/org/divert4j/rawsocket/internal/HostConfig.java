package org.divert4j.rawsocket.internal;

import java.nio.file.Files;
import java.nio.file.Path;
import org.divert4j.DivertException;
import org.divert4j.HostOptions;

/**
 * The kernel backend's host properties ({@code rawsocket.*} in {@link HostOptions#property}),
 * parsed and checked once when a host opens:
 *
 * <ul>
 *   <li>{@code rawsocket.netns}: the network namespace, a name under {@code /var/run/netns} or a
 *       path such as {@code /proc/PID/ns/net}; absent for the caller's;
 *   <li>{@code rawsocket.iptables}: {@code nft} or {@code legacy}; absent to detect;
 *   <li>{@code rawsocket.batch}: the recvmmsg batch size, 1..1024, default 32;
 *   <li>{@code rawsocket.rcvbuf}: the netlink receive buffer, 64 KiB..1 GiB, default 8 MiB;
 *   <li>{@code rawsocket.markMask}: the bits of the packet mark the backend keeps its state in, one
 *       run of 9 to 12 bits, hexadecimal ({@code 0x...}) or decimal, default {@link
 *       Marks#DEFAULT_MASK} (S74; the same for every host of a namespace);
 *   <li>{@code rawsocket.markOverlap}: {@code refuse} (default) fails the open if another rule of
 *       the namespace sets or matches a bit inside the mask, naming the rule; {@code proceed} opens
 *       anyway (S74).
 * </ul>
 *
 * @param netns the namespace as given, or null
 * @param nsPath its path, or null for the caller's namespace
 * @param iptables the iptables flavour asked for, or null
 * @param batch the receive batch size
 * @param rcvbuf the receive buffer size
 * @param marks the mark layout
 * @param overlapProceed true to open although other rules use bits of the mask
 */
record HostConfig(
    String netns,
    String nsPath,
    String iptables,
    int batch,
    int rcvbuf,
    Marks marks,
    boolean overlapProceed) {
  /**
   * @param o the host options
   * @return the properties
   * @throws IllegalArgumentException naming the property whose value is out of range
   * @throws DivertException if the namespace does not exist
   */
  static HostConfig of(HostOptions o) throws DivertException {
    String netns = o.property("rawsocket.netns", null);
    return new HostConfig(
        netns,
        resolveNetns(netns),
        o.property("rawsocket.iptables", null),
        intProperty(o, "rawsocket.batch", 32, 1, 1024),
        intProperty(o, "rawsocket.rcvbuf", 8 << 20, 65536, 1 << 30),
        Marks.parse(o.property("rawsocket.markMask", RuleText.hex(Marks.DEFAULT_MASK))),
        overlap(o.property("rawsocket.markOverlap", "refuse")));
  }

  private static boolean overlap(String v) {
    return switch (v.trim()) {
      case "refuse" -> false;
      case "proceed" -> true;
      default ->
          throw new IllegalArgumentException(
              "rawsocket.markOverlap must be refuse or proceed: " + v);
    };
  }

  /**
   * @return a short name of the namespace for messages and thread names
   */
  String label() {
    return netns == null ? "current" : netns;
  }

  /**
   * @param netns a namespace name (under {@code /var/run/netns}), a path, or null or blank for the
   *     caller's
   * @return its path, or null for the caller's
   * @throws DivertException if it does not exist
   */
  static String resolveNetns(String netns) throws DivertException {
    if (netns == null || netns.isBlank()) {
      return null;
    }
    String nsPath = netns.startsWith("/") ? netns : "/var/run/netns/" + netns;
    if (!Files.exists(Path.of(nsPath))) {
      throw new DivertException(
          "network namespace '" + netns + "' does not exist (no " + nsPath + ")");
    }
    return nsPath;
  }

  private static int intProperty(HostOptions o, String key, int dflt, int min, int max) {
    String v = o.property(key, null);
    if (v == null) {
      return dflt;
    }
    try {
      int i = Integer.parseInt(v.trim());
      if (i >= min && i <= max) {
        return i;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException(
        key + " must be a number from " + min + " to " + max + ": " + v);
  }
}
