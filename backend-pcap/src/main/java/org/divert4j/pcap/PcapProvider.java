package org.divert4j.pcap;

import java.util.Set;
import org.divert4j.BackendUnavailableException;
import org.divert4j.Capability;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.HostOptions;
import org.divert4j.spi.Availability;
import org.divert4j.spi.DivertProvider;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;

/**
 * The pcap backend, provider {@code pcap}: divert sockets over libpcap (through pcap4j), in two
 * modes chosen by host properties.
 *
 * <p><b>Inline</b> ({@value #OUTSIDE} and {@value #INSIDE}): libpcap can only copy packets, so the
 * backend stands inline between two interfaces, like an inline IPS in AF_PACKET bridge mode. It
 * captures on both, runs the shared user-space divert stack, and transmits what passes on the other
 * interface. Frames from outside to inside traverse the input chain (inbound), frames from inside
 * to outside the output chain (outbound): the divert host is whatever sits on the inside. The
 * kernel must not forward between the two interfaces itself (no IP forwarding, no bridge, in their
 * namespace). IPv4 and IPv6 packets go through the rules; ARP and anything that is neither a
 * well-formed IPv4 nor IPv6 packet passes untouched, and so does an IPv6 packet that no rule
 * diverts (neighbour discovery included: its frame is forwarded as it came). Offloads that hand the
 * capture partial checksums or frames larger than the MTU (receive aggregation on the two
 * interfaces; checksum and segmentation offload on the other end of a veth) are dealt with at open,
 * as {@value #OFFLOADS} says. The segment carries traffic only while its host is open.
 *
 * <ul>
 *   <li>{@value #OUTSIDE}, {@value #INSIDE}: the interface names.
 *   <li>{@value #NETNS}: the network namespace they live in (an {@code ip netns} name or a path
 *       such as {@code /proc/PID/ns/net}); default: the JVM's.
 *   <li>{@value #ADDRESS}: the inside host's addresses and prefixes, comma-separated: at most one
 *       IPv4 address and any IPv6 ones, e.g. {@code 10.0.0.2/24,fd00::2/64,fe80::2/64}. The IPv4
 *       one is the "first IPv4 address" of the host's one interface, named after the outside
 *       interface: inbound packets carry it in their divert address (S6), and {@code
 *       DivertAddress.inbound(it)} injects toward the host (S33); the IPv6 ones are that
 *       interface's IPv6 addresses (S55, S60: global first, link-local last). Default 0.0.0.0:
 *       inbound addresses then carry 0.0.0.0 and inbound injection needs the received address.
 *   <li>{@value #ROUTES}: comma-separated prefixes of either family the host reaches through the
 *       outside (the destinations outbound injection accepts, S49); default {@code 0.0.0.0/0,::/0}.
 *       IPv6 multicast and link-local destinations leave by the outside.
 *   <li>{@value #BUFFER_SIZE}: libpcap's kernel buffer per interface, bytes (default 32 MiB);
 *       {@value #HANDOFF_SIZE}: the capture-to-engine handoff per interface, bytes (default 8 MiB).
 *       Packets lost in either are counted as {@code DropReason.CAPTURE}; frames that cannot be
 *       sent (larger than the egress MTU, a failed {@code pcap_inject}) as {@code
 *       DropReason.TRANSMIT}, in host statistics.
 *   <li>{@value #OFFLOADS}: {@code disable} (default) turns the offending offload features off
 *       while the host is open and back on at close, or at the next open after a crash; {@code
 *       refuse} fails the open with one line naming each interface, feature and the {@code ethtool
 *       -K} command that turns it off.
 * </ul>
 *
 * <p><b>Savefile replay</b> ({@value #INPUT} and {@value #OUTPUT}): the packets of a capture (pcap
 * or pcapng; Ethernet, raw IP or Linux cooked; IPv4 and IPv6, mixed as captured) go through the
 * rules and the program, and what passes is written to a pcap file with the input's link type and
 * timestamps, ready for Wireshark. The host has one interface, {@code pcap0}. See {@link
 * PcapReplay} for how a program drives a replay, and:
 *
 * <ul>
 *   <li>{@value #LOCAL}: comma-separated prefixes of local senders, either family: their packets
 *       take the output chain (outbound); all others take the input chain. Default: none; then a
 *       Linux cooked capture's packet type decides (outgoing is outbound), and other captures are
 *       all inbound.
 *   <li>{@value #ADDRESS}: the address of {@code pcap0} (as above).
 *   <li>{@value #MTU}: the MTU of {@code pcap0}, default 65535 (no limit beyond S31).
 *   <li>{@value #START}: {@code bind} (default: the replay starts when the first socket is bound),
 *       {@code open} (at once), or {@code manual} ({@link PcapReplay#start()}).
 *   <li>{@value #CLOSE_ON_END}: {@code true} to close the host when the replay has finished, so
 *       that a receive loop ends with {@code DivertClosedException}.
 * </ul>
 *
 * <p>Availability: libpcap loads, and a capture on {@code lo} opens (root or CAP_NET_RAW). A
 * savefile replay needs only the library; {@link #open(HostOptions)} allows it without capture
 * privileges. Priority {@value #PRIORITY}, below the kernel backend's.
 *
 * <p><b>Native access (JDK 24 and newer).</b> JNA, under pcap4j, loads its native library with
 * {@code System.load}, a restricted method: the JVM prints a warning on first use, and a future JDK
 * will refuse, unless native access is enabled for JNA's module (JEP 472). Start the JVM with
 * {@code --enable-native-access=ALL-UNNAMED} when the jars are on the class path, or {@code
 * --enable-native-access=com.sun.jna} on the module path (add {@code org.jnrproject.jffi} for the
 * kernel backend). JDK 16 to 23 accept the option, so one command line serves 17 and 25.
 *
 * <p>This class touches no pcap4j or JNA class: without them it loads and reports itself
 * unavailable. Thread-safe.
 */
