package org.divert4j.linux.testbed;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import org.divert4j.linux.Shell;
import org.junit.jupiter.api.Test;

/** A new namespace is listed while it lives and has its loopback up and usable (root only). */
class NetnsCreateTest {
  @Test
  void loopbackIsUp() throws IOException {
    assumeTrue(Shell.isRoot(), "namespaces need root");
    String name = Netns.uniqueName("lo");
    try (Netns ns = Netns.create(name)) {
      assertTrue(Netns.list().contains(name), "listed");
      assertTrue(Shell.check("ip", "netns", "list").contains(name), "as ip lists it");
      String lo = ns.ip("-o", "link", "show", "dev", "lo");
      assertTrue(lo.contains(",UP,LOWER_UP>"), lo);
      assertTrue(ns.ip("-o", "addr", "show", "dev", "lo").contains("inet 127.0.0.1/8"));
      assertTrue(ns.exec("ping", "-c", "1", "-W", "2", "127.0.0.1").ok(), "loopback answers");
    }
    assertFalse(Netns.list().contains(name), "no longer listed once closed");
  }
}
