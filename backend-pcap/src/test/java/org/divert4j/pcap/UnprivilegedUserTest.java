package org.divert4j.pcap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.time.Duration;
import java.util.Map;
import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.linux.testbed.UnprivilegedJava;
import org.junit.jupiter.api.Test;

/**
 * The pcap backend as a real unprivileged user (a child JVM as {@code nobody} without capabilities,
 * in a namespace made here): a live (inline) host fails with a PermissionException naming
 * CAP_NET_RAW, what libpcap's {@code PF_PACKET} socket needs; a savefile replay, which needs no
 * privilege, opens. Root (and libpcap) only.
 */
class UnprivilegedUserTest {

  @Test
  void liveCaptureNamesCapNetRawAndReplayNeedsNothing() throws Exception {
    String why = UnprivilegedJava.unavailableReason();
    if (why == null && !new PcapProvider().availability().available()) {
      why = "pcap unavailable: " + new PcapProvider().availability().reason();
    }
    if (why != null) {
      System.out.println("pcap unprivileged-user test skipped: " + why);
    }
    String reason = why;
    assumeTrue(reason == null, () -> "skipped: " + reason);
    try (Netns ns = Netns.create(Netns.uniqueName("unpriv"));
        UnprivilegedJava child = UnprivilegedJava.prepare(System.getProperty("java.class.path"))) {
      ns.ip("link", "add", "d4jout", "type", "veth", "peer", "name", "d4jin");
      ns.ip("link", "set", "d4jout", "up");
      ns.ip("link", "set", "d4jin", "up");
      Shell.Result r =
          child.run(
              ns, Duration.ofSeconds(120), UnprivilegedChild.class.getName(), "d4jout", "d4jin");
      System.out.println("unprivileged child (" + UnprivilegedJava.USER + "): " + r.stdout());
      assertEquals(0, r.exitCode(), r.describe());
      Map<String, String> ops = UnprivilegedJava.outcomes(r.stdout());
      assertTrue(
          ops.get("open-inline").startsWith("PermissionException missing=[CAP_NET_RAW]"),
          ops.get("open-inline"));
      assertEquals("OK read 1 written 1", ops.get("open-replay"), "a replay needs no privilege");
      assertTrue(
          ops.get("availability").contains("capturing is not permitted"), ops.get("availability"));
    }
  }
}