public final class PcapProvider implements DivertProvider {
  /** The provider's name. */
  public static final String NAME = "pcap";

  /** The selection priority: below the kernel backend (rawsocket, 100). */
  public static final int PRIORITY = 50;

  /** Host property: the outside interface of an inline segment. */
  public static final String OUTSIDE = "pcap.outside";

  /** Host property: the inside interface of an inline segment. */
  public static final String INSIDE = "pcap.inside";

  /** Host property: the network namespace of the interfaces. */
  public static final String NETNS = "pcap.netns";

  /** Host property: the host's address (and prefix) on its one interface. */
  public static final String ADDRESS = "pcap.address";

  /** Host property: prefixes reachable through the outside interface. */
  public static final String ROUTES = "pcap.routes";

  /** Host property: libpcap's buffer size per interface, bytes. */
  public static final String BUFFER_SIZE = "pcap.bufferSize";

  /** Host property: the capture handoff size per interface, bytes. */
  public static final String HANDOFF_SIZE = "pcap.handoffSize";

  /** Host property: what to do about offloads: {@code disable} (default) or {@code refuse}. */
  public static final String OFFLOADS = "pcap.offloads";

  /** Host property: the capture to replay. */
  public static final String INPUT = "pcap.input";

  /** Host property: the capture to write. */
  public static final String OUTPUT = "pcap.output";

  /** Host property: prefixes of local senders in a replay. */
  public static final String LOCAL = "pcap.local";

  /** Host property: the MTU of a replay's interface. */
  public static final String MTU = "pcap.mtu";

  /** Host property: when a replay starts: {@code bind}, {@code open} or {@code manual}. */
  public static final String START = "pcap.start";

  /** Host property: {@code true} to close the host when its replay has finished. */
  public static final String CLOSE_ON_END = "pcap.closeOnEnd";

  private static final String PCAP_MISSING =
      "pcap4j, JNA or libpcap is missing (install libpcap0.8; put pcap4j-core and jna on the"
          + " class path): ";

  /** Does no work; used by {@link java.util.ServiceLoader}. */
  public PcapProvider() {}

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public String description() {
    return "libpcap via pcap4j: inline between two interfaces, or replaying a capture file";
  }

  @Override
  public int priority() {
    return PRIORITY;
  }

  @Override
  public boolean autoSelectable() {
    return true;
  }

  @Override
  public Availability availability() {
    try {
      return org.divert4j.pcap.internal.PcapBackend.availability();
    } catch (LinkageError e) {
      return Availability.unavailable(PCAP_MISSING + e, e);
    }
  }

  /**
   * @return CAP_NET_RAW, which live capture and injection with libpcap need (S46)
   */
  @Override
  public java.util.List<String> privileges() {
    return java.util.List.of("CAP_NET_RAW");
  }

  @Override
  public Set<Capability> capabilities() {
    // an EnumSet: its order is the enum's, the same in every JVM (Set.of's is not)
    return java.util.Collections.unmodifiableSet(
        java.util.EnumSet.of(
            Capability.EXACT_INBOUND_INTERFACE,
            Capability.WHOLE_LOCAL_OUTPUT,
            Capability.IPV6,
            Capability.INTACT_ATOMIC_FRAGMENTS,
            Capability.TRUNCATED_CHAINS_CONTINUE,
            Capability.IPV6_REASSEMBLY_COUNTERS,
            Capability.PACKET_META,
            Capability.SNIFF,
            Capability.FLOW_COUNT));
  }

  @Override
  public DivertHost open(HostOptions options) throws DivertException {
    try {
      return org.divert4j.pcap.internal.PcapBackend.open(options);
    } catch (LinkageError e) {
      throw new BackendUnavailableException(PCAP_MISSING + e, e);
    }
  }

  @Override
  public TestBed testBed(TestBedOptions options) throws DivertException {
    try {
      return org.divert4j.pcap.internal.PcapBackend.testBed(options);
    } catch (LinkageError e) {
      throw new BackendUnavailableException(PCAP_MISSING + e, e);
    }
  }

  @Override
  public String toString() {
    return "divert provider " + NAME;
  }
}
