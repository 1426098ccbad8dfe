package org.divert4j.rawsocket;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.divert4j.linux.testbed.UnprivilegedJava;
import org.divert4j.testbed.Datagram;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Running as a service (issue 16, docs/deploy.md): a divert program runs as a dedicated user that
 * holds only CAP_NET_ADMIN and CAP_NET_RAW, as the systemd unit in docs/deploy.md starts it, and
 * diverts and writes back real traffic. The child's own capability sets are read from /proc, so the
 * test cannot pass with a child that kept root.
 */
class ServiceUserTest {
  private static final int SINK = 47200;
  private static final int SOURCE = 46200;
  private static final int DIVERT_PORT = 4720;
  private static final int COUNT = 30;
  // CAP_NET_ADMIN is bit 12, CAP_NET_RAW bit 13 (include/uapi/linux/capability.h)
  private static final long TWO_CAPS = 1L << 12 | 1L << 13;

  @BeforeEach
  void root() {
    Root.assumeKernel();
    assumeTrue(UnprivilegedJava.available(), UnprivilegedJava.unavailableReason());
  }

  private static long capability(long pid, String set) throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (line.startsWith(set + ":")) {
        return Long.parseUnsignedLong(line.substring(set.length() + 1).strip(), 16);
      }
    }
    throw new AssertionError("no " + set + " in /proc/" + pid + "/status");
  }

  private static long uid(long pid) throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (line.startsWith("Uid:")) {
        return Long.parseLong(line.substring(4).strip().split("\\s+")[1]); // effective
      }
    }
    throw new AssertionError("no Uid in /proc/" + pid + "/status");
  }

  @Test
  void aProgramWithOnlyNetAdminAndNetRawDivertsAndWritesBack() throws Exception {
    try (TestBed bed = new RawSocketProvider().testBed(TestBedOptions.defaults());
        UnprivilegedJava java = UnprivilegedJava.prepare(System.getProperty("java.class.path"))) {
      String ns = bed.host().options().property("rawsocket.netns", null);
      assertNotNull(ns);
      UdpEndpoint sink = bed.hostNode().openUdp(SINK);
      UdpEndpoint from = bed.peer().openUdp(SOURCE);
      List<String> cmd =
          java.serviceCommand(
              "/var/run/netns/" + ns,
              List.of("net_admin", "net_raw"),
              DivertingChild.class.getName(),
              "-",
              "DROP",
              Integer.toString(SINK),
              Integer.toString(DIVERT_PORT));
      try (HostChild child = HostChild.start(cmd)) {
        assertNotNull(child.host(), "the service opened a host (see the child's lines above)");
        long pid = child.pid();
        assertTrue(uid(pid) != 0, "the service does not run as root");
        assertEquals(TWO_CAPS, capability(pid, "CapEff"), "effective: exactly the two");
        assertEquals(TWO_CAPS, capability(pid, "CapBnd"), "bounding set: exactly the two");
        for (int i = 0; i < COUNT; i++) {
          from.send(bed.hostNode().address(), SINK, ("service " + i).getBytes());
        }
        int arrived = 0;
        for (Datagram d; arrived < COUNT && (d = sink.receive(Duration.ofSeconds(2))) != null; ) {
          arrived++;
        }
        assertEquals(COUNT, arrived, "every datagram diverted and written back by the service");
        assertTrue(child.kill());
      }
      // the next open (as root here, as the restarted service would) removes what the killed
      // service left: no rule of it remains
      new RawSocketProvider()
          .open(org.divert4j.HostOptions.builder().property("rawsocket.netns", ns).build())
          .close();
      int after = 0;
      for (int i = 0; i < COUNT; i++) {
        from.send(bed.hostNode().address(), SINK, ("after " + i).getBytes());
      }
      for (Datagram d; after < COUNT && (d = sink.receive(Duration.ofSeconds(2))) != null; ) {
        after++;
      }
      assertEquals(COUNT, after, "after the cleanup traffic flows without the service");
    }
  }
}
