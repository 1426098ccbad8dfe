package org.divert4j.pcap;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import org.divert4j.HostOptions;
import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.linux.testbed.VethPair;
import org.divert4j.spi.Availability;
import org.divert4j.spi.DivertProvider;
import org.divert4j.tck.reliability.ConcurrencyVerification;
import org.divert4j.tck.reliability.Figures;
import org.divert4j.tck.reliability.LeakVerification;
import org.divert4j.tck.reliability.OverloadVerification;
import org.divert4j.tck.reliability.ReliabilityBackend;
import org.divert4j.tck.reliability.ShutdownVerification;
import org.divert4j.testbed.TestBed;
import org.junit.jupiter.api.Nested;

/**
 * Overload, shutdown, leaks and concurrency on the pcap backend, inline in its namespace test bed
 * (issue 8). Capture losses below the engine count as {@code CAPTURE} drops.
 */
class PcapReliabilityTest extends ReliabilityBackend {
  @Override
  protected void assumeAvailable() {
    assumeTrue(Shell.isRoot(), "the pcap test bed needs root (network namespaces)");
    Availability a = new PcapProvider().availability();
    assumeTrue(a.available(), () -> "the pcap backend is unavailable: " + a.reason());
  }

  @Override
  protected DivertProvider provider() {
    return new PcapProvider();
  }

  /** A bind or close waits for the capture to go quiet (up to 20 ms): 1,000 in CI. */
  @Override
  protected int socketCycles() {
    return Figures.pick(1000, 10_000);
  }

  /**
   * The test bed's segment belongs to the test bed, so the cycles open segments of their own on two
   * veth pairs in a namespace of their own (no addresses, IPv6 off: no traffic), with the default
   * 32 MiB capture buffers, as a program would.
   */
  @Override
  protected HostOptions hostCycleOptions(TestBed bed, List<AutoCloseable> resources)
      throws Exception {
    Netns ns = Netns.create(Netns.uniqueName("cyc"));
    resources.add(ns);
    ns.sysctl("net.ipv6.conf.all.disable_ipv6", "1");
    ns.sysctl("net.ipv6.conf.default.disable_ipv6", "1");
    VethPair.create(ns, "o0", ns, "o1", 1500);
    VethPair.create(ns, "i0", ns, "i1", 1500);
    return HostOptions.builder()
        .property(PcapProvider.NETNS, ns.name())
        .property(PcapProvider.OUTSIDE, "o0")
        .property(PcapProvider.INSIDE, "i0")
        .build();
  }

  /**
   * Each host open starts two captures with 32 MiB buffers and three threads: 100 in CI, 1,000
   * long.
   */
  @Override
  protected int hostCycles() {
    return Figures.pick(100, 1000);
  }

  @Nested
  class Overload extends OverloadVerification {
    Overload() {
      super(PcapReliabilityTest.this);
    }
  }

  @Nested
  class Shutdown extends ShutdownVerification {
    Shutdown() {
      super(PcapReliabilityTest.this);
    }
  }

  @Nested
  class Leaks extends LeakVerification {
    Leaks() {
      super(PcapReliabilityTest.this);
    }
  }

  @Nested
  class Concurrency extends ConcurrencyVerification {
    Concurrency() {
      super(PcapReliabilityTest.this);
    }
  }
}
