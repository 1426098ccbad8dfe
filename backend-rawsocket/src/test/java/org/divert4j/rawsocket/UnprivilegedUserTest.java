package org.divert4j.rawsocket;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.time.Duration;
import java.util.Map;
import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.linux.testbed.UnprivilegedJava;
import org.junit.jupiter.api.Test;

/**
 * Every kernel-backend operation that needs a capability fails with a PermissionException naming it
 * when run by a real unprivileged user: a child JVM as {@code nobody} with no capabilities at all
 * ({@link UnprivilegedJava}), in a namespace made here. (LifecycleTest's {@code
 * unprivilegedOpenNamesTheMissingCapabilities} drops capabilities in one thread of a root JVM; this
 * is the real thing: another user, another process.) Root only.
 */
class UnprivilegedUserTest {

  @Test
  void everyPrivilegedOperationNamesTheMissingCapability() throws Exception {
    String why = UnprivilegedJava.unavailableReason();
    if (why != null) {
      System.out.println("rawsocket unprivileged-user test skipped: " + why);
    }
    assumeTrue(why == null, () -> "skipped: " + why);
    try (Netns ns = Netns.create(Netns.uniqueName("unpriv"));
        Netns other = Netns.create(Netns.uniqueName("unpriv2"));
        UnprivilegedJava child = UnprivilegedJava.prepare(System.getProperty("java.class.path"))) {
      String before = ns.execChecked("iptables-save");
      Shell.Result r =
          child.run(ns, Duration.ofSeconds(120), UnprivilegedChild.class.getName(), other.name());
      System.out.println("unprivileged child (" + UnprivilegedJava.USER + "): " + r.stdout());
      assertEquals(0, r.exitCode(), r.describe());
      Map<String, String> ops = UnprivilegedJava.outcomes(r.stdout());
      String both = "PermissionException missing=[CAP_NET_ADMIN, CAP_NET_RAW]";
      assertTrue(ops.get("open").startsWith(both), ops.get("open"));
      for (String op :
          new String[] {
            "open-other-netns",
            "divert-open",
            "rules-list",
            "rules-add",
            "rules-remove",
            "rules-cleanup"
          }) {
        assertTrue(ops.get(op).startsWith(both), op + ": " + ops.get(op));
      }
      assertTrue(ops.get("availability").startsWith("OK"), ops.get("availability"));
      assertEquals(before, ns.execChecked("iptables-save"), "the child changed no rule");
      assertFalse(ns.execChecked("iptables-save").contains("divert4j"));
    }
  }
}
