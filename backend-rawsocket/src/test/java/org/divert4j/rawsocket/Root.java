package org.divert4j.rawsocket;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.divert4j.linux.Shell;
import org.divert4j.spi.Availability;

/** Skips kernel tests cleanly, with the reason, when they cannot run here. */
final class Root {
  private Root() {}

  static void assumeKernel() {
    boolean root = Shell.isRoot();
    if (!root) {
      System.out.println(
          "rawsocket kernel tests: needs root (CAP_NET_ADMIN, CAP_NET_RAW): skipped");
    }
    assumeTrue(root, "needs root (CAP_NET_ADMIN, CAP_NET_RAW): skipped");
    Availability a = new RawSocketProvider().availability();
    if (!a.available()) {
      System.out.println("rawsocket kernel tests: backend unavailable: " + a.reason());
    }
    assumeTrue(a.available(), () -> "rawsocket unavailable: " + a.reason());
  }
}
