package org.divert4j.pcap.internal;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.DivertException;
import org.divert4j.HostOptions;
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
  final int[][] routes;
  final int bufferBytes;
  final int handoffBytes;
  final Path input;
  final Path output;
  final int[][] local;
  final int mtu;
  final Start start;
  final boolean closeOnEnd;
  final Offloads.Mode offloads;

  private HostConfig(HostOptions o) throws DivertException {
    outside = o.property(OUTSIDE, null);
    inside = o.property(INSIDE, null);
    netns = o.property(NETNS, null);
    String a = o.property(ADDRESS, "0.0.0.0/0");
    int[] addr = prefix(ADDRESS, a, 32);
    address = addr[0];
    prefixLength = addr[1];
    routes = prefixes(ROUTES, o.property(ROUTES, "0.0.0.0/0"));
    bufferBytes = size(BUFFER, o.property(BUFFER, "33554432"), 1 << 16);
    handoffBytes = size(HANDOFF, o.property(HANDOFF, "8388608"), 1 << 18);
    String in = o.property(INPUT, null);
    String out = o.property(OUTPUT, null);
    input = in == null ? null : Path.of(in);
    output = out == null ? null : Path.of(out);
    local = prefixes(LOCAL, o.property(LOCAL, ""));
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
   * @param address a host-order address
   * @return true if it is in one of the {@code pcap.local} prefixes
   */
  boolean isLocalSender(int address) {
    return matches(local, address);
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

  private static int[][] prefixes(String name, String value) throws DivertException {
    List<int[]> l = new ArrayList<>();
    for (String p : value.split(",")) {
      if (!p.isBlank()) {
        l.add(prefix(name, p.trim(), 32));
      }
    }
    return l.toArray(new int[0][]);
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
