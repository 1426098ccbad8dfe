package org.divert4j.pcap.internal;

import java.util.concurrent.atomic.AtomicInteger;
import org.divert4j.BackendUnavailableException;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.HostOptions;
import org.divert4j.PermissionException;
import org.divert4j.spi.Availability;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;

/**
 * The pcap backend behind {@code org.divert4j.pcap.PcapProvider}, which calls it only after
 * catching {@link LinkageError}s: everything that needs pcap4j, JNA or libpcap starts here.
 * Thread-safe.
 */
public final class PcapBackend {
  /** The provider's name. */
  public static final String NAME = "pcap";

  /** System property: {@code default} to build test beds that keep the default offloads. */
  public static final String TESTBED_OFFLOADS = "divert4j.pcap.testbed.offloads";

  private static final AtomicInteger HOSTS = new AtomicInteger();
  private static volatile Availability availability;
  private static volatile String version;

  private PcapBackend() {}

  /**
   * Checks once, then remembers: libpcap loads, and capturing is permitted (a capture on {@code lo}
   * opens).
   *
   * @return the availability
   */
  public static Availability availability() {
    Availability a = availability;
    if (a == null) {
      synchronized (PcapBackend.class) {
        a = availability;
        if (a == null) {
          a = probe();
          availability = a;
        }
      }
    }
    return a;
  }

  private static Availability probe() {
    String v;
    try {
      v = loadLibrary();
    } catch (BackendUnavailableException e) {
      return Availability.unavailable(e.getMessage(), e.getCause());
    }
    try (CaptureHandle h = Pcap.openLive("lo", Pcap.SNAPLEN, 1 << 16, null)) {
      return Availability.ok();
    } catch (PermissionException e) {
      return Availability.unavailable(
          v
              + " is loaded, but capturing is not permitted: run as root or grant the JVM"
              + " CAP_NET_RAW (savefile replay, pcap.input, works without it; open it with"
              + " new PcapProvider().open(options))",
          e);
    } catch (DivertException | RuntimeException | LinkageError e) {
      return Availability.unavailable(
          v + " is loaded, but a test capture on lo failed: " + e.getMessage(), e);
    }
  }

  /**
   * Loads libpcap through pcap4j, once.
   *
   * @return libpcap's version string
   * @throws BackendUnavailableException if pcap4j, JNA or libpcap is missing
   */
  static String loadLibrary() throws BackendUnavailableException {
    String v = version;
    if (v != null) {
      return v;
    }
    try {
      v = Pcap.load();
    } catch (LinkageError | RuntimeException e) {
      throw new BackendUnavailableException(
          "libpcap could not be loaded (install libpcap0.8, and put pcap4j-core and JNA on the"
              + " class path): "
              + e,
          e);
    }
    version = v;
    return v;
  }

  /**
   * Opens a host: inline between {@code pcap.outside} and {@code pcap.inside}, or a replay of
   * {@code pcap.input}. The host owns what it opened and closes it.
   *
   * @param options the host options with the {@code pcap.*} properties
   * @return the host
   * @throws DivertException as {@code DivertProvider.open}
   */
  public static DivertHost open(HostOptions options) throws DivertException {
    HostConfig cfg = HostConfig.parse(options);
    loadLibrary();
    String name = hostName(cfg);
    if (cfg.savefile()) {
      SavefileReplay r = SavefileReplay.open(name, options, cfg);
      PcapHost h = r.openHost(options, true);
      r.owner(h);
      return h;
    }
    InlineSegment s = InlineSegment.open(name, options, cfg, false);
    return s.openHost(options, true);
  }

  public static String hostName(HostConfig cfg) {
    String what =
        cfg.savefile()
            ? String.valueOf(cfg.input.getFileName())
            : cfg.outside + "|" + cfg.inside + (cfg.netns == null ? "" : "@" + cfg.netns);
    return "pcap-" + HOSTS.incrementAndGet() + "-" + what;
  }

  /**
   * Builds a namespace test bed with the backend inline in the middle; with the system property
   * {@value #TESTBED_OFFLOADS}{@code =default}, the variant that keeps the veth driver's default
   * offloads ({@code PcapTestBed.createWithDefaultOffloads}), to run the TCK on it.
   *
   * @param options the test bed's options
   * @return the test bed
   * @throws DivertException as {@code DivertProvider.testBed}
   */
  public static TestBed testBed(TestBedOptions options) throws DivertException {
    Availability a = availability();
    if (!a.available()) {
      throw new BackendUnavailableException("the pcap test bed needs: " + a.reason(), a.cause());
    }
    if ("default".equals(System.getProperty(TESTBED_OFFLOADS))) {
      return org.divert4j.pcap.testbed.PcapTestBed.createWithDefaultOffloads(options);
    }
    return org.divert4j.pcap.testbed.PcapTestBed.create(options);
  }
}
