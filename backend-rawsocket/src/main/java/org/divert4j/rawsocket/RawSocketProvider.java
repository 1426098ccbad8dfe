package org.divert4j.rawsocket;

import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.divert4j.BackendUnavailableException;
import org.divert4j.Capability;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.HostOptions;
import org.divert4j.PermissionException;
import org.divert4j.spi.Availability;
import org.divert4j.spi.DivertProvider;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;

/**
 * The Linux kernel backend, {@code rawsocket}: divert rules are iptables NFQUEUE rules, divert
 * sockets are NFQUEUE queues spoken over {@code NETLINK_NETFILTER}, injection goes through a raw IP
 * socket. Needs root (CAP_NET_ADMIN and CAP_NET_RAW), iptables and nfnetlink_queue.
 *
 * <p>This class names no JNR-FFI type, so that {@link java.util.ServiceLoader} can load it even
 * when jnr-ffi is missing; the backend then reports itself unavailable. Host properties are
 * described in {@code KernelHost}: {@code rawsocket.netns}, {@code rawsocket.iptables}, {@code
 * rawsocket.batch}, {@code rawsocket.rcvbuf}.
 *
 * <p><b>Native access (JDK 24 and newer).</b> JNR-FFI's jffi loads its native library with {@code
 * System.load}, a restricted method: the JVM prints a warning on first use, and a future JDK will
 * refuse, unless native access is enabled for jffi's module (JEP 472). Start the JVM with {@code
 * --enable-native-access=ALL-UNNAMED} when the jars are on the class path, or {@code
 * --enable-native-access=org.jnrproject.jffi} on the module path (add {@code com.sun.jna} for the
 * pcap backend). JDK 16 to 23 accept the option, so one command line serves 17 and 25.
 */
public final class RawSocketProvider implements DivertProvider {
  /** The provider's name. */
  public static final String NAME = "rawsocket";

  private static final Set<Capability> CAPABILITIES = declared();

  /**
   * EXACT_INBOUND_INTERFACE needs {@code ip} and {@code tc} (iproute2), which make the injection
   * veth pair and its ingress redirect (docs/backends.md); without them an inbound injection
   * arrives on {@code lo}, and the capability is not declared.
   */
  private static Set<Capability> declared() {
    EnumSet<Capability> c =
        EnumSet.of(
            Capability.FORWARD,
            Capability.SHARED_RULES,
            Capability.MULTIPLE_INTERFACES,
            Capability.PARALLELISM,
            Capability.IPV6,
            Capability.SEGMENT_OFFLOAD,
            Capability.PACKET_MARK,
            Capability.PACKET_META,
            Capability.KERNEL_FILTER,
            Capability.FLOW_COUNT,
            Capability.SNIFF);
    try {
      if (org.divert4j.linux.Shell.which("ip").isPresent()
          && org.divert4j.linux.Shell.which("tc").isPresent()) {
        c.add(Capability.EXACT_INBOUND_INTERFACE);
      }
    } catch (LinkageError e) {
      // divert4j-linux missing: the provider still loads and reports itself unavailable
    }
    return Collections.unmodifiableSet(c);
  }

  private static volatile Availability availability;

  /** Does no work; discovery must survive missing libraries. */
  public RawSocketProvider() {}

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public String description() {
    return "Linux kernel: NFQUEUE over netlink and raw IP sockets (needs root)";
  }

  @Override
  public int priority() {
    return 100;
  }

  @Override
  public boolean autoSelectable() {
    return true;
  }

  @Override
  public Availability availability() {
    Availability a = availability;
    if (a == null) {
      synchronized (RawSocketProvider.class) {
        a = availability;
        if (a == null) {
          try {
            a = org.divert4j.rawsocket.internal.AvailabilityProbe.check();
          } catch (LinkageError e) {
            a =
                Availability.unavailable(
                    "the kernel backend cannot load its native binding (jnr-ffi missing?): " + e,
                    e);
          }
          availability = a;
        }
      }
    }
    return a;
  }

  @Override
  public Set<Capability> capabilities() {
    return CAPABILITIES;
  }

  /**
   * {@inheritDoc}
   *
   * <p>NFQUEUE configuration and iptables need CAP_NET_ADMIN, the raw injection socket CAP_NET_RAW
   * (nfnetlink checks {@code CAP_NET_ADMIN} for every message; raw(7)).
   */
  @Override
  public java.util.List<String> privileges() {
    return java.util.List.of("CAP_NET_ADMIN", "CAP_NET_RAW");
  }

  /**
   * S46: a caller without the capabilities gets a PermissionException naming them, before the
   * availability check would report the same lack as "unavailable" (the probe tries what needs
   * them, so without them it fails).
   */
  private static void requireCapabilities(String operation) throws PermissionException {
    List<String> missing;
    try {
      missing = org.divert4j.linux.Errors.missingCapabilities();
    } catch (LinkageError e) {
      return; // the availability check reports the missing binding
    }
    if (!missing.isEmpty()) {
      throw new PermissionException(operation, missing, 1, null);
    }
  }

  @Override
  public DivertHost open(HostOptions options) throws DivertException {
    requireCapabilities("open a divert host on rawsocket");
    Availability a = availability();
    if (!a.available()) {
      throw new BackendUnavailableException("rawsocket: " + a.reason(), a.cause());
    }
    try {
      return org.divert4j.rawsocket.internal.KernelHost.open(NAME, CAPABILITIES, options);
    } catch (LinkageError e) {
      throw new BackendUnavailableException("rawsocket cannot load its native binding: " + e, e);
    }
  }

  @Override
  public TestBed testBed(TestBedOptions options) throws DivertException {
    requireCapabilities("open a test bed on rawsocket");
    Availability a = availability();
    if (!a.available()) {
      throw new BackendUnavailableException("rawsocket: " + a.reason(), a.cause());
    }
    return org.divert4j.rawsocket.testbed.KernelTestBed.open(NAME, CAPABILITIES, options);
  }
}
