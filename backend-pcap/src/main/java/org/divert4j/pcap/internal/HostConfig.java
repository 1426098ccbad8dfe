package org.divert4j.pcap.internal;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.DivertException;
import org.divert4j.HostOptions;
import org.divert4j.IpFamily;
import org.divert4j.IpPrefix;
import org.divert4j.Ipv4;

/**
 * The {@code pcap.*} host properties, parsed and checked. The names and their meaning are
 * documented on {@code org.divert4j.pcap.PcapProvider}. Immutable.
 */
public final class HostConfig {
  public static final String OUTSIDE = "pcap.outside";
  public static final String INSIDE = "pcap.inside";
  public static final String NETNS = "pcap.netns";
  public static final String ADDRESS = "pcap.address";
  public static final String ROUTES = "pcap.routes";
  public static final String BUFFER = "pcap.bufferSize";
  public static final String HANDOFF = "pcap.handoffSize";
  public static final String OFFLOADS = "pcap.offloads";
  static final String INPUT = "pcap.input";
  static final String OUTPUT = "pcap.output";
  static final String LOCAL = "pcap.local";
  static final String MTU = "pcap.mtu";
  static final String START = "pcap.start";
  static final String CLOSE_ON_END = "pcap.closeOnEnd";

  /** When a replay starts. */
  enum Start {
    /** At the first bind on the host (default). */
    BIND,
    /** As soon as the host is open. */
    OPEN,
    /** Only when the program calls {@code PcapReplay.start()}. */
    MANUAL
  }

  final String outside;
  final String inside;
  final String netns;
  final int address;
  final int prefixLength;

  /** The host's IPv6 addresses from {@code pcap.address}, in the order given. */
  final List<IpPrefix> addresses6;

  final int[][] routes;
  final IpPrefix[] routes6;
  final int bufferBytes;
  final int handoffBytes;
  final Path input;
  final Path output;
  final int[][] local;
  final IpPrefix[] local6;
  final int mtu;
  final Start start;
  final boolean closeOnEnd;
  final Offloads.Mode offloads;

  private HostConfig(HostOptions o) throws DivertException {
    outside = o.property(OUTSIDE, null);
    inside = o.property(INSIDE, null);
    netns = o.property(NETNS, null);
    String a = o.property(ADDRESS, "0.0.0.0/0");
    int[][] four = prefixes(ADDRESS, a);
    if (four.length > 1) {
      throw bad(ADDRESS, a, "at most one IPv4 address (and any IPv6 ones)");
    }
    address = four.length == 0 ? 0 : four[0][0];
    prefixLength = four.length == 0 ? 0 : four[0][1];
    addresses6 = List.of(prefixes6(ADDRESS, a));
    String r = o.property(ROUTES, "0.0.0.0/0,::/0");
    routes = prefixes(ROUTES, r);
    routes6 = prefixes6(ROUTES, r);
    bufferBytes = size(BUFFER, o.property(BUFFER, "33554432"), 1 << 16);
    handoffBytes = size(HANDOFF, o.property(HANDOFF, "8388608"), 1 << 18);
    String in = o.property(INPUT, null);
    String out = o.property(OUTPUT, null);
    input = in == null ? null : Path.of(in);
    output = out == null ? null : Path.of(out);
    local = prefixes(LOCAL, o.property(LOCAL, ""));
    local6 = prefixes6(LOCAL, o.property(LOCAL, ""));
    mtu = size(MTU, o.property(MTU, "65535"), 68);
    if (mtu > 65535) {
      throw bad(MTU, o.property(MTU, ""), "at most 65535");
    }
    try {
      start = Start.valueOf(o.property(START, "bind").toUpperCase(java.util.Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw bad(START, o.property(START, ""), "bind, open or manual");
    }
    String c = o.property(CLOSE_ON_END, "false");
    if (!c.equals("true") && !c.equals("false")) {
      throw bad(CLOSE_ON_END, c, "true or false");
    }
    closeOnEnd = c.equals("true");
    String off = o.property(OFFLOADS, "disable");
    offloads =
        switch (off) {
          case "disable" -> Offloads.Mode.DISABLE;
          case "refuse" -> Offloads.Mode.REFUSE;
          default -> throw bad(OFFLOADS, off, "disable or refuse");
        };
  }

  /**
   * @param o host options
   * @return the parsed properties
   * @throws DivertException naming the property whose value is bad, or if neither mode is set
   */
  public static HostConfig parse(HostOptions o) throws DivertException {
    HostConfig c = new HostConfig(o);
    if (c.input == null && (c.outside == null || c.inside == null)) {
      throw new DivertException(
          "the pcap backend needs host properties: "
              + OUTSIDE
              + " and "
              + INSIDE
              + " (inline between two interfaces, optionally "
              + NETNS
              + "), or "
              + INPUT
              + " and "
              + OUTPUT
              + " (savefile replay)");
    }
    if (c.input != null && c.output == null) {
      throw new DivertException("a savefile replay needs " + OUTPUT + " beside " + INPUT);
    }
    if (c.input == null && c.outside.equals(c.inside)) {
      throw bad(INSIDE, c.inside, "an interface other than " + OUTSIDE);
    }
    return c;
  }

  /**
   * @return true for a savefile replay, false for an inline segment
   */
  boolean savefile() {
    return input != null;
  }

  /**
   * The host's one interface as the engine sees it: the IPv4 address of {@code pcap.address}
   * (0.0.0.0/0 when it names none) and its IPv6 addresses.
   *
   * @param name the interface name
   * @param index its index
   * @param mtu its MTU
   * @return the interface
   */
  org.divert4j.NetInterface netInterface(String name, int index, int mtu) {
    List<IpPrefix> all = new ArrayList<>();
    all.add(new IpPrefix(Ipv4.fromInt(address), prefixLength));
    all.addAll(addresses6);
    return new org.divert4j.NetInterface(name, index, all, mtu);
  }

  /**
   * @param address a host-order address
   * @return true if it is in one of the {@code pcap.local} prefixes
   */
  boolean isLocalSender(int address) {
    return matches(local, address);
  }

  /**
   * @param p a buffer holding an IPv6 address
   * @param at its first of 16 bytes
   * @return true if it is in one of the IPv6 {@code pcap.local} prefixes; allocates nothing
   */
  boolean isLocalSender6(java.nio.ByteBuffer p, int at) {
    return matches6(local6, p, at);
  }

  /** True if the IPv6 address at {@code at} is in one of the prefixes; allocates nothing. */
  static boolean matches6(IpPrefix[] prefixes, java.nio.ByteBuffer p, int at) {
    for (IpPrefix r : prefixes) {
      if (r.contains(p, at)) {
        return true;
      }
    }
    return false;
  }

  /**
   * @return true if {@code pcap.local} names local senders of any family
   */
  boolean hasLocal() {
    return local.length > 0 || local6.length > 0;
  }

  static boolean matches(int[][] prefixes, int address) {
    for (int[] r : prefixes) {
      int mask = r[1] == 0 ? 0 : -1 << (32 - r[1]);
      if ((address & mask) == (r[0] & mask)) {
        return true;
      }
    }
    return false;
  }

  /** The IPv4 prefixes of a comma-separated list of prefixes of either family. */
  private static int[][] prefixes(String name, String value) throws DivertException {
    List<int[]> l = new ArrayList<>();
    for (String p : value.split(",")) {
      if (!p.isBlank() && !p.contains(":")) {
        l.add(prefix(name, p.trim(), 32));
      }
    }
    return l.toArray(new int[0][]);
  }

  /** The IPv6 prefixes (those with a colon) of a comma-separated list of either family. */
  private static IpPrefix[] prefixes6(String name, String value) throws DivertException {
    List<IpPrefix> l = new ArrayList<>();
    for (String p : value.split(",")) {
      if (!p.isBlank() && p.contains(":")) {
        IpPrefix x;
        try {
          x = IpPrefix.parse(p.trim());
        } catch (RuntimeException e) {
          x = null;
        }
        if (x == null || x.family() != IpFamily.IPV6) {
          throw bad(
              name, p.trim(), "an IPv6 address with an optional /prefix length, e.g. fd00::2/64");
        }
        l.add(x);
      }
    }
    return l.toArray(new IpPrefix[0]);
  }

  private static int[] prefix(String name, String value, int defaultLength) throws DivertException {
    try {
      String[] parts = value.split("/");
      if (parts.length > 2) {
        throw new IllegalArgumentException(value);
      }
      int len = parts.length == 2 ? Integer.parseInt(parts[1]) : defaultLength;
      if (len < 0 || len > 32) {
        throw new IllegalArgumentException(value);
      }
      return new int[] {Ipv4.parseInt(parts[0]), len};
    } catch (RuntimeException e) {
      throw bad(name, value, "an IPv4 address with an optional /prefix length, e.g. 10.0.0.2/24");
    }
  }

  private static int size(String name, String value, int min) throws DivertException {
    try {
      long v = Long.parseLong(value.trim());
      if (v < min || v > Integer.MAX_VALUE) {
        throw new NumberFormatException();
      }
      return (int) v;
    } catch (NumberFormatException e) {
      throw bad(name, value, "a whole number of at least " + min);
    }
  }

  private static DivertException bad(String name, String value, String expected) {
    return new DivertException(
        "bad host property " + name + "='" + value + "': expected " + expected);
  }
}
